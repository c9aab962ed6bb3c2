package ratelimit

import (
	"context"
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// localStore keeps each user's budget as a token bucket in this process,
// for at most Settings.LocalUsers users.
type localStore struct {
	s     Settings
	every rate.Limit // points earned per second
	users *lru.Cache[string, *rate.Limiter]
	now   func() time.Time
}

func newLocalStore(s Settings) (*localStore, error) {
	n := s.LocalUsers
	if n <= 0 {
		n = 10000
	}
	c, err := lru.New[string, *rate.Limiter](n)
	if err != nil {
		return nil, err
	}
	st := &localStore{s: s, users: c, now: time.Now}
	if s.Window > 0 {
		st.every = rate.Limit(float64(s.Points) / s.Window.Seconds())
	}
	return st, nil
}

func (l *localStore) spend(_ context.Context, key string, cost int) (Result, error) {
	lim, ok := l.users.Get(key)
	if !ok {
		fresh := rate.NewLimiter(l.every, l.s.Points)
		if prev, found, _ := l.users.PeekOrAdd(key, fresh); found {
			lim = prev
		} else {
			lim = fresh
		}
	}
	now := l.now()
	res := Result{Cost: cost, Limit: l.s.Points, Window: l.s.Window}
	r := lim.ReserveN(now, cost)
	if delay := r.DelayFrom(now); !r.OK() || delay > 0 {
		r.CancelAt(now)
		res.RetryAfter = delay
		if !r.OK() {
			res.RetryAfter = -1
		}
	} else {
		res.Allowed = true
	}
	tokens := max(lim.TokensAt(now), 0)
	res.Remaining = int(math.Floor(tokens))
	res.ResetAfter = time.Duration((float64(l.s.Points) - tokens) / float64(l.every) * float64(time.Second))
	return res, nil
}
