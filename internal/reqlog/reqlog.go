// Package reqlog gives each HTTP request an id and a logger that carries it
// (and the viewer, once known), and logs one line per request.
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"socdesk/internal/viewer"
)

type ctxKey struct{}

// From returns the request's logger, or base outside a request.
func From(ctx context.Context, base *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return base
}

// Middleware assigns a request id (or takes a sane X-Request-Id), attaches a
// logger to the context and logs the request when it ends. It never logs
// headers, so tokens stay out of the logs.
func Middleware(base *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if len(id) == 0 || len(id) > 64 {
				b := make([]byte, 8)
				_, _ = rand.Read(b)
				id = hex.EncodeToString(b)
			}
			w.Header().Set("X-Request-Id", id)
			log := base.With("request_id", id)
			rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			start := time.Now()
			who := &requester{}
			ctx := context.WithValue(context.WithValue(r.Context(), ctxKey{}, log), requesterKey{}, who)
			next.ServeHTTP(rw, r.WithContext(ctx))
			log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
				"viewer", who.login, "duration_ms", time.Since(start).Milliseconds())
		})
	}
}

// requester is who made the request, once authenticated, for the access log.
type requester struct{ login string }

type requesterKey struct{}

// WithViewer adds the authenticated viewer to the request's logger and to
// its access log line.
func WithViewer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if v := viewer.FromContext(ctx); v != nil {
			if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
				ctx = context.WithValue(ctx, ctxKey{}, l.With("viewer", v.Login))
			}
			if who, ok := ctx.Value(requesterKey{}).(*requester); ok {
				who.login = v.Login
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (flush, hijack).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
