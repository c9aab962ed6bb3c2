package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/graph/generated"
	"socdesk/internal/errs"
)

// noIntrospection refuses, before any resolver runs, an operation that asks
// for __schema or __type, on a server whose introspection is turned off
// (SOCDESK_INTROSPECTION=false): a request error FORBIDDEN, never the
// INTERNAL a missing introspection extension would give each such field.
// __typename stays: clients need it to read unions and interfaces.
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil {
		return nil
	}
	return eachField(rc.Operation.SelectionSet, func(f *ast.Field) *gqlerror.Error {
		if f.Name != "__schema" && f.Name != "__type" {
			return nil
		}
		err := gqlerror.ErrorPosf(f.Position, "introspection is turned off on this server (%s); the schema is published by its operators", f.Name)
		err.Extensions = map[string]any{"code": string(errs.Forbidden)}
		return err
	})
}

// executableSchema is the schema the handler serves, without the code
// generator's directives (codegenDirectives) and without @defer, which
// gqlgen declares but socdesk's transports do not deliver (no incremental
// responses): introspection and GET /schema.graphql then tell the same, and
// a query using @defer is refused as unknown rather than answered whole.
// The parsed schema is the generated package's own, shared: it is stripped
// once.
func executableSchema(r *Resolver) graphql.ExecutableSchema {
	es := generated.NewExecutableSchema(generated.Config{Resolvers: r})
	stripCodegen.Do(func() {
		for name := range codegenDirectives {
			delete(es.Schema().Directives, name)
		}
		delete(es.Schema().Directives, "defer")
	})
	return es
}

var stripCodegen sync.Once
