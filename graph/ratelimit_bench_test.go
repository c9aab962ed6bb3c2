package graph_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/internal/app"
	"socdesk/internal/auth"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
)

// BenchmarkRateBudget measures what charging the budget adds to a request
// through the whole handler (in process, no network). Three replicas of one
// database serve the same request: "off" is the floor (SOCDESK_RATE_POINTS=0),
// "local" keeps the budgets in memory, "redis" in the test Redis; the budget
// is too large to refuse anything. Each iteration sends the request to all
// three in turn (the order rotating), so a machine's changing load weighs
// on them alike; reported are each one's median time per request and the
// medians' ratios to the floor (local/off, redis/off). Two requests:
// { __typename } (no database: the check's share is at its largest) and a
// page of ten tickets on PostgreSQL.
//
//	go test ./graph -run '^$' -bench BenchmarkRateBudget -benchtime 3000x
func BenchmarkRateBudget(b *testing.B) {
	st := testdb.Open(b, dialect.Postgres, testdb.Options{})
	tok, err := auth.Bootstrap(context.Background(), st.Client, "")
	if err != nil {
		b.Fatal(err)
	}
	modes := []string{"off", "local", "redis"}
	handlers := map[string]http.Handler{}
	for _, mode := range modes {
		cfg := config.Default()
		cfg.AuthCache = time.Hour
		if mode != "off" {
			cfg.RatePoints, cfg.RateWindow = 1<<40, time.Hour
		}
		var broker events.Broker = events.NewLocal()
		if mode == "redis" { // the budgets are kept in the Redis the events go through
			cfg.RedisURL = "redis://" + testdb.RedisAddr()
			cfg.RedisChannel = fmt.Sprintf("socdesk:bench:%d", rand.Uint64())
			broker = redisBroker(b, cfg.RedisChannel)
		}
		handlers[mode] = app.New(st, broker, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), st.Ping).Handler
	}
	for _, q := range []struct{ name, query string }{
		{"typename", `{ __typename }`},
		{"tickets", tenTickets},
	} {
		body := `{"query":` + fmt.Sprintf("%q", q.query) + `}`
		serve := func(b *testing.B, mode string) time.Duration {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			start := time.Now()
			handlers[mode].ServeHTTP(w, req)
			took := time.Since(start)
			if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) ||
				(mode != "off") != (w.Header().Get("RateLimit-Limit") != "") {
				b.Fatalf("%s: %d %s %v", mode, w.Code, w.Body, w.Header())
			}
			return took
		}
		b.Run(q.name, func(b *testing.B) {
			for _, mode := range modes {
				serve(b, mode) // warms the auth cache and the query cache
			}
			took := map[string][]time.Duration{}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := range modes {
					mode := modes[(i+j)%len(modes)]
					took[mode] = append(took[mode], serve(b, mode))
				}
			}
			med := map[string]float64{}
			for _, mode := range modes {
				slices.Sort(took[mode])
				med[mode] = float64(took[mode][len(took[mode])/2])
				b.ReportMetric(med[mode], mode+"-ns/req")
			}
			b.ReportMetric(med["local"]/med["off"], "local/off")
			b.ReportMetric(med["redis"]/med["off"], "redis/off")
		})
	}
}
