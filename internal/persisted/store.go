package persisted

import (
	"context"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/v9"

	"socdesk/internal/events"
	"socdesk/internal/reqlog"
)

// NewMemory is a store of one replica: the entries most recently used.
func NewMemory(entries int) graphql.Cache[string] { return lru.New[string](entries) }

// Redis is a store shared by the replicas using one Redis. Each document
// expires TTL after it was last used (every read renews it). A failing
// Redis only costs round trips: a document not read is asked for again,
// and runs when sent in full.
type Redis struct {
	Client *redis.Client
	TTL    time.Duration
	Log    *slog.Logger
	// Mute, if its Period is set, lets one warning through per period (an
	// outage fails every request).
	Mute reqlog.Mute
}

// KeyPrefix is where the documents live in Redis, under their SHA-256.
const KeyPrefix = "socdesk:apq:"

func (r *Redis) Get(ctx context.Context, hash string) (string, bool) {
	rctx, cancel := context.WithTimeout(ctx, events.StateTimeout)
	defer cancel()
	q, err := r.Client.GetEx(rctx, KeyPrefix+hash, r.TTL).Result()
	if err != nil {
		if err != redis.Nil && r.Mute.Allow() {
			reqlog.From(ctx, r.Log).Warn("reading a persisted query from Redis", "err", err, "note", r.Mute.Note())
		}
		return "", false
	}
	return q, true
}

func (r *Redis) Add(ctx context.Context, hash, query string) {
	rctx, cancel := context.WithTimeout(ctx, events.StateTimeout)
	defer cancel()
	if err := r.Client.Set(rctx, KeyPrefix+hash, query, r.TTL).Err(); err != nil && r.Mute.Allow() {
		reqlog.From(ctx, r.Log).Warn("storing a persisted query in Redis", "err", err, "note", r.Mute.Note())
	}
}
