package graph_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"
)

// faults makes the database fail on demand: while armed, a statement run
// by a function whose name has one of the prefixes fails like a backend
// terminated by pg_terminate_backend.
type faults struct {
	prefixes atomic.Pointer[[]string]
	// hang, when set, makes a matching statement wait for its context to
	// end (a client going away) instead, and is closed when one does.
	hang atomic.Pointer[chan struct{}]
}

// errTerminated is what lib/pq reports when a backend is terminated.
var errTerminated = &pq.Error{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}

func (f *faults) arm(prefixes ...string) { f.prefixes.Store(&prefixes) }
func (f *faults) disarm()                { f.prefixes.Store(nil); f.hang.Store(nil) }

// armHang makes the statements of prefixes wait for their context to end;
// the channel is closed when the first one starts waiting.
func (f *faults) armHang(prefixes ...string) <-chan struct{} {
	ch := make(chan struct{})
	f.hang.Store(&ch)
	f.arm(prefixes...)
	return ch
}

func (f *faults) check(ctx context.Context) error {
	p := f.prefixes.Load()
	if p == nil || !f.matches(*p) {
		return nil
	}
	if h := f.hang.Swap(nil); h != nil {
		close(*h)
		<-ctx.Done()
		return ctx.Err()
	}
	return errTerminated
}

func (f *faults) matches(prefixes []string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		fr, more := frames.Next()
		for _, prefix := range prefixes {
			if strings.HasPrefix(fr.Function, prefix) {
				return true
			}
		}
		if !more {
			return false
		}
	}
}

// wrap returns d failing as f says.
func (f *faults) wrap(d dialect.Driver) dialect.Driver { return &faultyDriver{Driver: d, f: f} }

type faultyDriver struct {
	dialect.Driver
	f *faults
}

func (d *faultyDriver) Exec(ctx context.Context, q string, args, v any) error {
	if err := d.f.check(ctx); err != nil {
		return err
	}
	return d.Driver.Exec(ctx, q, args, v)
}

func (d *faultyDriver) Query(ctx context.Context, q string, args, v any) error {
	if err := d.f.check(ctx); err != nil {
		return err
	}
	return d.Driver.Query(ctx, q, args, v)
}

func (d *faultyDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &faultyTx{Tx: tx, f: d.f}, nil
}

type faultyTx struct {
	dialect.Tx
	f *faults
}

func (t *faultyTx) Exec(ctx context.Context, q string, args, v any) error {
	if err := t.f.check(ctx); err != nil {
		return err
	}
	return t.Tx.Exec(ctx, q, args, v)
}

func (t *faultyTx) Query(ctx context.Context, q string, args, v any) error {
	if err := t.f.check(ctx); err != nil {
		return err
	}
	return t.Tx.Query(ctx, q, args, v)
}

// logCapture keeps the records a handler is given, for tests to read.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) handler(next slog.Handler) slog.Handler {
	return teeHandler{next, slog.NewTextHandler(lockedWriter{c}, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

// String returns everything logged so far.
func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// reset forgets what was logged.
func (c *logCapture) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
}

type lockedWriter struct{ c *logCapture }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.buf.Write(p)
}

type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if t.a.Enabled(ctx, r.Level) {
		_ = t.a.Handle(ctx, r.Clone())
	}
	return t.b.Handle(ctx, r)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}

// BeginTx keeps the driver's own (the hub reads replays in a snapshot).
func (d *faultyDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return d.Tx(ctx)
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &faultyTx{Tx: tx, f: d.f}, nil
}

// ExecContext and QueryContext pass ent's raw statements on (the advisory lock).
type rawSQL interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func rawExec(f *faults, d any, ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	r, ok := d.(rawSQL)
	if !ok {
		return nil, errors.New("ExecContext is not supported")
	}
	return r.ExecContext(ctx, q, args...)
}

func rawQuery(f *faults, d any, ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	r, ok := d.(rawSQL)
	if !ok {
		return nil, errors.New("QueryContext is not supported")
	}
	return r.QueryContext(ctx, q, args...)
}

func (d *faultyDriver) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return rawExec(d.f, d.Driver, ctx, q, args...)
}

func (d *faultyDriver) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return rawQuery(d.f, d.Driver, ctx, q, args...)
}

func (t *faultyTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return rawExec(t.f, t.Tx, ctx, q, args...)
}

func (t *faultyTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return rawQuery(t.f, t.Tx, ctx, q, args...)
}
