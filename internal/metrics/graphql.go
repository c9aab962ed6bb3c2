package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"
)

// MaxOperationNames bounds the operation names the GraphQL series carry:
// names are the client's choice, so past this many distinct ones a replica
// reports further names as "other" (clients are authenticated, and a
// deployment's dashboards use a few dozen).
const MaxOperationNames = 200

// maxNameLen is the longest operation name reported as itself.
const maxNameLen = 64

// Label values of operations that have no name of their own.
const (
	anonymous = "anonymous" // a document without an operation name
	invalid   = "invalid"   // no operation could be read from the request (its type too)
	other     = "other"     // past MaxOperationNames, or too long
)

// GraphQL is the gqlgen extension counting operations: requests and their
// latency by operation name and type, and the errors answered by code.
type GraphQL struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]struct{}
}

// GraphQL registers the GraphQL series and returns the extension that feeds
// them.
func (m *Metrics) GraphQL() *GraphQL {
	g := &GraphQL{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "requests_total",
			Help: "GraphQL operations answered (subscriptions: started), by operation name and type (query, mutation, subscription, invalid).",
		}, []string{"operation", "type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "request_duration_seconds",
			Help:    "Time from reading a query or mutation to its response, by operation name and type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "errors_total",
			Help: "GraphQL errors answered, by extensions.code.",
		}, []string{"code"}),
		names: map[string]struct{}{},
	}
	m.reg.MustRegister(g.requests, g.latency, g.errors)
	return g
}

var (
	_ graphql.HandlerExtension     = (*GraphQL)(nil)
	_ graphql.OperationInterceptor = (*GraphQL)(nil)
	_ graphql.ResponseInterceptor  = (*GraphQL)(nil)
)

func (*GraphQL) ExtensionName() string                   { return "Metrics" }
func (*GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation counts a subscription when it starts (its responses
// are events, not answers).
func (g *GraphQL) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		g.requests.WithLabelValues(g.operation(oc), string(ast.Subscription)).Inc()
	}
	return next(ctx)
}

// InterceptResponse counts every response's errors, and answers to queries
// and mutations (including requests refused before execution).
func (g *GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = "UNKNOWN"
		}
		g.errors.WithLabelValues(code).Inc()
	}
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	typ := invalid
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
	}
	if typ == string(ast.Subscription) {
		return resp
	}
	name := g.operation(oc)
	g.requests.WithLabelValues(name, typ).Inc()
	if start := oc.Stats.OperationStart; !start.IsZero() {
		obs, took := g.latency.WithLabelValues(name, typ), time.Since(start).Seconds()
		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
			// A traced request's latency links to its trace (an exemplar,
			// shown by Prometheus in the OpenMetrics format).
			obs.(prometheus.ExemplarObserver).ObserveWithExemplar(took, prometheus.Labels{"trace_id": sc.TraceID().String()})
		} else {
			obs.Observe(took)
		}
	}
	return resp
}

// operation is the label of oc's operation: its name as the document says
// it, while fewer than MaxOperationNames names are known.
func (g *GraphQL) operation(oc *graphql.OperationContext) string {
	if oc.Operation == nil {
		return invalid
	}
	name := oc.Operation.Name // parsed: a GraphQL name, never arbitrary bytes
	switch {
	case name == "":
		return anonymous
	case len(name) > maxNameLen:
		return other
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.names[name]; ok {
		return name
	}
	if len(g.names) >= MaxOperationNames {
		return other
	}
	g.names[name] = struct{}{}
	return name
}
