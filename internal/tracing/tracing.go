// Package tracing is socdesk's OpenTelemetry tracing: off unless an OTLP
// endpoint is configured, it exports over OTLP/HTTP a span per HTTP request,
// per GraphQL operation and per resolver (the fields that do I/O), and the
// SQL statements run within them. The trace id is put on the request's log
// lines (package reqlog).
package tracing

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"socdesk/internal/reqlog"
)

// ServiceName is the service.name of socdesk's spans unless OTEL_SERVICE_NAME
// says otherwise.
const ServiceName = "socdesk"

var (
	mu       sync.Mutex
	provider *sdktrace.TracerProvider
)

// Enabled reports whether the settings ask for traces: an endpoint given
// to socdesk (SOCDESK_OTLP_ENDPOINT), or OpenTelemetry's own
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, unless
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
func Enabled(endpoint string, getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return endpoint != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup starts exporting traces when Enabled says so, and returns the
// function that flushes and stops the exporter (a no-op otherwise). endpoint
// is the collector's base URL (http://collector:4318; /v1/traces is
// appended when it has no path); without it the exporter reads the standard
// OTEL_EXPORTER_OTLP_* variables, which also give headers, timeout and TLS
// settings in either case. The provider is installed as OpenTelemetry's
// global one and returned by Provider.
//
// What OpenTelemetry reports of its own failures (a collector that cannot
// be reached, spans dropped) goes to log, at most once a minute, instead of
// the standard logger's plain lines in the middle of a JSON log.
func Setup(ctx context.Context, endpoint string, getenv func(string) string, log *slog.Logger) (shutdown func(context.Context) error, err error) {
	if !Enabled(endpoint, getenv) {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("SOCDESK_OTLP_ENDPOINT must be an http:// or https:// URL, not %q", endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("the OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(ServiceName)), resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("the trace resource: %w", err)
	}
	// The sampler is the SDK's default, parent-based always-on, unless
	// OTEL_TRACES_SAMPLER sets another.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(errorLog(log))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	mu.Lock()
	provider = tp
	mu.Unlock()
	return func(ctx context.Context) error {
		mu.Lock()
		if provider == tp {
			provider = nil
		}
		mu.Unlock()
		return tp.Shutdown(ctx)
	}, nil
}

// Provider is the tracer provider Setup started, or nil when tracing is
// off: the parts are then assembled without tracing at all.
func Provider() trace.TracerProvider {
	mu.Lock()
	defer mu.Unlock()
	if provider == nil {
		return nil // not a typed nil
	}
	return provider
}

// untraced are the paths of probes and scrapes, whose spans would be noise.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// HTTP gives each request its span (continuing a trace the client's
// traceparent header names), named by method and route. Websocket upgrades
// are left out: their operations have spans of their own, and a
// connection's would last for hours.
func HTTP(tp trace.TracerProvider, next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithFilter(func(r *http.Request) bool {
			// A personal page's path is its secret link: never recorded.
			return !untraced[r.URL.Path] && !strings.HasPrefix(r.URL.Path, "/explain/") &&
				!strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.URL.Path == "/graphql" {
				return r.Method + " /graphql"
			}
			return r.Method // other paths are many (static assets, 404s)
		}),
	)
}

// OpenDB opens a database/sql handle whose statements get spans, within a
// span of the caller's only: the live hub's polling outside requests makes
// none. Arguments are never recorded; statements are (they hold no values:
// ent and socdesk's own SQL bind them).
func OpenDB(tp trace.TracerProvider, driverName, dsn string) (*sql.DB, error) {
	system := semconv.DBSystemNamePostgreSQL
	if driverName == "sqlite" {
		system = semconv.DBSystemNameSQLite
	}
	return otelsql.Open(driverName, dsn,
		otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(system),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableErrSkip:       true,
			OmitConnResetSession: true,
			OmitConnPrepare:      true,
			OmitRows:             true,
			OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	)
}

// codes is the span attribute listing the error codes of a response.
var codes = attribute.Key("graphql.error.codes")

// Attributes of OpenTelemetry's GraphQL conventions, and socdesk's field.
var (
	graphqlOperationType = attribute.Key("graphql.operation.type")
	graphqlOperationName = attribute.Key("graphql.operation.name")
	graphqlField         = attribute.Key("graphql.field")
)

// errorLog is OpenTelemetry's error handler: each failure logged as a
// warning, repeats muted for a minute (an unreachable collector fails at
// every export).
func errorLog(log *slog.Logger) otel.ErrorHandler {
	mute := &reqlog.Mute{Period: time.Minute}
	return otel.ErrorHandlerFunc(func(err error) {
		if mute.Allow() {
			log.Warn("tracing: OpenTelemetry failed", "err", err, "note", mute.Note())
		}
	})
}
