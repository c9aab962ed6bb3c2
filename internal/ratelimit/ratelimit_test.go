package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
)

// redisClient is a client of the test Redis, or a skip (a failure under
// SOCDESK_REQUIRE_SERVICES=1).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr()})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// prefix is a Redis key prefix of the test's own.
func prefix(t testing.TB) string {
	return fmt.Sprintf("socdesk-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// stores build two replicas' budgets: with Redis they share it.
var stores = map[string]func(t *testing.T, s Settings) (a, b *Budgets){
	"local": func(t *testing.T, s Settings) (*Budgets, *Budgets) {
		a, err := New(s, nil, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(s, nil, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	},
	"redis": func(t *testing.T, s Settings) (*Budgets, *Budgets) {
		rdb, p := redisClient(t), prefix(t)
		a, err := New(s, rdb, p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(s, redisClient(t), p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	},
}

// TestSpend: a user spends up to the budget at once, is then refused with
// the time until the cost is earned back, and users do not share budgets.
// Budgets in Redis are shared by replicas; local ones are not.
func TestSpend(t *testing.T) {
	for name, build := range stores {
		t.Run(name, func(t *testing.T) {
			s := Settings{Points: 100, Window: 100 * time.Second, LocalUsers: 10} // 1 point a second
			a, b := build(t, s)
			ctx := context.Background()
			r := a.Spend(ctx, 1, 60)
			if !r.Allowed || r.Remaining != 40 || r.Limit != 100 || r.Cost != 60 {
				t.Fatalf("first spend: %+v", r)
			}
			if r.ResetAfter < 59*time.Second || r.ResetAfter > 60*time.Second {
				t.Errorf("reset after %v, want 60s (60 points at 1/s)", r.ResetAfter)
			}
			// 50 more: 40 are left, so 10 must be earned back, which takes 10s.
			r = a.Spend(ctx, 1, 50)
			if r.Allowed || r.RetryAfter < 9*time.Second || r.RetryAfter > 10*time.Second || r.Remaining != 40 {
				t.Fatalf("over budget: %+v", r)
			}
			// A refusal spends nothing: 40 still pass.
			if r = a.Spend(ctx, 1, 40); !r.Allowed || r.Remaining != 0 {
				t.Fatalf("the rest of the budget: %+v", r)
			}
			if r = a.Spend(ctx, 2, 100); !r.Allowed {
				t.Fatalf("another user's budget is full: %+v", r)
			}
			r = b.Spend(ctx, 1, 10)
			switch name {
			case "redis":
				if r.Allowed {
					t.Fatalf("the other replica let the user spend what they spent on the first: %+v", r)
				}
			case "local":
				if !r.Allowed || r.Remaining != 90 {
					t.Fatalf("a local budget is the replica's own: %+v", r)
				}
			}
		})
	}
}

// TestSpendRefills: a spent budget comes back at Points per Window.
func TestSpendRefills(t *testing.T) {
	for name, build := range stores {
		t.Run(name, func(t *testing.T) {
			a, _ := build(t, Settings{Points: 10, Window: time.Second, LocalUsers: 10})
			ctx := context.Background()
			if r := a.Spend(ctx, 7, 10); !r.Allowed {
				t.Fatalf("%+v", r)
			}
			if r := a.Spend(ctx, 7, 5); r.Allowed {
				t.Fatalf("an empty budget allowed 5: %+v", r)
			}
			time.Sleep(600 * time.Millisecond) // 6 points back
			if r := a.Spend(ctx, 7, 5); !r.Allowed {
				t.Fatalf("the budget did not refill: %+v", r)
			}
		})
	}
}

// TestSpendMoreThanBudget: an operation costing more than the whole budget
// is refused for good (RetryAfter -1), even with a full budget.
func TestSpendMoreThanBudget(t *testing.T) {
	for name, build := range stores {
		t.Run(name, func(t *testing.T) {
			a, _ := build(t, Settings{Points: 10, Window: time.Minute, LocalUsers: 10})
			if r := a.Spend(context.Background(), 1, 11); r.Allowed || r.RetryAfter != -1 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestDisabled: Points 0 allows everything and keeps no budget.
func TestDisabled(t *testing.T) {
	a, err := New(Settings{}, nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if r := a.Spend(context.Background(), 1, 1<<20); !r.Allowed || r.Limit != 0 {
			t.Fatalf("%+v", r)
		}
	}
}

// TestRedisDownAllows: a replica whose Redis is gone serves on (budgets
// protect the service; they must not take it down with Redis).
func TestRedisDownAllows(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	a, err := New(Settings{Points: 1, Window: time.Minute}, rdb, "x:", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := a.Spend(context.Background(), 1, 1); !r.Allowed || r.Remaining != -1 {
			t.Fatalf("%+v", r)
		}
	}
}

// TestLocalUsersBounded: the local store keeps at most LocalUsers budgets.
func TestLocalUsersBounded(t *testing.T) {
	a, err := New(Settings{Points: 10, Window: time.Minute, LocalUsers: 3}, nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for u := range 100 {
		a.Spend(context.Background(), u, 1)
	}
	if n := a.store.(*localStore).users.Len(); n != 3 {
		t.Fatalf("%d budgets kept, want 3", n)
	}
}

// TestNewValidates: bad settings are refused, and the refusal counter is
// registered once however many budgets share a registry.
func TestNewValidates(t *testing.T) {
	for _, s := range []Settings{{Points: -1}, {Points: 1}, {Points: 1, Window: time.Second, MutationCost: -1}} {
		if _, err := New(s, nil, "", nil, nil); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	reg := prometheus.NewRegistry()
	a, err := New(Settings{Points: 1, Window: time.Minute}, nil, "", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Settings{Points: 1, Window: time.Minute}, nil, "", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.refusedOne("query")
	b.refusedOne("query")
	if n := testutil.ToFloat64(a.refused.WithLabelValues("query")); n != 2 {
		t.Fatalf("refusals counted %v, want 2", n)
	}
}

// BenchmarkSpend is the budget check alone: in memory, and a round trip
// to the test Redis (its Lua script).
func BenchmarkSpend(b *testing.B) {
	s := Settings{Points: 1 << 40, Window: time.Hour, LocalUsers: 10000}
	local, err := New(s, nil, "", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	shared, err := New(s, redisClient(b), prefix(b), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for name, bud := range map[string]*Budgets{"local": local, "redis": shared} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if r := bud.Spend(ctx, i%100, 5); !r.Allowed {
					b.Fatal(r)
				}
			}
		})
	}
}

// TestRedisHungAllowsPromptly: a Redis that accepts connections and never
// answers holds an operation up for events.StateTimeout, not for the
// client's read timeouts and retries (seconds each): the operation is then
// allowed.
func TestRedisHungAllowsPromptly(t *testing.T) {
	opt, err := events.ClientOptions("redis://" + testdb.SilentRedis(t)) // serve's client
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	b, err := New(Settings{Points: 10, Window: time.Minute}, rdb, "x:", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := b.Spend(context.Background(), 1, 1)
	if took := time.Since(start); !r.Allowed || took > 10*events.StateTimeout {
		t.Fatalf("allowed %v after %v (the bound is %v)", r.Allowed, took, events.StateTimeout)
	}
}
