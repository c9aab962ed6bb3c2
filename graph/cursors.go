package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/graph/scalar"
	"socdesk/internal/errs"
)

// CheckCursors refuses, before any resolver runs, an operation giving a
// connection field (at any depth: nested connections are eager-loaded by
// their parent's query) a cursor that is malformed, made for another
// ordering, or carries a value its ordering's column cannot take. Such a
// cursor would otherwise reach the database and come back as INTERNAL.
type CheckCursors struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = CheckCursors{}

// ExtensionName implements graphql.HandlerExtension.
func (CheckCursors) ExtensionName() string { return "CheckCursors" }

// Validate implements graphql.HandlerExtension.
func (CheckCursors) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (CheckCursors) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil {
		return nil
	}
	return eachField(rc.Operation.SelectionSet, func(f *ast.Field) *gqlerror.Error { return checkFieldCursors(f, rc.Variables) })
}

func checkFieldCursors(f *ast.Field, vars map[string]any) *gqlerror.Error {
	if !scalar.IsConnection(f) {
		return nil
	}
	args := f.ArgumentMap(vars)
	ordering := scalar.Ordering(f, vars)
	for _, name := range [...]string{"after", "before"} {
		v, ok := args[name]
		if !ok || v == nil {
			continue
		}
		if err := scalar.CheckCursor(v, ordering); err != nil {
			pos := f.Position
			if a := f.Arguments.ForName(name); a != nil {
				pos = a.Position
			}
			e := gqlerror.ErrorPosf(pos, "%s: %s", name, err.Error())
			e.Extensions = map[string]any{"code": string(errs.BadUserInput), "field": name}
			return e
		}
	}
	return nil
}
