package graph_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
// through the whole handler (in process, no network): "off" is the floor
// (SOCDESK_RATE_POINTS=0), "local" the in-memory budgets, "redis" budgets in
// the test Redis. The budget is too large to refuse anything. Two requests:
// { __typename } (no database: the check's share is at its largest) and a
// page of ten tickets on PostgreSQL. Compare ns/op within one run:
//
//	go test ./graph -run '^$' -bench BenchmarkRateBudget -count 5
func BenchmarkRateBudget(b *testing.B) {
	st := testdb.Open(b, dialect.Postgres, testdb.Options{})
	tok, err := auth.Bootstrap(context.Background(), st.Client, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []struct{ name, query string }{
		{"typename", `{ __typename }`},
		{"tickets", tenTickets},
	} {
		for _, mode := range []string{"off", "local", "redis"} {
			cfg := config.Default()
			cfg.AuthCache = time.Hour
			if mode != "off" {
				cfg.RatePoints, cfg.RateWindow = 1<<40, time.Hour
			}
			if mode == "redis" {
				cfg.RedisURL = "redis://" + testdb.RedisAddr()
				cfg.RedisChannel = fmt.Sprintf("socdesk:bench:%d", rand.Uint64())
			}
			a := app.New(st, events.NewLocal(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), st.Ping)
			body := `{"query":` + fmt.Sprintf("%q", q.query) + `}`
			b.Run(q.name+"/"+mode, func(b *testing.B) {
				serve := func() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					w := httptest.NewRecorder()
					a.Handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) ||
						(mode != "off") != (w.Header().Get("RateLimit-Limit") != "") {
						b.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
					}
				}
				serve() // warms the auth cache and the query cache
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serve()
				}
			})
		}
	}
}
