package graph

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// eachField calls fn for every field of set, at any depth and through
// fragments, stopping at the first error fn returns. A fragment is visited
// once: its fields and arguments are the same at every spread. The checks
// made before execution (cursors, NUL bytes) walk an operation with it.
func eachField(set ast.SelectionSet, fn func(*ast.Field) *gqlerror.Error) *gqlerror.Error {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) *gqlerror.Error
	walk = func(set ast.SelectionSet) *gqlerror.Error {
		for _, sel := range set {
			var err *gqlerror.Error
			switch sel := sel.(type) {
			case *ast.Field:
				if err = fn(sel); err == nil {
					err = walk(sel.SelectionSet)
				}
			case *ast.InlineFragment:
				err = walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if sel.Definition != nil && !seen[sel.Name] {
					seen[sel.Name] = true
					err = walk(sel.Definition.SelectionSet)
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(set)
}
