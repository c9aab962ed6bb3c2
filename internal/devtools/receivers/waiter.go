package receivers

import (
	"sync"
	"testing"
	"time"
)

// log is a goroutine-safe append-only record with wait-for-count.
type log[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every append
}

func (l *log[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *log[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

func (l *log[T]) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = nil
}

// wait returns the items once there are at least n, failing t after timeout.
func (l *log[T]) wait(t testing.TB, n int, timeout time.Duration, what string) []T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if len(l.items) >= n {
			out := append([]T(nil), l.items...)
			l.mu.Unlock()
			return out
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch, have := l.changed, len(l.items)
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("receivers: %d %s after %v, want %d", have, what, timeout, n)
			return nil
		}
	}
}
