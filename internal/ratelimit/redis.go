package ratelimit

import (
	"context"
	"math"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"socdesk/internal/events"
)

// redisStore keeps the budgets in Redis, one key per user, so that every
// replica spends from the same budget (GCRA in one Lua script: atomic).
type redisStore struct {
	lim    *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

func newRedisStore(rdb redis.UniversalClient, prefix string, s Settings) *redisStore {
	return &redisStore{lim: redis_rate.NewLimiter(rdb), prefix: prefix,
		limit: redis_rate.Limit{Rate: s.Points, Burst: s.Points, Period: s.Window}}
}

func (r *redisStore) spend(ctx context.Context, key string, cost int) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, events.StateTimeout)
	defer cancel()
	res, err := r.lim.AllowN(ctx, r.prefix+key, r.limit, cost)
	if err != nil {
		return Result{}, err
	}
	out := Result{Cost: cost, Allowed: res.Allowed > 0, Limit: r.limit.Burst, Window: r.limit.Period,
		Remaining: res.Remaining, ResetAfter: res.ResetAfter}
	if !out.Allowed {
		out.RetryAfter = res.RetryAfter
		// The script says 0 on refusal; what is left follows from the time
		// until the budget is full, at Points per Window.
		spent := res.ResetAfter.Seconds() * float64(r.limit.Rate) / r.limit.Period.Seconds()
		out.Remaining = max(int(math.Floor(float64(r.limit.Burst)-spent+1e-9)), 0)
	}
	return out, nil
}
