package schedules_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/taskschedule"
	"socdesk/ent/taskscheduleevent"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
	"socdesk/internal/schedules"
	"socdesk/internal/store"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
)

func sys() context.Context { return authz.System(context.Background()) }

// gen is a schedules service on a fresh database with a settable clock and
// a log the test reads.
type gen struct {
	t    *testing.T
	st   *store.Store
	s    *schedules.Service
	site int
	now  time.Time
	mu   sync.Mutex
	log  bytes.Buffer
}

func newGen(t *testing.T, backend string, start time.Time) *gen {
	t.Helper()
	g := &gen{t: t, st: testdb.Open(t, backend, testdb.Options{}), now: start}
	g.site = g.st.Client.Site.Create().SetName("hq").SaveX(sys()).ID
	g.s = &schedules.Service{Client: g.st.Client, Dialect: g.st.Dialect, Now: func() time.Time { return g.now },
		Tickets: &tickets.Service{Client: g.st.Client, Dialect: g.st.Dialect},
		Log:     slog.New(slog.NewTextHandler(lockedWriter{g}, nil))}
	return g
}

type lockedWriter struct{ g *gen }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	return w.g.log.Write(p)
}

func (g *gen) logged() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// schedule makes a schedule of rrule in zone from start.
func (g *gen) schedule(name, rrule, zone string, start time.Time) *ent.TaskSchedule {
	g.t.Helper()
	sch, err := g.s.Create(sys(), schedules.Input{Name: &name, SiteID: &g.site, TimeZone: &zone, StartsAt: &start,
		Recurrence: &schedules.RecurrenceInput{RRule: &rrule}})
	if err != nil {
		g.t.Fatalf("schedule %s: %v", name, err)
	}
	return sch
}

// preset makes a schedule of preset p at time of day tod in zone from start.
func (g *gen) preset(name string, p schedules.Preset, tod, zone string, start time.Time) *ent.TaskSchedule {
	g.t.Helper()
	sch, err := g.s.Create(sys(), schedules.Input{Name: &name, SiteID: &g.site, TimeZone: &zone, StartsAt: &start,
		Recurrence: &schedules.RecurrenceInput{Preset: &p, TimeOfDay: &tod}})
	if err != nil {
		g.t.Fatalf("schedule %s: %v", name, err)
	}
	return sch
}

func (g *gen) generate() int {
	g.t.Helper()
	n, err := g.s.Generate(context.Background())
	if err != nil {
		g.t.Fatalf("generate at %s: %v", g.now.Format(time.RFC3339), err)
	}
	return n
}

func (g *gen) reload(id int) *ent.TaskSchedule {
	g.t.Helper()
	return g.st.Client.TaskSchedule.GetX(sys(), id)
}

// occurrences are the occurrence times of schedule id's tasks, in order.
func (g *gen) occurrences(id int) []time.Time {
	g.t.Helper()
	ts := g.st.Client.Ticket.Query().Where(ticket.ScheduleID(id)).Order(ent.Asc(ticket.FieldOccurrenceAt)).AllX(sys())
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = *t.OccurrenceAt
	}
	return out
}

func (g *gen) events(id int, kind taskscheduleevent.Kind) []*ent.TaskScheduleEvent {
	g.t.Helper()
	return g.st.Client.TaskScheduleEvent.Query().
		Where(taskscheduleevent.ScheduleID(id), taskscheduleevent.KindEQ(kind)).
		Order(ent.Asc(taskscheduleevent.FieldID)).AllX(sys())
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const daily0600 = "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"

// An unexpected error making one schedule's task neither rolls back the
// other schedules of its batch nor holds them up: the failing schedule's
// partial writes are undone, the error logged, and the occurrence retried
// on the next runs until it succeeds or RetryFor has passed, when it is
// recorded SKIPPED with the reason and the schedule moves on.
func TestGenerateIsolatesFailingSchedule(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			day := mustTime(t, "2026-09-01T06:00:00Z")
			g := newGen(t, b, day.Add(-time.Hour))
			g.s.Batch = 2 // the two failing schedules fill a batch
			var ids []int
			for _, n := range []string{"a", "b", "c", "d", "e"} {
				ids = append(ids, g.schedule(n, daily0600, "UTC", day.Add(-time.Hour)).ID)
			}
			failing := map[int]bool{ids[0]: true, ids[1]: true}
			g.s.CreateTask = func(ctx context.Context, tx *ent.Tx, n tasks.New) (*ent.Ticket, bool, error) {
				if failing[*n.ScheduleID] {
					// Something written first, which must be undone.
					if _, _, err := tasks.Create(ctx, tx, n); err != nil {
						return nil, false, err
					}
					return nil, false, errors.New("disk on fire")
				}
				return tasks.Create(ctx, tx, n)
			}
			g.now = day.Add(time.Minute)
			if n := g.generate(); n != 3 {
				t.Fatalf("generated %d, want the 3 healthy schedules'", n)
			}
			if !strings.Contains(g.logged(), "disk on fire") {
				t.Fatalf("the error was not logged: %q", g.logged())
			}
			for _, id := range ids[:2] {
				if occ := g.occurrences(id); len(occ) != 0 {
					t.Fatalf("failing schedule %d has tasks %v: its writes were not undone", id, occ)
				}
				if sch := g.reload(id); !sch.NextOccurrenceAt.Equal(day) || !sch.Active {
					t.Fatalf("failing schedule %d moved to %v (active %v), want left for a retry", id, sch.NextOccurrenceAt, sch.Active)
				}
			}
			for _, id := range ids[2:] {
				if occ := g.occurrences(id); len(occ) != 1 || !occ[0].Equal(day) {
					t.Fatalf("schedule %d: tasks %v", id, occ)
				}
			}
			// Still failing a minute later: nothing else happens.
			g.now = day.Add(2 * time.Minute)
			if n := g.generate(); n != 0 {
				t.Fatalf("a retry generated %d", n)
			}
			// The first recovers (a transient error): its occurrence is made.
			delete(failing, ids[0])
			g.now = day.Add(3 * time.Minute)
			if n := g.generate(); n != 1 {
				t.Fatalf("after recovery generated %d, want 1", n)
			}
			if occ := g.occurrences(ids[0]); len(occ) != 1 || !occ[0].Equal(day) {
				t.Fatalf("recovered schedule: tasks %v", occ)
			}
			// The second keeps failing: once RetryFor has passed it is
			// recorded SKIPPED with the reason and moves to its next
			// occurrence, which is made when it comes.
			g.now = day.Add(schedules.RetryFor + time.Minute)
			if n := g.generate(); n != 0 {
				t.Fatalf("giving up generated %d", n)
			}
			sk := g.events(ids[1], taskscheduleevent.KindSKIPPED)
			if len(sk) != 1 || sk[0].Reason == nil || !strings.Contains(*sk[0].Reason, "internal error") ||
				strings.Contains(*sk[0].Reason, "disk on fire") {
				t.Fatalf("SKIPPED entries %+v: want one, saying internal error (the detail is the log's)", sk)
			}
			if ch, _ := sk[0].Changes[0].To.(map[string]any); ch["at"] != day.Format(time.RFC3339) || ch["count"] != float64(1) {
				t.Fatalf("SKIPPED changes %v", sk[0].Changes)
			}
			if sch := g.reload(ids[1]); !sch.NextOccurrenceAt.Equal(day.AddDate(0, 0, 1)) || sch.LastOccurrenceAt != nil {
				t.Fatalf("given-up schedule: next %v last %v", sch.NextOccurrenceAt, sch.LastOccurrenceAt)
			}
			delete(failing, ids[1])
			g.now = day.AddDate(0, 0, 1).Add(time.Minute)
			if n := g.generate(); n != 5 {
				t.Fatalf("next day generated %d, want 5", n)
			}
			if n := len(g.events(ids[1], taskscheduleevent.KindSKIPPED)); n != 1 {
				t.Fatalf("%d SKIPPED entries, want the one", n)
			}
		})
	}
}

// A recurrence that no longer reads (a zone dropped from the zone
// database, a row edited by hand) pauses its schedule, visibly: inactive,
// its version moved, and a PAUSED entry saying why; the others generate.
func TestGeneratePausesUnreadableSchedule(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			day := mustTime(t, "2026-09-01T06:00:00Z")
			g := newGen(t, b, day.Add(-time.Hour))
			zone := g.schedule("zone", daily0600, "UTC", day.Add(-time.Hour))
			rule := g.schedule("rule", daily0600, "UTC", day.Add(-time.Hour))
			ok := g.schedule("ok", daily0600, "UTC", day.Add(-time.Hour))
			g.st.Client.TaskSchedule.UpdateOneID(zone.ID).SetTimeZone("Mars/Olympus").ExecX(sys())
			g.st.Client.TaskSchedule.UpdateOneID(rule.ID).SetRecurrence("FREQ=SOMETIMES").ExecX(sys())
			g.now = day.Add(time.Minute)
			if n := g.generate(); n != 1 {
				t.Fatalf("generated %d, want 1", n)
			}
			if occ := g.occurrences(ok.ID); len(occ) != 1 {
				t.Fatalf("healthy schedule: tasks %v", occ)
			}
			for _, c := range []struct {
				sch  *ent.TaskSchedule
				want string
			}{{zone, "Mars/Olympus"}, {rule, "RRULE"}} {
				sch := g.reload(c.sch.ID)
				if sch.Active || sch.Version != c.sch.Version+1 {
					t.Fatalf("schedule %s: active %v version %d, want paused at version %d", sch.Name, sch.Active, sch.Version, c.sch.Version+1)
				}
				p := g.events(sch.ID, taskscheduleevent.KindPAUSED)
				if len(p) != 1 || p[0].Reason == nil || !strings.Contains(*p[0].Reason, c.want) || p[0].ActorID != nil {
					t.Fatalf("schedule %s: PAUSED entries %+v, want one naming %q", sch.Name, p, c.want)
				}
				if len(p[0].Changes) == 0 || p[0].Changes[0].To != false {
					t.Fatalf("schedule %s: PAUSED changes %+v", sch.Name, p[0].Changes)
				}
			}
			g.now = day.AddDate(0, 0, 1).Add(time.Minute)
			if n := g.generate(); n != 1 {
				t.Fatalf("next day generated %d, want 1", n)
			}
			if n := len(g.events(zone.ID, taskscheduleevent.KindPAUSED)); n != 1 {
				t.Fatalf("%d PAUSED entries, want 1", n)
			}
		})
	}
}

// A refused occurrence (the schedule names what a task may no longer
// carry) is recorded SKIPPED once and not made; last_occurrence_at (the
// latest occurrence a task was made for) stays; the next occurrence is
// made when due, neither retrying the refused one nor counting it missed.
func TestGenerateRefusedOccurrence(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			day := mustTime(t, "2026-09-01T06:00:00Z")
			g := newGen(t, b, day.Add(-time.Hour))
			g.s.MaxMissed = 3
			sch := g.schedule("refused", daily0600, "UTC", day.Add(-time.Hour))
			refuse := true
			g.s.CreateTask = func(ctx context.Context, tx *ent.Tx, n tasks.New) (*ent.Ticket, bool, error) {
				if refuse {
					return nil, false, errs.Invalid("ownerId", "is not a member of the site")
				}
				return tasks.Create(ctx, tx, n)
			}
			g.now = day.Add(time.Minute)
			if n := g.generate(); n != 0 {
				t.Fatalf("generated %d", n)
			}
			s := g.reload(sch.ID)
			if s.LastOccurrenceAt != nil || !s.NextOccurrenceAt.Equal(day.AddDate(0, 0, 1)) {
				t.Fatalf("after the refusal: last %v next %v", s.LastOccurrenceAt, s.NextOccurrenceAt)
			}
			refuse = false
			g.now = day.Add(2 * time.Minute)
			if n := g.generate(); n != 0 {
				t.Fatalf("the refused occurrence was retried: %d", n)
			}
			g.now = day.AddDate(0, 0, 1).Add(time.Minute)
			if n := g.generate(); n != 1 {
				t.Fatalf("next day generated %d, want 1", n)
			}
			if occ := g.occurrences(sch.ID); len(occ) != 1 || !occ[0].Equal(day.AddDate(0, 0, 1)) {
				t.Fatalf("tasks %v, want only the next day's", occ)
			}
			sk := g.events(sch.ID, taskscheduleevent.KindSKIPPED)
			if len(sk) != 1 || !strings.Contains(*sk[0].Reason, "refused") {
				t.Fatalf("SKIPPED entries %+v, want only the refusal", sk)
			}
			if s := g.reload(sch.ID); !s.LastOccurrenceAt.Equal(day.AddDate(0, 0, 1)) {
				t.Fatalf("last %v", s.LastOccurrenceAt)
			}
		})
	}
}

// Generation itself, run as the job runs it with the clock stepping
// through 15 months of 2027-28: both offset changes of Europe/Berlin and
// America/New_York for daily schedules at a wall time that does not exist
// or exists twice and at 09:00, month ends (the 31st, the last day, the
// last business day), and Feb 29 in the 2028 leap year. Each schedule must
// make exactly the tasks listed here, by hand, in local time.
func TestGenerateWithClock(t *testing.T) {
	b := dialect.Postgres
	g := newGen(t, b, mustTime(t, "2027-01-01T00:00:00Z"))
	start := g.now
	type want struct {
		sch *ent.TaskSchedule
		at  []string
	}
	// Daily schedules for three days around an offset change: from
	// midnight local the day before, until the end of the day after.
	window := func(name, zone, day string, h, m int, until string) *ent.TaskSchedule {
		loc, _ := time.LoadLocation(zone)
		d, _ := time.ParseInLocation("2006-01-02", day, loc)
		return g.schedule(name, "FREQ=DAILY;BYHOUR="+strconv.Itoa(h)+";BYMINUTE="+strconv.Itoa(m)+";BYSECOND=0;UNTIL="+until, zone, d)
	}
	wants := []want{
		// Berlin springs forward at 02:00 CET on 28 March: 02:30 does not
		// exist and is 03:30 CEST (RFC 5545: the offset before the gap).
		{window("berlin spring 02:30", "Europe/Berlin", "2027-03-27", 2, 30, "20270329T220000Z"),
			[]string{"2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"}},
		{window("berlin spring 09:00", "Europe/Berlin", "2027-03-27", 9, 0, "20270329T220000Z"),
			[]string{"2027-03-27T09:00:00+01:00", "2027-03-28T09:00:00+02:00", "2027-03-29T09:00:00+02:00"}},
		// Berlin falls back at 03:00 CEST on 31 October: 02:30 exists
		// twice and is its first instant (CEST).
		{window("berlin fall 02:30", "Europe/Berlin", "2027-10-30", 2, 30, "20271101T230000Z"),
			[]string{"2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"}},
		{window("berlin fall 09:00", "Europe/Berlin", "2027-10-30", 9, 0, "20271101T230000Z"),
			[]string{"2027-10-30T09:00:00+02:00", "2027-10-31T09:00:00+01:00", "2027-11-01T09:00:00+01:00"}},
		// New York springs forward at 02:00 EST on 14 March.
		{window("new york spring 02:30", "America/New_York", "2027-03-13", 2, 30, "20270316T040000Z"),
			[]string{"2027-03-13T02:30:00-05:00", "2027-03-14T03:30:00-04:00", "2027-03-15T02:30:00-04:00"}},
		{window("new york spring 09:00", "America/New_York", "2027-03-13", 9, 0, "20270316T040000Z"),
			[]string{"2027-03-13T09:00:00-05:00", "2027-03-14T09:00:00-04:00", "2027-03-15T09:00:00-04:00"}},
		// New York falls back at 02:00 EDT on 7 November: 01:30 exists
		// twice (the first, EDT), 02:30 once (EST).
		{window("new york fall 01:30", "America/New_York", "2027-11-06", 1, 30, "20271109T050000Z"),
			[]string{"2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"}},
		{window("new york fall 02:30", "America/New_York", "2027-11-06", 2, 30, "20271109T050000Z"),
			[]string{"2027-11-06T02:30:00-04:00", "2027-11-07T02:30:00-05:00", "2027-11-08T02:30:00-05:00"}},
		{window("new york fall 09:00", "America/New_York", "2027-11-06", 9, 0, "20271109T050000Z"),
			[]string{"2027-11-06T09:00:00-04:00", "2027-11-07T09:00:00-05:00", "2027-11-08T09:00:00-05:00"}},
		// The 31st: months without one have no occurrence.
		{g.schedule("the 31st", "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=8;BYMINUTE=0;BYSECOND=0", "America/New_York", start),
			[]string{"2027-01-31T08:00:00-05:00", "2027-03-31T08:00:00-04:00", "2027-05-31T08:00:00-04:00",
				"2027-07-31T08:00:00-04:00", "2027-08-31T08:00:00-04:00", "2027-10-31T08:00:00-04:00",
				"2027-12-31T08:00:00-05:00", "2028-01-31T08:00:00-05:00", "2028-03-31T08:00:00-04:00"}},
		// The last day of every month, late in the evening (the UTC date
		// is the same; Berlin's offset changes through the year).
		{g.schedule("last day", "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=30;BYSECOND=0", "Europe/Berlin", start),
			[]string{"2027-01-31T23:30:00+01:00", "2027-02-28T23:30:00+01:00", "2027-03-31T23:30:00+02:00",
				"2027-04-30T23:30:00+02:00", "2027-05-31T23:30:00+02:00", "2027-06-30T23:30:00+02:00",
				"2027-07-31T23:30:00+02:00", "2027-08-31T23:30:00+02:00", "2027-09-30T23:30:00+02:00",
				"2027-10-31T23:30:00+01:00", "2027-11-30T23:30:00+01:00", "2027-12-31T23:30:00+01:00",
				"2028-01-31T23:30:00+01:00", "2028-02-29T23:30:00+01:00", "2028-03-31T23:30:00+02:00"}},
		// The last business day (Monday to Friday) of every month.
		{g.preset("last business day", schedules.MonthlyLastBusinessDay, "17:00", "Europe/Berlin", start),
			[]string{"2027-01-29T17:00:00+01:00", "2027-02-26T17:00:00+01:00", "2027-03-31T17:00:00+02:00",
				"2027-04-30T17:00:00+02:00", "2027-05-31T17:00:00+02:00", "2027-06-30T17:00:00+02:00",
				"2027-07-30T17:00:00+02:00", "2027-08-31T17:00:00+02:00", "2027-09-30T17:00:00+02:00",
				"2027-10-29T17:00:00+02:00", "2027-11-30T17:00:00+01:00", "2027-12-31T17:00:00+01:00",
				"2028-01-31T17:00:00+01:00", "2028-02-29T17:00:00+01:00", "2028-03-31T17:00:00+02:00"}},
		// Yearly on 29 February (the YEARLY preset from a leap day): none
		// in 2027, one in 2028.
		{g.preset("leap day", schedules.Yearly, "09:00", "America/New_York", mustTime(t, "2024-02-29T14:00:00Z")),
			[]string{"2028-02-29T09:00:00-05:00"}},
	}
	end := mustTime(t, "2028-04-01T12:00:00Z")
	// Steps of 15 minutes on the days of an offset change and the leap
	// day, of 6 hours elsewhere (a few seconds in all): every schedule's
	// occurrences are at least 23 hours apart, so no step misses one.
	fine := [][2]string{{"2027-03-13", "2027-03-16"}, {"2027-03-27", "2027-03-30"}, {"2027-10-30", "2027-11-02"},
		{"2027-11-06", "2027-11-09"}, {"2028-02-28", "2028-03-01"}}
	step := func(t0 time.Time) time.Duration {
		d := t0.UTC().Format("2006-01-02")
		for _, f := range fine {
			if d >= f[0] && d < f[1] {
				return 15 * time.Minute
			}
		}
		return 6 * time.Hour
	}
	made, runs := 0, 0
	for g.now = start; !g.now.After(end); g.now = g.now.Add(step(g.now)) {
		made += g.generate()
		runs++
	}
	t.Logf("%d runs, %d tasks", runs, made)
	total := 0
	for _, w := range wants {
		got := g.occurrences(w.sch.ID)
		var gotS []string
		for _, o := range got {
			gotS = append(gotS, o.In(time.UTC).Format(time.RFC3339))
		}
		var wantS []string
		for _, s := range w.at {
			wantS = append(wantS, mustTime(t, s).UTC().Format(time.RFC3339))
		}
		if strings.Join(gotS, " ") != strings.Join(wantS, " ") {
			t.Errorf("%s:\n got %v\nwant %v", w.sch.Name, gotS, wantS)
		}
		if n := len(g.events(w.sch.ID, taskscheduleevent.KindSKIPPED)); n != 0 {
			t.Errorf("%s: %d SKIPPED entries", w.sch.Name, n)
		}
		if n := len(g.events(w.sch.ID, taskscheduleevent.KindGENERATED)); n != len(w.at) {
			t.Errorf("%s: %d GENERATED entries, want %d", w.sch.Name, n, len(w.at))
		}
		total += len(w.at)
	}
	if made != total {
		t.Errorf("Generate reported %d tasks, want %d", made, total)
	}
	if n := g.st.Client.TaskSchedule.Query().Where(taskschedule.Active(true), taskschedule.NextOccurrenceAtLTE(end)).CountX(sys()); n != 0 {
		t.Errorf("%d schedules left due", n)
	}
}
