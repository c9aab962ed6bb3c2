package events_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"socdesk/ent/schematype"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
)

var brokers = map[string]func(*testing.T) events.Broker{
	"local": func(*testing.T) events.Broker { return events.NewLocal() },
	"redis": func(t *testing.T) events.Broker {
		url := "redis://" + testdb.RedisAddr()
		channel := fmt.Sprintf("socdesk:test:%d", rand.Uint64())
		b, err := events.NewRedisChannel(context.Background(), url, channel, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
		}
		return b
	},
}

// TestFanOut: every subscriber receives every event, in order, with its
// content intact; a subscription ends with its context.
func TestFanOut(t *testing.T) {
	for name, newBroker := range brokers {
		t.Run(name, func(t *testing.T) {
			b := newBroker(t)
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var subs []<-chan events.Event
			for range 3 {
				ch, err := b.Subscribe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, ch)
			}
			at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
			var sent []events.Event
			for i := range 10 {
				sent = append(sent, events.Event{ID: i + 1, Kind: "UPDATED", TicketID: 100 + i, TicketNumber: i + 1, SiteID: 7, ActorID: 3, At: at,
					Changes: []schematype.FieldChange{{Field: "title", From: "a", To: "b"}}})
			}
			if err := b.Publish(context.Background(), sent...); err != nil {
				t.Fatal(err)
			}
			for s, ch := range subs {
				for i, want := range sent {
					select {
					case got := <-ch:
						if got.ID != want.ID || got.TicketID != want.TicketID || !got.At.Equal(want.At) || got.Changes[0].To != "b" {
							t.Fatalf("subscriber %d event %d: %+v, want %+v", s, i, got, want)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("subscriber %d: event %d not received", s, i)
					}
				}
			}
			cancel()
			for _, ch := range subs {
				select {
				case _, open := <-ch:
					if open {
						t.Fatal("an event after the subscription ended")
					}
				case <-time.After(5 * time.Second):
					t.Fatal("subscription channel not closed")
				}
			}
		})
	}
}

// stuckBroker blocks every publication until its context ends.
type stuckBroker struct{ events.Broker }

func (stuckBroker) Publish(ctx context.Context, _ ...events.Event) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestBackgroundPublish: publishing never waits for the broker, however
// stuck it is, and what it can deliver it delivers.
func TestBackgroundPublish(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stuck := events.NewBackground(stuckBroker{events.NewLocal()}, 4, log)
	start := time.Now()
	for range 100 {
		if err := stuck.Publish(context.Background(), events.Event{ID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("100 publications to a stuck broker took %v", d)
	}
	local := events.NewLocal()
	bg := events.NewBackground(local, 16, log)
	defer bg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := bg.Subscribe(ctx)
	_ = bg.Publish(context.Background(), events.Event{ID: 7})
	select {
	case ev := <-ch:
		if ev.ID != 7 {
			t.Fatalf("got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered")
	}
}
