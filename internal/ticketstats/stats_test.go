package ticketstats

// Tests of Compute on both backends against hand-built histories (tickets
// and their entries inserted with ent at chosen instants; every figure
// below is worked out by hand from the timelines in newWorld's comment), and
// a randomized comparison of the SQL path with the Go measurement of the
// same history.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func utc(month time.Month, day, hour, min int) time.Time {
	return time.Date(2024, month, day, hour, min, 0, 0, time.UTC)
}

// step is one entry of a hand-built history.
type step struct {
	at     time.Time
	kind   ticketevent.Kind
	status ticket.Status // "" for none
}

type fixture struct {
	t      *testing.T
	client *ent.Client
}

func (f *fixture) ticket(site, cat int, prio ticket.Priority, assignees []int, steps ...step) *ent.Ticket {
	f.t.Helper()
	ctx := authz.System(context.Background())
	tk := f.client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetCategoryID(cat).SetSiteID(site).
		SetPriority(prio).SetStatus(steps[0].status).SetCreatedAt(steps[0].at).AddAssigneeIDs(assignees...).SaveX(ctx)
	for _, s := range steps {
		c := f.client.TicketEvent.Create().SetKind(s.kind).SetTicketID(tk.ID).SetTicketNumber(tk.Number()).
			SetSiteID(site).SetCreatedAt(s.at)
		if s.status != "" {
			c.SetStatus(string(s.status))
		}
		c.SaveX(ctx)
	}
	return tk
}

// world: March 2024, UTC (from 03-01 to 04-01; Paris is UTC+1 until its
// DST starts on 03-31 at 01:00 UTC, UTC+2 after).
//
//	T1 site1 catA HIGH   u1     NEW 03-04 09:00 · ASSIGNED (assignment) 10:00 · IN_PROGRESS 12:00 · CLOSED 03-05 09:00
//	T2 site1 catA MEDIUM u1,u2  NEW 03-06 00:00 · (update) 01:00 · ASSIGNED (assignment) 02:00 · CLOSED 06:00
//	                            · ASSIGNED (reopened) 03-07 06:00 · CLOSED 03-08 06:00
//	T3 site2 catB HIGH   -      TRIAGE 03-10 12:00 · ANALYSIS 12:30 · RESOLVED 03-11 12:00 · CLOSED 03-12 12:00
//	T4 site2 catB LOW    -      NEW 03-20 00:00
//	T5 site1 catA HIGH   -      NEW 03-31 23:00 · ASSIGNED 04-01 01:00 (after the range)
//	T6 site1 catA HIGH   -      NEW 02-28 (before the range)
//
// Responses (s): T1 3600, T2 7200 (the update answers nothing), T3 1800.
// Resolutions: T1 86400, T2 194400 (the final one), T3 86400 (at RESOLVED).
type world struct {
	site1, site2, catA, catB, u1, u2 int
}

func newWorld(t *testing.T, client *ent.Client) *world {
	ctx := authz.System(context.Background())
	f := &fixture{t: t, client: client}
	w := &world{
		site1: client.Site.Create().SetName("site1").SaveX(ctx).ID, site2: client.Site.Create().SetName("site2").SaveX(ctx).ID,
		catA: client.Category.Create().SetName("A").SaveX(ctx).ID, catB: client.Category.Create().SetName("B").SaveX(ctx).ID,
		u1: client.User.Create().SetLogin("u1").SetDisplayName("u1").SaveX(ctx).ID,
		u2: client.User.Create().SetLogin("u2").SetDisplayName("u2").SaveX(ctx).ID,
	}
	const (
		created = ticketevent.KindCREATED
		moved   = ticketevent.KindTRANSITIONED
		assign  = ticketevent.KindASSIGNED
		update  = ticketevent.KindUPDATED
	)
	f.ticket(w.site1, w.catA, ticket.PriorityHIGH, []int{w.u1}, step{utc(3, 4, 9, 0), created, "NEW"},
		step{utc(3, 4, 10, 0), assign, "ASSIGNED"}, step{utc(3, 4, 12, 0), moved, "IN_PROGRESS"}, step{utc(3, 5, 9, 0), moved, "CLOSED"})
	f.ticket(w.site1, w.catA, ticket.PriorityMEDIUM, []int{w.u1, w.u2}, step{utc(3, 6, 0, 0), created, "NEW"},
		step{utc(3, 6, 1, 0), update, ""}, step{utc(3, 6, 2, 0), assign, "ASSIGNED"}, step{utc(3, 6, 6, 0), moved, "CLOSED"},
		step{utc(3, 7, 6, 0), moved, "ASSIGNED"}, step{utc(3, 8, 6, 0), moved, "CLOSED"})
	f.ticket(w.site2, w.catB, ticket.PriorityHIGH, nil, step{utc(3, 10, 12, 0), created, "TRIAGE"},
		step{utc(3, 10, 12, 30), moved, "ANALYSIS"}, step{utc(3, 11, 12, 0), moved, "RESOLVED"}, step{utc(3, 12, 12, 0), moved, "CLOSED"})
	f.ticket(w.site2, w.catB, ticket.PriorityLOW, nil, step{utc(3, 20, 0, 0), created, "NEW"})
	f.ticket(w.site1, w.catA, ticket.PriorityHIGH, nil, step{utc(3, 31, 23, 0), created, "NEW"}, step{utc(4, 1, 1, 0), assign, "ASSIGNED"})
	f.ticket(w.site1, w.catA, ticket.PriorityHIGH, nil, step{utc(2, 28, 0, 0), created, "NEW"})
	return w
}

func admin() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Login: "admin", Role: viewer.RoleAdmin})
}

func forEachBackend(t *testing.T, fn func(t *testing.T, s *Service, w *world)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			w := newWorld(t, st.Client)
			fn(t, &Service{Client: st.Client, Dialect: st.Dialect, Now: func() time.Time { return utc(6, 1, 0, 0) }}, w)
		})
	}
}

// stats is Durations written as the test expects it: count, then mean, p50, p90.
func stats(n int, f ...float64) Durations {
	d := Durations{Count: n}
	if n > 0 {
		d.Mean, d.P50, d.P90 = ptr(f[0]), ptr(f[1]), ptr(f[2])
	}
	return d
}

func viewerPerms() []schematype.Permission {
	return []schematype.Permission{schematype.PermissionTicketView}
}

func show(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestMetricsOfHandBuiltHistories(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Service, w *world) {
		q := Query{From: utc(3, 1, 0, 0), To: utc(4, 1, 0, 0), TimeZone: "UTC"}
		r, err := s.Compute(admin(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Groups) != 1 || !r.AsOf.Equal(q.To) {
			t.Fatalf("asOf %v, groups %s", r.AsOf, show(r.Groups))
		}
		g := r.Groups[0]
		if g.Tickets != 5 {
			t.Errorf("tickets %d, want 5 (T6 is before the range)", g.Tickets)
		}
		if want := stats(3, 4200, 3600, 6480); !reflect.DeepEqual(g.Response, want) {
			t.Errorf("response %s, want %s", show(g.Response), show(want))
		}
		if want := stats(3, 122400, 86400, 172800); !reflect.DeepEqual(g.Resolution, want) {
			t.Errorf("resolution %s, want %s", show(g.Resolution), show(want))
		}
		wantTimes := []StatusTime{ // in workflow order
			{"NEW", 4, 1051200, 262800}, {"ASSIGNED", 2, 108000, 54000}, {"IN_PROGRESS", 1, 75600, 75600},
			{"TRIAGE", 1, 1800, 1800}, {"ANALYSIS", 1, 84600, 84600}, {"RESOLVED", 1, 86400, 86400},
			{"CLOSED", 3, 2300400 + 2138400 + 1684800, (2300400 + 2138400 + 1684800) / 3.0},
		}
		if !reflect.DeepEqual(g.TimeInStatus, wantTimes) {
			t.Errorf("time in status\n%s, want\n%s", show(g.TimeInStatus), show(wantTimes))
		}

		// By site and priority.
		q.GroupBy = []Group{GroupSite, GroupPriority}
		r, err = s.Compute(admin(), q)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Site     int
			Priority ticket.Priority
			Tickets  int
			Response Durations
		}
		var got []row
		for _, g := range r.Groups {
			got = append(got, row{g.Site.ID, *g.Priority, g.Tickets, g.Response})
		}
		want := []row{
			{w.site1, "HIGH", 2, stats(1, 3600, 3600, 3600)}, {w.site1, "MEDIUM", 1, stats(1, 7200, 7200, 7200)},
			{w.site2, "HIGH", 1, stats(1, 1800, 1800, 1800)}, {w.site2, "LOW", 1, stats(0)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("by site and priority\n%s, want\n%s", show(got), show(want))
		}

		// By assignee: T2 counts for both of its assignees; the others are unassigned.
		q.GroupBy = []Group{GroupAssignee}
		r, err = s.Compute(admin(), q)
		if err != nil {
			t.Fatal(err)
		}
		var byUser []string
		for _, g := range r.Groups {
			login := "-"
			if g.Assignee != nil {
				login = g.Assignee.Login
			}
			byUser = append(byUser, fmt.Sprintf("%s:%d:%s", login, g.Tickets, show(g.Response)))
		}
		wantUsers := []string{"-:3:" + show(stats(1, 1800, 1800, 1800)), "u1:2:" + show(stats(2, 5400, 5400, 6840)), "u2:1:" + show(stats(1, 7200, 7200, 7200))}
		if !reflect.DeepEqual(byUser, wantUsers) {
			t.Errorf("by assignee %v, want %v", byUser, wantUsers)
		}

		// Weeks in Paris: T3 (Sunday 03-10) is in the week of 03-04; T5
		// (03-31 23:00 UTC, 04-01 01:00 CEST) in the week of 04-01.
		week := PeriodWeek
		q.GroupBy, q.Period, q.TimeZone = []Group{GroupPeriod}, &week, "Europe/Paris"
		r, err = s.Compute(admin(), q)
		if err != nil {
			t.Fatal(err)
		}
		var weeks []string
		for _, g := range r.Groups {
			weeks = append(weeks, fmt.Sprintf("%s:%d", g.PeriodStart.UTC().Format(time.RFC3339), g.Tickets))
		}
		wantWeeks := []string{"2024-03-03T23:00:00Z:3", "2024-03-17T23:00:00Z:1", "2024-03-31T22:00:00Z:1"}
		if !reflect.DeepEqual(weeks, wantWeeks) {
			t.Errorf("weeks in Paris %v, want %v", weeks, wantWeeks)
		}
		day := PeriodDay
		q.Period, q.TimeZone = &day, "UTC"
		r, _ = s.Compute(admin(), q)
		if last := r.Groups[len(r.Groups)-1]; !last.PeriodStart.Equal(utc(3, 31, 0, 0)) || len(r.Groups) != 5 {
			t.Errorf("days in UTC: %d groups, the last %v", len(r.Groups), last.PeriodStart)
		}

		// As of an earlier now (03-10 12:40): T3 is responded to, not resolved;
		// T4 and T5 do not exist yet.
		early := *s
		early.Now = func() time.Time { return utc(3, 10, 12, 40) }
		r, err = early.Compute(admin(), Query{From: utc(3, 1, 0, 0), To: utc(4, 1, 0, 0), TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		g = r.Groups[0]
		// T1 closed from 03-05 09:00, T2 a day from 03-06 06:00 and from 03-08 06:00.
		const closedEarly = 5*86400 + 3*3600 + 40*60 + 86400 + 2*86400 + 6*3600 + 40*60
		if g.Tickets != 3 || g.Response.Count != 3 || g.Resolution.Count != 2 || !r.AsOf.Equal(utc(3, 10, 12, 40)) {
			t.Errorf("as of 03-10 12:40: %s", show(r))
		}
		if want := []StatusTime{{"NEW", 2, 10800, 5400}, {"ASSIGNED", 2, 108000, 54000}, {"IN_PROGRESS", 1, 75600, 75600},
			{"TRIAGE", 1, 1800, 1800}, {"ANALYSIS", 1, 600, 600}, {"CLOSED", 2, closedEarly, closedEarly / 2}}; !reflect.DeepEqual(g.TimeInStatus, want) {
			t.Errorf("time in status as of 03-10 12:40\n%s, want\n%s", show(g.TimeInStatus), show(want))
		}

		// The site rule: a viewer of site2 measures T3 and T4 only.
		ana := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: w.u1, Login: "u1", Role: viewer.RoleAnalyst,
			SiteIDs: []int{w.site2}, Permissions: viewerPerms()})
		r, err = s.Compute(ana, Query{From: utc(3, 1, 0, 0), To: utc(4, 1, 0, 0), TimeZone: "UTC", GroupBy: []Group{GroupSite}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Groups) != 1 || r.Groups[0].Site.ID != w.site2 || r.Groups[0].Tickets != 2 {
			t.Errorf("site2's viewer: %s", show(r.Groups))
		}
		// The filter: T1 and T3 are HIGH in the range.
		r, _ = s.Compute(admin(), Query{From: utc(3, 1, 0, 0), To: utc(3, 31, 0, 0), TimeZone: "UTC",
			Filter: &tickets.Filter{Priorities: []ticket.Priority{ticket.PriorityHIGH}}})
		if r.Groups[0].Tickets != 2 || !reflect.DeepEqual(r.Groups[0].Resolution, stats(2, 86400, 86400, 86400)) {
			t.Errorf("HIGH: %s", show(r.Groups))
		}
	})
}

func TestMetricsBadInputs(t *testing.T) {
	s := &Service{Dialect: dialect.SQLite}
	from := utc(3, 1, 0, 0)
	month := PeriodMonth
	for _, c := range []struct {
		q     Query
		field string
	}{
		{Query{From: from, To: from, TimeZone: "UTC"}, "to"},
		{Query{From: from, To: from.Add(-time.Hour), TimeZone: "UTC"}, "to"},
		{Query{From: from, To: from.Add(MaxRange + time.Second), TimeZone: "UTC"}, "to"},
		{Query{From: from, To: from.Add(time.Hour), TimeZone: "Mars/Olympus"}, "timeZone"},
		{Query{From: from, To: from.Add(time.Hour), TimeZone: "Local"}, "timeZone"},
		{Query{From: from, To: from.Add(time.Hour), TimeZone: "UTC", GroupBy: []Group{GroupSite, GroupSite}}, "groupBy"},
		{Query{From: from, To: from.Add(time.Hour), TimeZone: "UTC", Period: &month}, "period"},
		{Query{From: from, To: from.Add(time.Hour), TimeZone: "UTC", Filter: &tickets.Filter{Sites: make([]int, 101)}}, "filter.sites"},
	} {
		_, err := s.Compute(admin(), c.q)
		if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != c.field {
			t.Errorf("%+v: %v, want BAD_USER_INPUT on %s", c.q, err, c.field)
		}
	}
}

// TestMetricsSQLAgreesWithTheHistory: on PostgreSQL, for random histories
// and random queries, the SQL path's result is the Go measurement of the
// same history, figure for figure.
func TestMetricsSQLAgreesWithTheHistory(t *testing.T) {
	st := testdb.Open(t, dialect.Postgres, testdb.Options{})
	client := st.Client
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))
	ctx := authz.System(context.Background())
	f := &fixture{t: t, client: client}
	var sites, cats, users []int
	for i := range 3 {
		sites = append(sites, client.Site.Create().SetName(fmt.Sprint("s", i)).SaveX(ctx).ID)
		cats = append(cats, client.Category.Create().SetName(fmt.Sprint("c", i)).SaveX(ctx).ID)
		users = append(users, client.User.Create().SetLogin(fmt.Sprint("u", i)).SetDisplayName("u").SaveX(ctx).ID)
	}
	statuses := []ticket.Status{"NEW", "ASSIGNED", "IN_PROGRESS", "SUBMITTED", "CLOSED", "TRIAGE", "RESOLVED", "INVALID"}
	kinds := []ticketevent.Kind{ticketevent.KindTRANSITIONED, ticketevent.KindASSIGNED, ticketevent.KindUPDATED, ticketevent.KindMEMO_ADDED}
	base := utc(3, 1, 0, 0)
	for range 120 {
		at := base.Add(time.Duration(rng.IntN(40*24*60)) * time.Minute).Add(time.Duration(rng.IntN(1e6)) * time.Microsecond)
		steps := []step{{at, ticketevent.KindCREATED, statuses[rng.IntN(len(statuses))]}}
		for range rng.IntN(6) {
			if rng.IntN(4) > 0 { // some entries share an instant
				at = at.Add(time.Duration(rng.IntN(3*24*3600)) * time.Second)
			}
			k := kinds[rng.IntN(len(kinds))]
			var st ticket.Status
			if k != ticketevent.KindUPDATED && k != ticketevent.KindMEMO_ADDED && rng.IntN(3) > 0 {
				st = statuses[rng.IntN(len(statuses))]
			}
			steps = append(steps, step{at, k, st})
		}
		var as []int
		for _, u := range users {
			if rng.IntN(3) == 0 {
				as = append(as, u)
			}
		}
		f.ticket(sites[rng.IntN(3)], cats[rng.IntN(3)], []ticket.Priority{"HIGH", "MEDIUM", "LOW"}[rng.IntN(3)], as, steps...)
	}
	s := &Service{Client: client, Dialect: dialect.Postgres, Now: func() time.Time { return base.Add(30 * 24 * time.Hour) }}
	dims := []Group{GroupCategory, GroupSite, GroupPriority, GroupAssignee, GroupPeriod}
	for i := range 40 {
		q := Query{From: base.Add(time.Duration(rng.IntN(10*24)) * time.Hour), TimeZone: []string{"UTC", "America/New_York", "Asia/Kolkata"}[rng.IntN(3)]}
		q.To = q.From.Add(time.Duration(1+rng.IntN(40*24)) * time.Hour)
		for _, d := range dims {
			if rng.IntN(3) == 0 {
				q.GroupBy = append(q.GroupBy, d)
			}
		}
		for _, g := range q.GroupBy {
			if g == GroupPeriod {
				per := []Period{PeriodDay, PeriodWeek, PeriodMonth}[rng.IntN(3)]
				q.Period = &per
			}
		}
		if rng.IntN(3) == 0 {
			q.Filter = &tickets.Filter{Sites: sites[:1+rng.IntN(2)]}
		}
		p, err := s.plan(q)
		if err != nil {
			t.Fatal(err)
		}
		fromSQL, err := s.inSQL(admin(), p)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := client.Ticket.Query().Where(p.preds...).All(admin())
		if err != nil {
			t.Fatal(err)
		}
		fromGo, err := measureAll(admin(), client, p, ts)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.result(admin(), p, fromSQL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.result(admin(), p, fromGo)
		if show(a) != show(b) {
			t.Fatalf("query %d %s:\nSQL %s\nGo  %s", i, show(q), show(a), show(b))
		}
	}
}
