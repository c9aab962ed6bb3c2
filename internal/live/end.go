package live

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
)

// A subscription that ends early (its subscriber fell behind, the replay
// failed) must tell the client why before it completes. gqlgen completes a
// stream when its channel closes; the Ends extension gives each
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

// Ends is the gqlgen extension that reports why a subscription ended early.
type Ends struct{}

var (
	_ graphql.OperationInterceptor = Ends{}
	_ graphql.ResponseInterceptor  = Ends{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Ends) ExtensionName() string { return "LiveEnds" }

// Validate implements graphql.HandlerExtension.
func (Ends) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation gives a subscription its slot.
func (Ends) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx); op != nil && op.Operation != nil && op.Operation.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, endKey{}, &endSlot{})
	}
	return next(ctx)
}

// InterceptResponse sends the reason, if any, when a stream ends.
func (Ends) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
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

// Coalesce sends first, then a fresh value from compute whenever dirty
// says something changed, at most once per interval, and only when it
// differs from the last one sent. The channel closes when ctx ends, or
// after failed is told of a compute error.
func Coalesce[T any](ctx context.Context, dirty <-chan struct{}, interval time.Duration, first T, compute func(context.Context) (T, error), failed func(error)) <-chan T {
	out := make(chan T, 1)
	out <- first
	go func() {
		defer close(out)
		last, sent := time.Now(), first
		for {
			select {
			case <-ctx.Done():
				return
			case <-dirty:
			}
			if wait := interval - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			v, err := compute(ctx)
			if err != nil {
				if ctx.Err() == nil {
					failed(err)
				}
				return
			}
			if reflect.DeepEqual(v, sent) {
				continue // what changed did not change this
			}
			select {
			case out <- v:
				last, sent = time.Now(), v
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Follow serves a subscription that recomputes a value (the trend) when a
// change v may see matching f passes: the value at once, then at most one
// fresh value a second.
func Follow[T any](ctx context.Context, h *Hub, v *viewer.Viewer, f *tickets.Filter, compute func(context.Context) (T, error)) (<-chan T, error) {
	// Watch first: a change that lands while the first value is computed
	// then makes a second computation, rather than being missed.
	dirty, stop, err := h.Watch(ctx, v, f)
	if err != nil {
		return nil, err
	}
	first, err := compute(ctx)
	if err != nil {
		stop()
		return nil, err
	}
	return Coalesce(ctx, dirty, time.Second, first, compute, func(err error) { EndWith(ctx, err) }), nil
}
