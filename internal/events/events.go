// Package events wakes up whoever must look again once a transaction has
// committed: the live hubs (new history to read) and the websocket sessions
// (a user's rights changed), on this process or every replica. A wake-up
// says only what to look at; the database says what is there. An in-process
// broker serves a single server, Redis pub/sub serves replicas.
package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
)

// Topic is what a wake-up asks to look at again.
type Topic string

const (
	// TopicHistory: the ticket history has new entries.
	TopicHistory Topic = "history"
	// TopicRights: the role, permissions, sites or tokens of the users in
	// Wake.UserIDs changed, or they were deleted.
	TopicRights Topic = "rights"
)

// Wake is one wake-up.
type Wake struct {
	Topic Topic `json:"topic"`
	// UserIDs are the users a TopicRights wake-up is about.
	UserIDs []int `json:"userIds,omitempty"`
}

// History is the wake-up for new history entries.
func History() Wake { return Wake{Topic: TopicHistory} }

// Rights is the wake-up for changed rights of users.
func Rights(userIDs ...int) Wake { return Wake{Topic: TopicRights, UserIDs: userIDs} }

// Broker delivers wake-ups to every subscriber, on this process or others.
type Broker interface {
	// Publish sends w to subscribers; it never blocks on a slow one.
	Publish(ctx context.Context, w Wake) error
	// Subscribe returns a channel of wake-ups that is closed when ctx ends.
	Subscribe(ctx context.Context) (<-chan Wake, error)
	Close() error
}

// notifyTimeout bounds the publication of a wake-up on a request's path.
const notifyTimeout = time.Second

// Notify publishes w through b (nil: nobody listens), waiting at most a
// second: a wake-up only hurries what the timers do anyway, so it must not
// hold a request up for long when the broker is away, and its failure is no
// failure of the write it follows.
func Notify(ctx context.Context, b Broker, w Wake) {
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	_ = b.Publish(ctx, w)
}

// Listen calls fn with each wake-up of topic that b carries until ctx ends,
// subscribing again, retry later, whenever the subscription fails or ends:
// a listener's own timer covers what is missed meanwhile.
func Listen(ctx context.Context, b Broker, topic Topic, retry time.Duration, log *slog.Logger, fn func(Wake)) {
	for ctx.Err() == nil {
		ch, err := b.Subscribe(ctx)
		if err != nil {
			if log != nil {
				log.Warn("events: subscribing to wake-ups; relying on the timer", "topic", topic, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			continue
		}
		for w := range ch {
			if w.Topic == topic {
				fn(w)
			}
		}
	}
}

// subscriberBuffer bounds what a slow subscriber may fall behind by; past it
// wake-ups for that subscriber are dropped (the hubs and sessions also look
// again on a timer).
const subscriberBuffer = 256

// Local is the in-process broker of the embedded default.
type Local struct {
	mu   sync.Mutex
	subs map[chan Wake]struct{}
}

// NewLocal returns an in-process broker.
func NewLocal() *Local { return &Local{subs: map[chan Wake]struct{}{}} }

// Publish implements Broker.
func (l *Local) Publish(_ context.Context, w Wake) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- w:
		default:
		}
	}
	return nil
}

// Subscribe implements Broker.
func (l *Local) Subscribe(ctx context.Context) (<-chan Wake, error) {
	ch := make(chan Wake, subscriberBuffer)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
		close(ch)
	}()
	return ch, nil
}

// Close implements Broker.
func (l *Local) Close() error { return nil }

// decode reads a wake-up off the wire. A message without a topic (the full
// event a replica of an earlier version publishes) is a history wake-up.
func decode(b []byte) (Wake, error) {
	var w Wake
	if err := json.Unmarshal(b, &w); err != nil {
		return w, err
	}
	if w.Topic == "" {
		w.Topic = TopicHistory
	}
	return w, nil
}
