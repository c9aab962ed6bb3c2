package trend

// Tests of Compute on both backends against hand-made status histories:
// tickets and their history entries are inserted directly with ent at
// chosen instants, and every expected bar below is worked out by hand from
// the timelines in newWorld's comment.

import (
	"context"
	"slices"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/migrate"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// forEachBackend runs fn on an empty database of each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, client *ent.Client)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) { fn(t, testdb.Open(t, b, testdb.Options{}).Client) })
	}
}

// step is one status entry of a hand-made history.
type step struct {
	at     time.Time
	status ticket.Status // "" for an entry that did not set the status
}

func utc(month time.Month, day, hour, min, sec, nsec int) time.Time {
	return time.Date(2024, month, day, hour, min, sec, nsec, time.UTC)
}

// fixture inserts tickets with their histories.
type fixture struct {
	t      *testing.T
	client *ent.Client
	cat    int
}

func newFixture(t *testing.T, client *ent.Client) *fixture {
	cat := client.Category.Create().SetName("Alerts").SaveX(authz.System(context.Background()))
	return &fixture{t: t, client: client, cat: cat.ID}
}

func (f *fixture) site(name string) int {
	return f.client.Site.Create().SetName(name).SaveX(authz.System(context.Background())).ID
}

// ticket creates a ticket of site whose history is steps (the first is its
// CREATED entry) and whose status is the last step's.
func (f *fixture) ticket(site int, steps ...step) *ent.Ticket {
	f.t.Helper()
	ctx := authz.System(context.Background())
	status := steps[0].status
	for _, s := range steps {
		if s.status != "" {
			status = s.status
		}
	}
	tk := f.client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetCategoryID(f.cat).SetSiteID(site).
		SetStatus(status).SetCreatedAt(steps[0].at).SetUpdatedAt(steps[len(steps)-1].at).SaveX(ctx)
	for i, s := range steps {
		kind := ticketevent.KindTRANSITIONED
		switch {
		case i == 0:
			kind = ticketevent.KindCREATED
		case s.status == "":
			kind = ticketevent.KindUPDATED
		}
		f.event(tk, kind, s)
	}
	return tk
}

func (f *fixture) event(tk *ent.Ticket, kind ticketevent.Kind, s step) {
	f.t.Helper()
	c := f.client.TicketEvent.Create().SetKind(kind).SetTicketID(tk.ID).SetTicketNumber(tk.Number()).
		SetSiteID(tk.SiteID).SetCreatedAt(s.at)
	if s.status != "" {
		c.SetStatus(string(s.status))
	}
	c.SaveX(authz.System(context.Background()))
}

// world is the shared fixture. Timelines, in UTC (2024; US DST starts on
// March 10 at 2:00 in New York, which is UTC-5 before and UTC-4 after;
// Kolkata is UTC+5:30):
//
//	A site1  NEW 03-09 12:00 · ASSIGNED 03-10 04:30 (23:30 EST, just before NY midnight)
//	         · IN_PROGRESS 03-11 03:59:59.5 (23:59:59.5 EDT, just before NY midnight)
//	B site1  TRIAGE 03-10 10:00 · ANALYSIS 03-11 04:30 (00:30 EDT, just after NY
//	         midnight; within March 10 if that day were 24 hours long)
//	C site1  NEW 03-09 18:45 (00:15 IST, just after Kolkata midnight)
//	         · CLOSED 03-10 18:29:59 (23:59:59 IST, just before Kolkata midnight)
//	D site1  NEW 03-13 06:00: after the last day ends in every zone
//	E site1  NEW 03-01 · ASSIGNED 03-02 · (an entry without status 03-10 12:00)
//	         · CLOSED exactly 03-11 00:00 (a day is [midnight, midnight): 03-11's)
//	G site2  NEW 03-08
//	H site2  NEW 03-09 10:00 · IN_PROGRESS and CLOSED both at 03-10 10:00 (CLOSED
//	         written second: the later entry wins a tie)
//	F site1  NEW 03-01, deleted 03-05: its history has no ticket
type world struct {
	site1, site2 int
}

func newWorld(t *testing.T, client *ent.Client) *world {
	f := newFixture(t, client)
	w := &world{site1: f.site("site1"), site2: f.site("site2")}
	f.ticket(w.site1, step{utc(3, 9, 12, 0, 0, 0), "NEW"}, step{utc(3, 10, 4, 30, 0, 0), "ASSIGNED"},
		step{utc(3, 11, 3, 59, 59, 5e8), "IN_PROGRESS"})
	f.ticket(w.site1, step{utc(3, 10, 10, 0, 0, 0), "TRIAGE"}, step{utc(3, 11, 4, 30, 0, 0), "ANALYSIS"})
	f.ticket(w.site1, step{utc(3, 9, 18, 45, 0, 0), "NEW"}, step{utc(3, 10, 18, 29, 59, 0), "CLOSED"})
	f.ticket(w.site1, step{utc(3, 13, 6, 0, 0, 0), "NEW"})
	f.ticket(w.site1, step{utc(3, 1, 9, 0, 0, 0), "NEW"}, step{utc(3, 2, 9, 0, 0, 0), "ASSIGNED"},
		step{utc(3, 10, 12, 0, 0, 0), ""}, step{utc(3, 11, 0, 0, 0, 0), "CLOSED"})
	f.ticket(w.site2, step{utc(3, 8, 0, 0, 0, 0), "NEW"})
	f.ticket(w.site2, step{utc(3, 9, 10, 0, 0, 0), "NEW"}, step{utc(3, 10, 10, 0, 0, 0), "IN_PROGRESS"},
		step{utc(3, 10, 10, 0, 0, 0), "CLOSED"})
	// F: what a deleted ticket's history looks like (ticket_id NULL), from
	// before the series.
	client.TicketEvent.Create().SetKind(ticketevent.KindCREATED).SetTicketNumber(999).SetSiteID(w.site1).
		SetStatus("NEW").SetCreatedAt(utc(3, 1, 0, 0, 0, 0)).SaveX(authz.System(context.Background()))
	client.TicketEvent.Create().SetKind(ticketevent.KindDELETED).SetTicketNumber(999).SetSiteID(w.site1).
		SetCreatedAt(utc(3, 5, 0, 0, 0, 0)).SaveX(authz.System(context.Background()))
	f.rebuild()
	return w
}

// rebuild rolls the history written directly up, as the seeds do.
func (f *fixture) rebuild() {
	f.t.Helper()
	if err := Rebuild(context.Background(), f.client, ""); err != nil {
		f.t.Fatal(err)
	}
}

var (
	march9  = utc(3, 9, 0, 0, 0, 0)
	march12 = utc(3, 12, 0, 0, 0, 0)
)

// bars are expected counts per day; statuses not named are 0.
type bars []map[ticket.Status]int

// check compares s with want, day by day from first, reporting statuses.
func check(t *testing.T, s *Series, err error, zone string, first time.Time, statuses []ticket.Status, want bars) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if s.TimeZone != zone || len(s.Days) != len(want) {
		t.Fatalf("series in %q with %d days, want %q with %d", s.TimeZone, len(s.Days), zone, len(want))
	}
	for d, day := range s.Days {
		if date := first.AddDate(0, 0, d); !day.Date.Equal(date) || day.Date.Location() != time.UTC {
			t.Errorf("day %d: date %v, want %v", d, day.Date, date)
		}
		total := 0
		for _, n := range want[d] {
			total += n
		}
		got := make([]ticket.Status, len(day.Counts))
		for i, c := range day.Counts {
			got[i] = c.Status
			if c.Count != want[d][c.Status] {
				t.Errorf("%s: %s = %d, want %d", day.Date.Format(time.DateOnly), c.Status, c.Count, want[d][c.Status])
			}
		}
		if !slices.Equal(got, statuses) {
			t.Errorf("%s: statuses %v, want %v", day.Date.Format(time.DateOnly), got, statuses)
		}
		if day.Total != total {
			t.Errorf("%s: total %d, want %d", day.Date.Format(time.DateOnly), day.Total, total)
		}
	}
}

func admin() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Login: "admin", Role: viewer.RoleAdmin})
}

func analyst(sites ...int) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 2, Login: "ana", Role: viewer.RoleAnalyst,
		Permissions: []schematype.Permission{schematype.PermissionTicketView}, SiteIDs: sites})
}

func TestTrendTimeZones(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client *ent.Client) {
		newWorld(t, client)
		const (
			NEW, ASSIGNED, IN_PROGRESS = ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS
			TRIAGE, ANALYSIS, CLOSED   = ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusCLOSED
		)
		tests := []struct {
			zone string
			want bars
		}{
			// Days end at 03-10 00:00, 03-11 00:00, 03-12 00:00, 03-13 00:00 UTC.
			{"UTC", bars{
				{NEW: 4, ASSIGNED: 1},                            // A C G H new; E
				{NEW: 1, ASSIGNED: 2, TRIAGE: 1, CLOSED: 2},      // G; A E; B; C H (E closes at midnight: the next day's)
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, // G; A; B; C E H
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, // no change
			}},
			// Days end at 03-10 05:00, then (March 10 has 23 hours) 03-11 04:00,
			// 03-12 04:00, 03-13 04:00 UTC.
			{"America/New_York", bars{
				{NEW: 3, ASSIGNED: 2},                            // C G H; A E
				{NEW: 1, IN_PROGRESS: 1, TRIAGE: 1, CLOSED: 3},   // G; A; B (not yet ANALYSIS); C E H
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, //
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, //
			}},
			// Days end at 03-09 18:30, 03-10 18:30, 03-11 18:30, 03-12 18:30 UTC.
			{"Asia/Kolkata", bars{
				{NEW: 3, ASSIGNED: 1},                            // A G H (not yet C); E
				{NEW: 1, ASSIGNED: 2, TRIAGE: 1, CLOSED: 2},      // G; A E; B; C H
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, // G; A; B; C E H
				{NEW: 1, IN_PROGRESS: 1, ANALYSIS: 1, CLOSED: 3}, //
			}},
		}
		for _, tt := range tests {
			t.Run(tt.zone, func(t *testing.T) {
				s, err := Compute(admin(), client, nil, march9, march12, tt.zone)
				check(t, s, err, tt.zone, march9, Statuses, tt.want)
			})
		}

		// One day, given as any instant of it.
		s, err := Compute(admin(), client, nil, utc(3, 10, 23, 0, 0, 0), utc(3, 10, 1, 0, 0, 0), "UTC")
		check(t, s, err, "UTC", utc(3, 10, 0, 0, 0, 0), Statuses, bars{{NEW: 1, ASSIGNED: 2, TRIAGE: 1, CLOSED: 2}})
	})
}

func TestTrendFiltersAndScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client *ent.Client) {
		w := newWorld(t, client)
		const NEW, CLOSED = ticket.StatusNEW, ticket.StatusCLOSED
		site2 := bars{{NEW: 2}, {NEW: 1, CLOSED: 1}, {NEW: 1, CLOSED: 1}, {NEW: 1, CLOSED: 1}} // G H
		none := bars{{}, {}, {}, {}}

		s, err := Compute(admin(), client, &tickets.Filter{Sites: []int{w.site2}}, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, Statuses, site2)

		// statuses selects the segments, in enum order, without filtering
		// tickets by their current status.
		f := &tickets.Filter{Statuses: []ticket.Status{CLOSED, NEW, CLOSED}}
		s, err = Compute(admin(), client, f, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, []ticket.Status{NEW, CLOSED},
			bars{{NEW: 4}, {NEW: 1, CLOSED: 2}, {NEW: 1, CLOSED: 3}, {NEW: 1, CLOSED: 3}})
		s, err = Compute(admin(), client, &tickets.Filter{Statuses: []ticket.Status{}}, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, []ticket.Status{}, none)

		// The other filters select tickets on their current fields: created
		// before 03-09 23:00 in site1 are A, C and E.
		to := utc(3, 9, 23, 0, 0, 0)
		s, err = Compute(admin(), client, &tickets.Filter{CreatedTo: &to, Sites: []int{w.site1}}, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, Statuses, bars{
			{ticket.StatusNEW: 2, ticket.StatusASSIGNED: 1}, // A C; E
			{ticket.StatusASSIGNED: 2, CLOSED: 1},           // A E; C
			{ticket.StatusIN_PROGRESS: 1, CLOSED: 2},        // A; C E
			{ticket.StatusIN_PROGRESS: 1, CLOSED: 2},        //
		})

		// A non-admin counts only their sites' tickets, whatever the filter.
		s, err = Compute(analyst(w.site2), client, nil, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, Statuses, site2)
		s, err = Compute(analyst(w.site2), client, &tickets.Filter{Sites: []int{w.site1}}, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, Statuses, none)
		s, err = Compute(analyst(), client, nil, march9, march12, "UTC")
		check(t, s, err, "UTC", march9, Statuses, none)

		// Without TICKET_VIEW, or without a viewer, nothing is read.
		noPerm := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 3, Role: viewer.RoleAnalyst, SiteIDs: []int{w.site1}})
		for _, ctx := range []context.Context{noPerm, context.Background()} {
			if _, err := Compute(ctx, client, nil, march9, march12, "UTC"); err == nil {
				t.Error("a viewer without TICKET_VIEW read the trend")
			}
		}
	})
}

// A past day's bar is history: moving a ticket today changes today's bar
// (and the days after it, counted as of now) only.
func TestTrendPastDaysDoNotChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client *ent.Client) {
		f := newFixture(t, client)
		site := f.site("s")
		now := time.Now().UTC()
		yesterday := civil(now).AddDate(0, 0, -1)
		tomorrow := yesterday.AddDate(0, 0, 2)
		tk := f.ticket(site, step{yesterday.Add(time.Hour), ticket.StatusNEW})
		f.rebuild()

		s, err := Compute(admin(), client, nil, yesterday, tomorrow, "UTC")
		check(t, s, err, "UTC", yesterday, Statuses, bars{{ticket.StatusNEW: 1}, {ticket.StatusNEW: 1}, {ticket.StatusNEW: 1}})

		tk.Update().SetStatus(ticket.StatusASSIGNED).ExecX(authz.System(context.Background()))
		f.event(tk, ticketevent.KindASSIGNED, step{time.Now().UTC(), ticket.StatusASSIGNED})
		f.rebuild()
		s, err = Compute(admin(), client, nil, yesterday, tomorrow, "UTC")
		check(t, s, err, "UTC", yesterday, Statuses, bars{{ticket.StatusNEW: 1}, {ticket.StatusASSIGNED: 1}, {ticket.StatusASSIGNED: 1}})
	})
}

func TestTrendValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client *ent.Client) {
		empty := ""
		tests := []struct {
			name     string
			f        *tickets.Filter
			from, to time.Time
			zone     string
			field    string
		}{
			{"unknown zone", nil, march9, march12, "Mars/Olympus_Mons", "timeZone"},
			{"server's zone", nil, march9, march12, "Local", "timeZone"},
			{"empty zone", nil, march9, march12, "", "timeZone"},
			{"to before from", nil, march12, march9, "UTC", "to"},
			{"732 days", nil, march9, march9.AddDate(0, 0, MaxDays), "UTC", "to"},
			{"filter", &tickets.Filter{Keyword: &empty}, march9, march12, "UTC", "filter.keyword"},
			{"too many statuses", &tickets.Filter{Statuses: make([]ticket.Status, tickets.MaxFilterValues+1)}, march9, march12, "UTC", "filter.statuses"},
		}
		for _, tt := range tests {
			_, err := Compute(admin(), client, tt.f, tt.from, tt.to, tt.zone)
			if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != tt.field {
				t.Errorf("%s: %v, want BAD_USER_INPUT on %s", tt.name, err, tt.field)
			}
		}
		s, err := Compute(admin(), client, nil, march9, march9.AddDate(0, 0, MaxDays-1), "Europe/Paris")
		if err != nil || len(s.Days) != MaxDays {
			t.Fatalf("%d days: %v", MaxDays, err)
		}
	})
}

// Statuses is the enum of the ticket schema, in its order: the product's
// (workflow.Order), which the schema's enum is written in, followed by the
// statuses only tasks take, which the trend does not count.
func TestTrendStatusesAreTheEnum(t *testing.T) {
	for _, c := range migrate.TicketsColumns {
		if c.Name == ticket.FieldStatus {
			all := slices.Concat(Statuses, workflow.TaskOnly)
			got := make([]string, len(all))
			for i, s := range all {
				got[i] = string(s)
			}
			if !slices.Equal(got, c.Enums) {
				t.Fatalf("Statuses = %v, the enum is %v", got, c.Enums)
			}
			return
		}
	}
	t.Fatal("no status column")
}
