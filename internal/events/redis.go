package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"socdesk/internal/reqlog"
)

// DefaultChannel is the Redis pub/sub channel of wake-ups.
const DefaultChannel = "socdesk:ticket-events"

// Redis is the broker of scaled-out deployments: every replica publishes to
// and subscribes from one Redis channel. A replica holds one Redis
// subscription however many listen on it (the hub, the sessions), and fans
// its messages out in process.
type Redis struct {
	client  *redis.Client
	channel string
	log     *slog.Logger

	mu    sync.Mutex
	local *Local
	ps    *redis.PubSub // open while any subscriber is
	subs  int
}

// ClientOptions are the settings of a replica's Redis client at url
// (redis://…): the URL's, with the deadlines of a request's context obeyed
// (go-redis ignores them unless told), so that StateTimeout holds.
func ClientOptions(url string) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	return opt, nil
}

// NewRedisChannel connects to the Redis server at url (redis://…) and
// publishes and subscribes on channel (DefaultChannel unless configured).
func NewRedisChannel(ctx context.Context, url, channel string, log *slog.Logger) (*Redis, error) {
	opt, err := ClientOptions(url)
	if err != nil {
		return nil, err
	}
	setLogger.Do(func() { redis.SetLogger(&redisLog{log: log, mute: reqlog.Mute{Period: 10 * time.Second}}) })
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	return &Redis{client: c, channel: channel, log: log, local: NewLocal()}, nil
}

// Publish implements Broker.
func (r *Redis) Publish(ctx context.Context, w Wake) error {
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return r.client.Publish(ctx, r.channel, b).Err()
}

// Subscribe implements Broker. It returns once Redis has confirmed the
// replica's subscription, so no wake-up published afterwards is missed.
func (r *Redis) Subscribe(ctx context.Context) (<-chan Wake, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ps == nil {
		ps := r.client.Subscribe(ctx, r.channel)
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			return nil, err
		}
		r.ps = ps
		go r.relay(ps)
	}
	r.subs++
	ch, _ := r.local.Subscribe(ctx)
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.subs--; r.subs == 0 && r.ps != nil {
			r.ps.Close()
			r.ps = nil
		}
	})
	return ch, nil
}

// relay hands the messages of ps to this process's subscribers until ps is
// closed (go-redis resubscribes by itself after a lost connection).
func (r *Redis) relay(ps *redis.PubSub) {
	for m := range ps.Channel() {
		w, err := decode([]byte(m.Payload))
		if err != nil {
			r.log.Warn("dropping a malformed wake-up", "err", err)
			continue
		}
		_ = r.local.Publish(context.Background(), w)
	}
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
	mute reqlog.Mute
}

func (l *redisLog) Printf(_ context.Context, format string, v ...any) {
	if l.mute.Allow() {
		l.log.Warn("redis: "+fmt.Sprintf(format, v...), "note", l.mute.Note())
	}
}

// RedisClient is the Redis client under b (itself, or what a Background
// publishes through), for other state a replica shares through Redis (rate
// budgets, persisted queries) over the same connections; nil when b does
// not go through Redis.
func RedisClient(b Broker) *redis.Client {
	for {
		switch x := b.(type) {
		case *Redis:
			return x.client
		case *Background:
			b = x.Broker
		default:
			return nil
		}
	}
}

// StateTimeout bounds how long a request waits on Redis for the state the
// replicas share through it (rate budgets, persisted queries). Past it the
// request goes on without: its budget is not charged, a persisted query is
// asked for in full. Without it, a request would wait out the client's
// dial retries (seconds) while Redis is away.
const StateTimeout = 250 * time.Millisecond
