package reputation

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"socdesk/internal/ratelimit"
)

// Limiter keeps the provider's rate limit for every replica: a budget of
// Rate requests per Window (ratelimit's, in Redis when the replicas share
// one), and the pause a 429 asked for (in Redis too, and in the process).
type Limiter struct {
	budgets *ratelimit.Budgets
	rdb     redis.UniversalClient
	key     string
	now     func() time.Time

	mu     sync.Mutex
	paused time.Time
}

// NewLimiter allows rate requests per window, through rdb when it is not
// nil (keys under prefix).
func NewLimiter(rate int, window time.Duration, rdb redis.UniversalClient, prefix string, now func() time.Time) (*Limiter, error) {
	b, err := ratelimit.New(ratelimit.Settings{Points: rate, Window: window, LocalUsers: 1}, rdb, prefix, nil, nil)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{budgets: b, rdb: rdb, key: prefix + "paused", now: now}, nil
}

// Take spends one request, or says how long until one is available.
func (l *Limiter) Take(ctx context.Context) (ok bool, wait time.Duration) {
	if until := l.pausedUntil(ctx); until.After(l.now()) {
		return false, until.Sub(l.now())
	}
	r := l.budgets.SpendKey(ctx, "provider", 1)
	return r.Allowed, r.RetryAfter
}

// Pause stops requests until until (the provider's Retry-After).
func (l *Limiter) Pause(ctx context.Context, until time.Time) {
	l.mu.Lock()
	if until.After(l.paused) {
		l.paused = until
	}
	l.mu.Unlock()
	if l.rdb != nil {
		if d := until.Sub(l.now()); d > 0 {
			_ = l.rdb.Set(ctx, l.key, strconv.FormatInt(until.UnixMilli(), 10), d).Err() // the local pause holds if Redis is away
		}
	}
}

func (l *Limiter) pausedUntil(ctx context.Context) time.Time {
	l.mu.Lock()
	until := l.paused
	l.mu.Unlock()
	if l.rdb != nil {
		if s, err := l.rdb.Get(ctx, l.key).Result(); err == nil {
			if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
				if t := time.UnixMilli(ms); t.After(until) {
					until = t
				}
			}
		}
	}
	return until
}
