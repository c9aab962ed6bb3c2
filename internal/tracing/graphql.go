package tracing

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"socdesk/internal/errs"
)

// GraphQL is the gqlgen extension giving each operation a span, named as
// OpenTelemetry's GraphQL conventions say ("query ListTickets"), and each
// resolver (a field with resolver code of its own: the ones that read or
// write) a child span. Spans carry error codes, never error messages or
// variables: those may quote the client's input.
type GraphQL struct{ tracer trace.Tracer }

// NewGraphQL returns the extension, its spans made by tp.
func NewGraphQL(tp trace.TracerProvider) *GraphQL {
	return &GraphQL{tracer: tp.Tracer("socdesk/graph")}
}

var (
	_ graphql.HandlerExtension     = (*GraphQL)(nil)
	_ graphql.OperationInterceptor = (*GraphQL)(nil)
	_ graphql.FieldInterceptor     = (*GraphQL)(nil)
)

func (*GraphQL) ExtensionName() string                   { return "Tracing" }
func (*GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation spans the operation: until its response, or for a
// subscription until its stream ends.
func (g *GraphQL) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	var typ, name string
	if oc.Operation != nil {
		typ, name = string(oc.Operation.Operation), oc.Operation.Name
	}
	spanName := typ
	if name != "" {
		spanName += " " + name
	}
	ctx, span := g.tracer.Start(ctx, spanName, trace.WithAttributes(
		graphqlOperationType.String(typ), graphqlOperationName.String(name)))
	h := next(ctx)
	var once sync.Once
	end := func() { once.Do(func() { span.End() }) }
	return func(rctx context.Context) *graphql.Response {
		resp := h(trace.ContextWithSpan(rctx, span)) // the resolvers run here, under the span
		if resp == nil {
			end()
			return nil
		}
		if len(resp.Errors) > 0 {
			span.SetStatus(otelcodes.Error, "the response has errors")
			span.SetAttributes(codes.StringSlice(errorCodes(resp.Errors)))
		}
		if typ != string(ast.Subscription) {
			end()
		}
		return resp
	}
}

// InterceptField spans the fields that run resolver code.
func (g *GraphQL) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := g.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(graphqlField.String(fc.Object+"."+fc.Field.Name)))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		code := errs.Internal
		if e, ok := errs.As(err); ok {
			code = e.Code
		}
		span.SetStatus(otelcodes.Error, string(code))
		span.SetAttributes(codes.StringSlice([]string{string(code)}))
	}
	return res, err
}

func errorCodes(list gqlerror.List) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range list {
		c, _ := e.Extensions["code"].(string)
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
