package events

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Background publishes through a broker off the caller's path: a change's
// request does not wait for Redis, nor slow down when Redis is away. A
// publication is only a wake-up for the live hubs, which also read the
// history on a timer, so one that is dropped (queue full, broker down) is
// late, not lost.
type Background struct {
	Broker
	q       chan []Event
	log     *slog.Logger
	timeout time.Duration
	done    chan struct{}
	once    sync.Once
}

// NewBackground starts publishing through b, with up to size publications
// waiting.
func NewBackground(b Broker, size int, log *slog.Logger) *Background {
	bg := &Background{Broker: b, q: make(chan []Event, size), log: log, timeout: time.Second, done: make(chan struct{})}
	go bg.run()
	return bg
}

// Publish queues evs and returns at once.
func (b *Background) Publish(_ context.Context, evs ...Event) error {
	select {
	case b.q <- evs:
	default: // the broker is not keeping up: the hubs' timer covers it
	}
	return nil
}

func (b *Background) run() {
	defer close(b.done)
	var lastWarn time.Time
	for evs := range b.q {
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		err := b.Broker.Publish(ctx, evs...)
		cancel()
		if err != nil && time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			b.log.Warn("publishing ticket events failed; subscribers get them from the history on the next tick", "err", err)
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
