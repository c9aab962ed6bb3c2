package events_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// TestFanOut: every subscriber receives every wake-up, in order, with what
// it says intact; a subscription ends with its context.
func TestFanOut(t *testing.T) {
	for name, newBroker := range brokers {
		t.Run(name, func(t *testing.T) {
			b := newBroker(t)
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var subs []<-chan events.Wake
			for range 3 {
				ch, err := b.Subscribe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, ch)
			}
			var sent []events.Wake
			for i := range 10 {
				w := events.History()
				if i%3 == 1 {
					w = events.Rights(i, 100+i)
				}
				sent = append(sent, w)
			}
			for _, w := range sent {
				if err := b.Publish(context.Background(), w); err != nil {
					t.Fatal(err)
				}
			}
			for s, ch := range subs {
				for i, want := range sent {
					select {
					case got := <-ch:
						if got.Topic != want.Topic || !slices.Equal(got.UserIDs, want.UserIDs) {
							t.Fatalf("subscriber %d wake-up %d: %+v, want %+v", s, i, got, want)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("subscriber %d: wake-up %d not received", s, i)
					}
				}
			}
			cancel()
			for _, ch := range subs {
				select {
				case _, open := <-ch:
					if open {
						t.Fatal("a wake-up after the subscription ended")
					}
				case <-time.After(5 * time.Second):
					t.Fatal("subscription channel not closed")
				}
			}
		})
	}
}

// TestRedisOneSubscription: a replica holds one Redis subscription however
// many of its parts listen (the operators' NUMSUB counts replicas), and
// gives it up when the last stops listening; a message in the shape an
// earlier version published (a full ticket event) still wakes the hubs.
func TestRedisOneSubscription(t *testing.T) {
	url := "redis://" + testdb.RedisAddr()
	channel := fmt.Sprintf("socdesk:test:%d", rand.Uint64())
	b, err := events.NewRedisChannel(context.Background(), url, channel, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
	}
	defer b.Close()
	opt, _ := redis.ParseURL(url)
	rc := redis.NewClient(opt)
	defer rc.Close()
	numSub := func() int64 {
		m, err := rc.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m[channel]
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch1, err := b.Subscribe(ctx1)
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := b.Subscribe(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	if n := numSub(); n != 1 {
		t.Fatalf("two listeners hold %d Redis subscriptions, want 1", n)
	}
	if err := rc.Publish(context.Background(), channel, `{"id":7,"kind":"UPDATED","ticketId":3,"changes":[]}`).Err(); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan events.Wake{ch1, ch2} {
		select {
		case w := <-ch:
			if w.Topic != events.TopicHistory {
				t.Fatalf("listener %d: %+v, want a history wake-up", i, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("listener %d: nothing received", i)
		}
	}
	cancel1()
	<-ch1
	if n := numSub(); n != 1 {
		t.Fatalf("one listener left holds %d Redis subscriptions, want 1", n)
	}
	cancel2()
	<-ch2
	deadline := time.Now().Add(5 * time.Second)
	for numSub() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the Redis subscription outlives its listeners")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stuckBroker blocks every publication until its context ends.
type stuckBroker struct{ events.Broker }

func (stuckBroker) Publish(ctx context.Context, _ events.Wake) error {
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
		if err := stuck.Publish(context.Background(), events.History()); err != nil {
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
	_ = bg.Publish(context.Background(), events.Rights(7))
	select {
	case w := <-ch:
		if w.Topic != events.TopicRights || !slices.Equal(w.UserIDs, []int{7}) {
			t.Fatalf("got %+v", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered")
	}
}
