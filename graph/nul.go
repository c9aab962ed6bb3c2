package graph

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// NoNUL refuses, before any resolver runs, an operation whose arguments
// (literal or from variables) hold a string with U+0000: PostgreSQL cannot
// store it in text, SQLite stores and matches it. It is the one home of that
// rule for every string argument of every operation, present and future.
type NoNUL struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = NoNUL{}

// ExtensionName implements graphql.HandlerExtension.
func (NoNUL) ExtensionName() string { return "NoNUL" }

// Validate implements graphql.HandlerExtension.
func (NoNUL) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (NoNUL) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil {
		return nil
	}
	w := nulWalker{vars: rc.Variables}
	return eachField(rc.Operation.SelectionSet, func(f *ast.Field) *gqlerror.Error {
		for _, a := range f.Arguments {
			if p := w.value(a.Value); p != "" {
				field := joinPath(a.Name, p)
				err := gqlerror.ErrorPosf(a.Position, "%s: %s", field, errs.NoNULMessage)
				err.Extensions = map[string]any{"code": string(errs.BadUserInput), "field": field}
				return err
			}
		}
		return nil
	})
}

// nulWalker finds strings with a NUL in argument values, literal or from
// the operation's variables.
type nulWalker struct{ vars map[string]any }

// value returns "." for a string with a NUL itself, the path below v to one,
// or "" when there is none.
func (w *nulWalker) value(v *ast.Value) string {
	if v == nil {
		return ""
	}
	switch v.Kind {
	case ast.Variable:
		return decoded(w.vars[v.Raw])
	case ast.StringValue, ast.BlockValue:
		if strings.ContainsRune(v.Raw, 0) {
			return "."
		}
	case ast.ListValue:
		for _, c := range v.Children {
			if p := w.value(c.Value); p != "" {
				return p
			}
		}
	case ast.ObjectValue:
		for _, c := range v.Children {
			if p := w.value(c.Value); p != "" {
				return joinPath(c.Name, p)
			}
		}
	}
	return ""
}

// decoded is value for a variable's JSON-decoded value.
func decoded(v any) string {
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return "."
		}
	case []any:
		for _, c := range v {
			if p := decoded(c); p != "" {
				return p
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) { // the first in a stable order
			if strings.ContainsRune(k, 0) {
				return "."
			}
			if p := decoded(v[k]); p != "" {
				return joinPath(k, p)
			}
		}
	}
	return ""
}

func joinPath(name, below string) string {
	if below == "." {
		return name
	}
	return name + "." + below
}
