package graph

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// validationRules are gqlparser's default rules with its single-field
// subscription rule replaced: gqlparser counts distinct field names, so
// `subscription { a: ticketEvents b: ticketEvents }` passed validation and
// reached an executor that cannot run it. The spec counts response keys.
func validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	r.RemoveRule(rules.SingleFieldSubscriptionsRule.Name)
	r.AddRule(singleRootSubscription.Name, singleRootSubscription.RuleFunc)
	return r
}

// singleRootSubscription: a subscription selects exactly one root field
// (counted by response key, through fragments) and no introspection field.
var singleRootSubscription = core.Rule{
	Name: "SingleRootFieldSubscriptions",
	RuleFunc: func(observers *core.Events, addError core.AddErrFunc) {
		observers.OnOperation(func(walker *core.Walker, op *ast.OperationDefinition) {
			if walker.Schema.Subscription == nil || op.Operation != ast.Subscription {
				return
			}
			name := "Anonymous Subscription"
			if op.Name != "" {
				name = "Subscription " + `"` + op.Name + `"`
			}
			keys := map[string]bool{}
			seenFrag := map[string]bool{}
			var walk func(set ast.SelectionSet)
			walk = func(set ast.SelectionSet) {
				for _, sel := range set {
					switch sel := sel.(type) {
					case *ast.Field:
						key := sel.Alias
						if key == "" {
							key = sel.Name
						}
						if strings.HasPrefix(sel.Name, "__") {
							addError(core.Message(`%s must not select an introspection top level field.`, name), core.At(sel.Position))
						}
						if !keys[key] && len(keys) == 1 {
							addError(core.Message(`%s must select only one top level field.`, name), core.At(sel.Position))
						}
						keys[key] = true
					case *ast.InlineFragment:
						walk(sel.SelectionSet)
					case *ast.FragmentSpread:
						if sel.Definition != nil && !seenFrag[sel.Name] {
							seenFrag[sel.Name] = true
							walk(sel.Definition.SelectionSet)
						}
					}
				}
			}
			walk(op.SelectionSet)
		})
	},
}
