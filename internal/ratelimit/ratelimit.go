// Package ratelimit gives every user a budget of points per window that
// their GraphQL operations spend: an operation costs what graph/limits
// measured of it, and a mutation costs more per top-level field. The budget
// is kept in Redis when the replicas share one (GCRA, go-redis/redis_rate),
// in the process otherwise (token buckets of golang.org/x/time/rate). An
// operation over budget is refused with RATE_LIMITED; over HTTP with 429 and
// the RateLimit headers, over a websocket with a GraphQL error.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"socdesk/internal/reqlog"
)

// Settings describe the budgets; Points 0 disables them.
type Settings struct {
	Points       int           // spent per Window at most, and at once (the burst)
	Window       time.Duration // time to earn Points back
	MutationCost int           // added per top-level field of a mutation
	LocalUsers   int           // users whose budgets a replica without Redis keeps (least recently seen dropped)
}

// Enabled reports whether budgets are enforced.
func (s Settings) Enabled() bool { return s.Points > 0 }

// Result is a user's budget after an operation asked for Cost points.
type Result struct {
	Cost      int
	Allowed   bool
	Limit     int           // Settings.Points
	Window    time.Duration // Settings.Window
	Remaining int           // points left now
	// RetryAfter is how long until Cost points are available (0 when
	// Allowed; -1 when Cost exceeds the whole budget and never will be).
	RetryAfter time.Duration
	// ResetAfter is how long until the budget is full again.
	ResetAfter time.Duration
}

// store spends points from budgets.
type store interface {
	spend(ctx context.Context, key string, cost int) (Result, error)
}

// Budgets are the users' budgets, as one replica sees them.
type Budgets struct {
	s       Settings
	store   store
	log     *slog.Logger
	refused *prometheus.CounterVec
	warned  reqlog.Mute // of "budget unavailable" (an outage would log every request)
}

// New returns the budgets of s: shared through rdb when it is not nil,
// kept in this process otherwise. Keys in Redis start with prefix. The
// refusals are counted on reg when it is not nil.
func New(s Settings, rdb redis.UniversalClient, prefix string, reg prometheus.Registerer, log *slog.Logger) (*Budgets, error) {
	if s.Points < 0 || s.MutationCost < 0 || s.LocalUsers < 0 {
		return nil, errors.New("ratelimit: points, mutation cost and local users must not be negative")
	}
	if s.Enabled() && s.Window <= 0 {
		return nil, errors.New("ratelimit: the window must be positive")
	}
	b := &Budgets{s: s, log: log}
	b.warned.Period = 10 * time.Second
	if rdb != nil {
		b.store = newRedisStore(rdb, prefix, s)
	} else {
		st, err := newLocalStore(s)
		if err != nil {
			return nil, err
		}
		b.store = st
	}
	b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "socdesk_rate_limited_total",
		Help: "GraphQL operations refused for want of budget (RATE_LIMITED), by operation type.",
	}, []string{"operation"})
	if reg != nil {
		if err := reg.Register(b.refused); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("ratelimit: registering the refusal counter: %w", err)
			}
			b.refused = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return b, nil
}

// Settings returns the settings the budgets enforce.
func (b *Budgets) Settings() Settings { return b.s }

// Spend takes cost points from the budget of user. When the budget store
// fails (Redis down), the operation is allowed and the failure logged:
// budgets protect the service, and must not take it down with Redis.
func (b *Budgets) Spend(ctx context.Context, user int, cost int) Result {
	return b.SpendKey(ctx, strconv.Itoa(user), cost)
}

// SpendKey is Spend from the budget of key (a user's id, or a link's
// budget key).
func (b *Budgets) SpendKey(ctx context.Context, key string, cost int) Result {
	if !b.s.Enabled() {
		return Result{Cost: cost, Allowed: true}
	}
	if cost > b.s.Points {
		return Result{Cost: cost, Limit: b.s.Points, Window: b.s.Window, RetryAfter: -1, Remaining: -1}
	}
	r, err := b.store.spend(ctx, key, cost)
	if err != nil {
		if b.log != nil && ctx.Err() == nil && b.warned.Allow() {
			b.log.Warn("rate budget unavailable: operations allowed", "err", err, "note", b.warned.Note())
		}
		return Result{Cost: cost, Allowed: true, Limit: b.s.Points, Window: b.s.Window, Remaining: -1}
	}
	return r
}

// refusedOne counts a refusal of an operation of type op.
func (b *Budgets) refusedOne(op string) { b.refused.WithLabelValues(op).Inc() }
