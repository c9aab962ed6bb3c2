package events

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Background publishes through a broker off the caller's path: a change's
// request does not wait for Redis, nor slow down when Redis is away. A
// publication is only a wake-up: the live hubs also read the history on a
// timer and the sessions check their tokens on one, so a wake-up that is
// dropped (queue full, broker down) makes them late, not wrong.
type Background struct {
	Broker
	q       chan Wake
	log     *slog.Logger
	timeout time.Duration
	done    chan struct{}
	once    sync.Once

	dropped, failed atomic.Uint64 // see BackgroundStats
}

// BackgroundStats are the wake-ups waiting to be published, and those
// dropped (the queue was full) or failed (the broker refused them) since
// the start.
type BackgroundStats struct {
	Queued          int
	Dropped, Failed uint64
}

// Stats returns the queue's depth and what was lost.
func (b *Background) Stats() BackgroundStats {
	return BackgroundStats{Queued: len(b.q), Dropped: b.dropped.Load(), Failed: b.failed.Load()}
}

// NewBackground starts publishing through b, with up to size wake-ups
// waiting.
func NewBackground(b Broker, size int, log *slog.Logger) *Background {
	bg := &Background{Broker: b, q: make(chan Wake, size), log: log, timeout: time.Second, done: make(chan struct{})}
	go bg.run()
	return bg
}

// Publish queues w and returns at once.
func (b *Background) Publish(_ context.Context, w Wake) error {
	select {
	case b.q <- w:
	default: // the broker is not keeping up: the timers cover it
		b.dropped.Add(1)
	}
	return nil
}

func (b *Background) run() {
	defer close(b.done)
	var lastWarn time.Time
	for w := range b.q {
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		err := b.Broker.Publish(ctx, w)
		cancel()
		if err != nil {
			b.failed.Add(1)
		}
		if err != nil && time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			b.log.Warn("publishing a wake-up failed; the hubs and sessions catch up on their timers", "err", err)
		}
	}
}

// Close publishes what is queued (for at most a few seconds), then closes
// the broker.
func (b *Background) Close() error {
	b.once.Do(func() { close(b.q) })
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
	}
	return b.Broker.Close()
}
