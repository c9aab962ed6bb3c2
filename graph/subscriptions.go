package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// plainHTTPKey marks the context of a GraphQL request over plain HTTP (not
// a websocket upgrade).
type plainHTTPKey struct{}

// noHTTPSubscriptions refuses a subscription over plain HTTP: gqlgen's POST
// transport would hold the request open until the first event, or forever.
type noHTTPSubscriptions struct{}

func (noHTTPSubscriptions) ExtensionName() string                   { return "NoHTTPSubscriptions" }
func (noHTTPSubscriptions) Validate(graphql.ExecutableSchema) error { return nil }

func (noHTTPSubscriptions) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Subscription || ctx.Value(plainHTTPKey{}) == nil {
		return nil
	}
	err := gqlerror.ErrorPosf(rc.Operation.Position, "subscriptions are served over websocket (graphql-transport-ws), not plain HTTP")
	err.Extensions = map[string]any{"code": string(errs.BadUserInput)}
	return err
}
