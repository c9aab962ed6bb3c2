package live

import (
	"context"
	"reflect"
	"time"

	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
)

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
