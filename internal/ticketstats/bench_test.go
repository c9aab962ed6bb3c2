package ticketstats

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/internal/devtools/seed"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/store"
)

// seeded is this package's PostgreSQL database with BENCH_TICKETS synthetic
// tickets (seed.Synthetic: a year of tickets with their status history),
// seeded once for every benchmark.
func seeded(b testing.TB) *store.Store {
	b.Helper()
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_TICKETS")); err == nil && v > 0 {
		n = v
	}
	url := testdb.PostgresURL(b)
	benchOnce.Do(func() {
		ctx := context.Background()
		st, err := store.Open(ctx, store.Options{DatabaseURL: url})
		if err == nil {
			err = testdb.Truncate(ctx, st.DB)
		}
		if err == nil {
			start := time.Now()
			err = seed.Synthetic(ctx, st.Client, st.DB, dialect.Postgres, n, nil)
			b.Logf("seeded %d tickets in %s", n, time.Since(start).Round(time.Second))
		}
		benchSt, benchErr = st, err
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSt
}

var (
	benchOnce sync.Once
	benchSt   *store.Store
	benchErr  error
)

// BenchmarkTicketMetrics measures ticketMetrics' computation on PostgreSQL
// (an admin's, whose scope adds nothing) over the last 30, 90 and 365 days
// of BENCH_TICKETS tickets (default 20,000; make bench-metrics: 1,000,000),
// reporting the median latency as p50-ms.
func BenchmarkTicketMetrics(b *testing.B) {
	st := seeded(b)
	s := &Service{Client: st.Client, Dialect: dialect.Postgres}
	to := time.Now().UTC()
	week := PeriodWeek
	for _, c := range []struct {
		name string
		q    Query
	}{
		{"30d", Query{From: to.AddDate(0, 0, -30), To: to, TimeZone: "UTC"}},
		{"30d-by-site-priority", Query{From: to.AddDate(0, 0, -30), To: to, TimeZone: "UTC", GroupBy: []Group{GroupSite, GroupPriority}}},
		{"90d-by-category-week", Query{From: to.AddDate(0, 0, -90), To: to, TimeZone: "Europe/Paris", GroupBy: []Group{GroupCategory, GroupPeriod}, Period: &week}},
		{"365d", Query{From: to.AddDate(0, 0, -365), To: to, TimeZone: "UTC"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var took []time.Duration
			var tickets int
			for b.Loop() {
				start := time.Now()
				r, err := s.Compute(admin(), c.q)
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				tickets = 0
				for _, g := range r.Groups {
					tickets += g.Tickets
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(tickets), "tickets")
		})
	}
}
