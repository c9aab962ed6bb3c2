// Package reqlog gives each HTTP request an id and a logger that carries it
// (and the viewer, once known), and logs one line per request. Every value
// a request's logger writes is capped (MaxValue): much of it comes from the
// client (the user agent, the operation, errors quoting input).
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

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
// logger to the context (with the trace id when the request is traced) and
// logs the request when it ends. It never logs
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
			log := slog.New(capped{base.Handler()}).With("request_id", id)
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
				// Traced (see package tracing): every line of the request
				// names its trace.
				log = log.With("trace_id", sc.TraceID().String())
			}
			rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			start := time.Now()
			who := &requester{}
			ctx := context.WithValue(context.WithValue(r.Context(), ctxKey{}, log), requesterKey{}, who)
			next.ServeHTTP(rw, r.WithContext(ctx))
			log.Info("request", "method", r.Method, "path", loggedPath(r.URL.Path), "status", rw.status,
				"viewer", who.login, "operation", who.operation, "user_agent", r.UserAgent(),
				"duration_ms", time.Since(start).Milliseconds())
		})
	}
}

// requester is who made the request, once authenticated, and what it asked
// for, for the access log.
type requester struct{ login, operation string }

// SetOperation names the request's GraphQL operation in its access log line.
func SetOperation(ctx context.Context, name string) {
	if who, ok := ctx.Value(requesterKey{}).(*requester); ok {
		who.operation = name
	}
}

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

// ClientGone reports whether the request of ctx was abandoned by its
// client (net/http cancels its context when the connection drops): what
// fails then is no error of the server's.
func ClientGone(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// MaxValue is the most bytes of one value a request's log line carries.
const MaxValue = 512

// Cap shortens s to MaxValue bytes (on a character boundary), saying how
// long it was.
func Cap(s string) string {
	if len(s) <= MaxValue {
		return s
	}
	cut := MaxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// capped caps every value of the records it passes on, except a stack
// trace (the server's own, and useless cut).
type capped struct{ next slog.Handler }

func (c capped) Enabled(ctx context.Context, l slog.Level) bool { return c.next.Enabled(ctx, l) }

func (c capped) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Cap(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(capAttr(a))
		return true
	})
	return c.next.Handle(ctx, out)
}

func (c capped) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i := range as {
		out[i] = capAttr(as[i])
	}
	return capped{c.next.WithAttrs(out)}
}

func (c capped) WithGroup(name string) slog.Handler { return capped{c.next.WithGroup(name)} }

func capAttr(a slog.Attr) slog.Attr {
	if a.Key == "stack" {
		return a
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Cap(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i := range as {
			out[i] = capAttr(as[i])
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny: // errors, panics, anything printed with %v
		return slog.String(a.Key, Cap(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// loggedPath is the path as logged: a personal explanation page's path is
// its secret link token, which is never logged.
func loggedPath(p string) string {
	if strings.HasPrefix(p, "/explain/") {
		return "/explain/[redacted]"
	}
	return p
}
