package live

import (
	"context"
	"errors"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A subscription that ends early (its subscriber fell behind, the replay
// failed) must tell the client why before it completes. gqlgen completes a
// stream when its channel closes; the EndError extension gives each
// subscription a slot for the reason, and turns the end of a stream with a
// reason into one last message carrying the error.

type endSlot struct {
	mu  sync.Mutex
	err error
}

type endKey struct{}

// EndWith records why the subscription of ctx is about to end.
func EndWith(ctx context.Context, err error) {
	if s, ok := ctx.Value(endKey{}).(*endSlot); ok {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
}

func takeEnd(ctx context.Context) error {
	s, ok := ctx.Value(endKey{}).(*endSlot)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// EndError is the gqlgen extension that sends the error a subscription
// ended early with (see EndWith).
type EndError struct{}

var (
	_ graphql.OperationInterceptor = EndError{}
	_ graphql.ResponseInterceptor  = EndError{}
)

// ExtensionName implements graphql.HandlerExtension.
func (EndError) ExtensionName() string { return "LiveEndError" }

// Validate implements graphql.HandlerExtension.
func (EndError) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation gives a subscription its slot.
func (EndError) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx); op != nil && op.Operation != nil && op.Operation.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, endKey{}, &endSlot{})
	}
	return next(ctx)
}

// InterceptResponse sends the reason, if any, when a stream ends.
func (EndError) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil {
		return resp
	}
	err := takeEnd(ctx)
	if err == nil {
		return nil
	}
	graphql.AddError(ctx, err)
	out := &graphql.Response{Errors: graphql.GetErrors(ctx)}
	var re *ResumeError
	if errors.As(err, &re) {
		for _, e := range out.Errors {
			if e.Extensions == nil {
				e.Extensions = map[string]any{}
			}
			e.Extensions["cursor"] = re.Cursor
		}
	}
	return out
}
