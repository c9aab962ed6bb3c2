package tracing_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"socdesk/internal/tracing"
)

// discard is an exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkOperationSpans is what tracing adds to a query with one
// resolver: the operation's span and the resolver's, handed to the batch
// processor as in production (the export itself is off the request's path).
func BenchmarkOperationSpans(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	g := tracing.NewGraphQL(tp)
	oc := &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Query, Name: "ListTickets"}}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	fc := &graphql.FieldContext{Object: "Query", Field: graphql.CollectedField{Field: &ast.Field{Name: "tickets"}}, IsResolver: true}
	resp := &graphql.Response{}
	b.ReportAllocs()
	for b.Loop() {
		h := g.InterceptOperation(ctx, func(ctx context.Context) graphql.ResponseHandler {
			return func(ctx context.Context) *graphql.Response {
				_, _ = g.InterceptField(graphql.WithFieldContext(ctx, fc), func(context.Context) (any, error) { return nil, nil })
				return resp
			}
		})
		h(ctx)
	}
}
