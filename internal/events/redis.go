package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel of ticket events.
const DefaultChannel = "socdesk:ticket-events"

// Redis is the broker of scaled-out deployments: every replica publishes to
// and subscribes from one Redis channel.
type Redis struct {
	client  *redis.Client
	channel string
	log     *slog.Logger
}

// NewRedisChannel connects to the Redis server at url (redis://…) and
// publishes and subscribes on channel (DefaultChannel unless configured).
func NewRedisChannel(ctx context.Context, url, channel string, log *slog.Logger) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	setLogger.Do(func() { redis.SetLogger(&redisLog{log: log}) })
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	return &Redis{client: c, channel: channel, log: log}, nil
}

// Publish implements Broker.
func (r *Redis) Publish(ctx context.Context, evs ...Event) error {
	msgs, err := encode(evs)
	if err != nil {
		return err
	}
	pipe := r.client.Pipeline()
	for _, m := range msgs {
		pipe.Publish(ctx, r.channel, m)
	}
	_, err = pipe.Exec(ctx)
	return err
}

// Subscribe implements Broker. It returns once Redis has confirmed the
// subscription, so no event published afterwards is missed.
func (r *Redis) Subscribe(ctx context.Context) (<-chan Event, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, err
	}
	out := make(chan Event, subscriberBuffer)
	go func() {
		defer close(out)
		defer ps.Close()
		in := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				var ev Event
				if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
					r.log.Warn("dropping malformed event", "err", err)
					continue
				}
				select {
				case out <- ev:
				default: // a slow subscriber loses live events, not the server's memory
				}
			}
		}
	}()
	return out, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close implements Broker.
func (r *Redis) Close() error { return r.client.Close() }

var setLogger sync.Once

// redisLog sends go-redis's own messages (reconnection attempts, many a
// second while Redis is away) to the server's log, at most one in ten
// seconds.
type redisLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last time.Time
}

func (l *redisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < 10*time.Second {
		return
	}
	l.last = time.Now()
	l.log.Warn("redis: "+fmt.Sprintf(format, v...), "note", "repeats of redis messages are muted for 10s")
}
