package schedules_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/schedules"
	"socdesk/internal/tickets"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// BenchmarkGenerateDaily10k: one day's generation of 10,000 active daily
// schedules on PostgreSQL (each op is the next day), through tasks.Create
// with the tickets' history; statements are counted at the driver.
// Run: go test ./internal/schedules -run '^$' -bench GenerateDaily10k -benchtime 3x
func BenchmarkGenerateDaily10k(b *testing.B) {
	const n = 10000
	var stmts atomic.Int64
	st := testdb.Open(b, dialect.Postgres, testdb.Options{Driver: func(d dialect.Driver) dialect.Driver {
		return dialect.DebugWithContext(d, func(context.Context, ...any) { stmts.Add(1) })
	}})
	sys := authz.System(context.Background())
	site := st.Client.Site.Create().SetName("hq").SaveX(sys).ID
	day0 := time.Date(2026, 8, 1, 6, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 1000 {
		bulk := make([]*ent.TaskScheduleCreate, 1000)
		for j := range bulk {
			bulk[j] = st.Client.TaskSchedule.Create().SetName(fmt.Sprintf("daily %d", i+j)).SetSiteID(site).
				SetRecurrence("FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0").SetStartsAt(day0.Add(-24 * time.Hour)).
				SetTimeZone("Europe/Berlin").SetDueInDays(2).SetNextOccurrenceAt(day0.Add(-2 * time.Hour))
		}
		st.Client.TaskSchedule.CreateBulk(bulk...).ExecX(sys)
	}
	first := day0.Add(-2 * time.Hour) // 06:00 Berlin (CEST)
	now := first
	s := &schedules.Service{Client: st.Client, Dialect: st.Dialect, Now: func() time.Time { return now },
		Tickets: &tickets.Service{Client: st.Client, Dialect: st.Dialect}}
	b.ResetTimer()
	var total int64
	for i := range b.N {
		now = first.AddDate(0, 0, i).Add(time.Minute)
		before := stmts.Load()
		start := time.Now()
		made, err := s.Generate(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if made != n {
			b.Fatalf("day %d: made %d, want %d", i, made, n)
		}
		total += stmts.Load() - before
		b.Logf("day %d: %d tasks in %s, %d statements", i, made, time.Since(start).Round(time.Millisecond), stmts.Load()-before)
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/float64(b.N), "statements/op")
	b.ReportMetric(float64(total)/float64(b.N)/n, "statements/schedule")
	if got := st.Client.Ticket.Query().Where(ticket.ScheduleIDNotNil()).CountX(sys); got != n*b.N {
		b.Fatalf("%d tasks, want %d", got, n*b.N)
	}
}
