package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/graph/limits"
	"socdesk/internal/errs"
	"socdesk/internal/explanations/link"
	"socdesk/internal/viewer"
)

// RequestExtension is the request extension a client sets to true
// ({"extensions": {"rateLimit": true}}) to be told, in the response's
// extensions under the same name, what the operation cost and what is left.
// Any value but true, false or null is refused as BAD_USER_INPUT.
const RequestExtension = "rateLimit"

// Extension charges every operation to its viewer's budget before it runs.
// Install it after limits.Limits, whose Measure it charges.
type Extension struct{ Budgets *Budgets }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = Extension{}

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "RateLimit" }

// Validate implements graphql.HandlerExtension.
func (e Extension) Validate(graphql.ExecutableSchema) error {
	if e.Budgets == nil {
		return fmt.Errorf("ratelimit: Extension without Budgets")
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator:
// a request extension rateLimit that is not a boolean is refused before
// anything is parsed or charged (a client misspelling true would otherwise
// never be told why no report comes).
func (Extension) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	switch p.Extensions[RequestExtension].(type) {
	case nil, bool:
		return nil
	}
	const field = "extensions." + RequestExtension
	return &gqlerror.Error{Message: field + ": must be true or false",
		Extensions: map[string]any{"code": string(errs.BadUserInput), "field": field}}
}

// charged is what an operation was charged, kept in its Stats.
type charged struct {
	Result
	reported atomic.Bool // told to the client already (a subscription answers many times)
}

const statsKey = "RateLimit"

// Cost is the points an operation costs: the cost graph/limits measured
// (at least 1), plus MutationCost per top-level field of a mutation.
func (b *Budgets) Cost(rc *graphql.OperationContext) int {
	m, _ := limits.MeasureOf(rc)
	cost := max(m.Cost, 1)
	if rc.Operation != nil && rc.Operation.Operation == ast.Mutation {
		cost += b.s.MutationCost * max(m.RootFields, 1)
	}
	return cost
}

// MutateOperationContext implements graphql.OperationContextMutator: it
// spends the operation's cost, over HTTP and over websockets alike (a
// subscription pays once, when it starts).
func (e Extension) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil {
		return nil
	}
	var key string
	if v := viewer.FromContext(ctx); v != nil {
		key = strconv.Itoa(v.UserID)
	} else if raw, ok := link.TokenFrom(ctx); ok {
		key = link.BudgetKey(raw) // a personal link's holder: a budget per link
	} else {
		return nil // unauthenticated requests never reach the executor
	}
	res := e.Budgets.SpendKey(ctx, key, e.Budgets.Cost(rc))
	c := &charged{Result: res}
	rc.Stats.SetExtension(statsKey, c)
	if t := trackerFrom(ctx); t != nil {
		t.res.Store(&c.Result)
	}
	if res.Allowed {
		return nil
	}
	e.Budgets.refusedOne(string(rc.Operation.Operation))
	err := &gqlerror.Error{Extensions: map[string]any{"code": string(errs.RateLimited), "cost": res.Cost, "limit": res.Limit}}
	if res.RetryAfter < 0 {
		err.Message = fmt.Sprintf("rate limited: this operation costs %d points, more than the whole budget of %d per %ds",
			res.Cost, res.Limit, seconds(res.Window))
		return err
	}
	retry := seconds(res.RetryAfter)
	err.Message = fmt.Sprintf("rate limited: this operation costs %d points and %d of %d per %ds are left; retry in %ds",
		res.Cost, res.Remaining, res.Limit, seconds(res.Window), retry)
	err.Extensions["remaining"] = res.Remaining
	err.Extensions["retryAfter"] = retry
	return err
}

// InterceptResponse implements graphql.ResponseInterceptor: it reports the
// charge in the response's extensions when the request asked for it.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	rc := graphql.GetOperationContext(ctx)
	if asked, _ := rc.Extensions[RequestExtension].(bool); !asked {
		return resp
	}
	c, _ := rc.Stats.GetExtension(statsKey).(*charged)
	if c == nil || c.reported.Swap(true) {
		return resp
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions[RequestExtension] = c.report()
	return resp
}

// report is what a client is told of a charge.
func (c *charged) report() map[string]any {
	out := map[string]any{"cost": c.Cost}
	if c.Limit > 0 {
		out["limit"] = c.Limit
		out["window"] = seconds(c.Window)
		if c.Remaining >= 0 {
			out["remaining"] = c.Remaining
			out["resetAfter"] = seconds(c.ResetAfter)
		}
	}
	return out
}

// seconds rounds d up to whole seconds, as the HTTP headers give it.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
