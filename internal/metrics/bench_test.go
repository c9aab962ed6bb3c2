package metrics_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/metrics"
)

// BenchmarkOperationMetrics is what the metrics extension adds to one
// query: its operation and response interceptors around a handler that
// does nothing.
func BenchmarkOperationMetrics(b *testing.B) {
	g := metrics.New().GraphQL()
	oc := &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Query, Name: "ListTickets"}}
	oc.Stats.OperationStart = graphql.Now()
	ctx := graphql.WithOperationContext(context.Background(), oc)
	resp := &graphql.Response{Errors: gqlerror.List{{Message: "x", Extensions: map[string]any{"code": "NOT_FOUND"}}}}
	b.ReportAllocs()
	for b.Loop() {
		h := g.InterceptOperation(ctx, func(ctx context.Context) graphql.ResponseHandler {
			return func(context.Context) *graphql.Response { return resp }
		})
		g.InterceptResponse(ctx, h)
	}
}
