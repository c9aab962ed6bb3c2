// Package events carries ticket changes to whoever listens (live
// subscriptions, other replicas) once their transaction has committed: an
// in-process broker for a single server, Redis pub/sub across replicas.
package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"socdesk/ent/schematype"
)

// Event is a committed change of a ticket: one row of its history.
type Event struct {
	ID           int                      `json:"id"` // the TicketEvent id
	Kind         string                   `json:"kind"`
	TicketID     int                      `json:"ticketId"`
	TicketNumber int                      `json:"ticketNumber"`
	SiteID       int                      `json:"siteId"`
	ActorID      int                      `json:"actorId,omitempty"`
	At           time.Time                `json:"at"`
	Changes      []schematype.FieldChange `json:"changes"`
}

// Broker publishes events to every subscriber, on this process or others.
type Broker interface {
	// Publish sends events to subscribers; it never blocks on a slow one.
	Publish(ctx context.Context, evs ...Event) error
	// Subscribe returns a channel of events that is closed when ctx ends.
	Subscribe(ctx context.Context) (<-chan Event, error)
	Close() error
}

// subscriberBuffer bounds what a slow subscriber may fall behind by; past it
// events for that subscriber are dropped (subscriptions resume from the
// history, which is the source of truth).
const subscriberBuffer = 256

// Local is the in-process broker of the embedded default.
type Local struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// NewLocal returns an in-process broker.
func NewLocal() *Local { return &Local{subs: map[chan Event]struct{}{}} }

// Publish implements Broker.
func (l *Local) Publish(_ context.Context, evs ...Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default:
			}
		}
	}
	return nil
}

// Subscribe implements Broker.
func (l *Local) Subscribe(ctx context.Context) (<-chan Event, error) {
	ch := make(chan Event, subscriberBuffer)
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

func encode(evs []Event) ([][]byte, error) {
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
