package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// tracker carries an HTTP request's charge from the extension to the
// response's headers.
type tracker struct {
	res atomic.Pointer[Result]
}

type trackerKey struct{}

func trackerFrom(ctx context.Context) *tracker {
	t, _ := ctx.Value(trackerKey{}).(*tracker)
	return t
}

// Headers wraps an HTTP GraphQL request (not a websocket upgrade: its
// operations have no headers to carry) so that its response carries the
// budget's headers, and a refusal the status 429:
//
//	RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds until
//	the budget is full again), and on refusal Retry-After (seconds);
//	RateLimit-Policy and RateLimit as the IETF httpapi draft defines them
//	(`"socdesk";q=<points>;w=<window seconds>` and `"socdesk";r=<remaining>;t=<reset>`).
func Headers(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	t := &tracker{}
	return &headerWriter{ResponseWriter: w, t: t}, r.WithContext(context.WithValue(r.Context(), trackerKey{}, t))
}

type headerWriter struct {
	http.ResponseWriter
	t     *tracker
	wrote bool
}

func (h *headerWriter) WriteHeader(code int) {
	if h.wrote {
		h.ResponseWriter.WriteHeader(code)
		return
	}
	h.wrote = true
	if res := h.t.res.Load(); res != nil && res.Limit > 0 {
		hd := h.Header()
		hd.Set("RateLimit-Limit", strconv.Itoa(res.Limit))
		hd.Set("RateLimit-Policy", fmt.Sprintf(`"socdesk";q=%d;w=%d`, res.Limit, seconds(res.Window)))
		if res.Remaining >= 0 {
			reset := seconds(res.ResetAfter)
			hd.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			hd.Set("RateLimit-Reset", strconv.Itoa(reset))
			hd.Set("RateLimit", fmt.Sprintf(`"socdesk";r=%d;t=%d`, res.Remaining, reset))
		}
		if !res.Allowed {
			code = http.StatusTooManyRequests
			if res.RetryAfter > 0 {
				hd.Set("Retry-After", strconv.Itoa(max(seconds(res.RetryAfter), 1)))
			}
		}
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerWriter) Write(b []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (h *headerWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
