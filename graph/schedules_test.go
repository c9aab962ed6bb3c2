package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/taskscheduleevent"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/app"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/schedules"
	"socdesk/internal/store"
)

// schedClock is a test's settable time.
type schedClock struct{ ns atomic.Int64 }

func (c *schedClock) set(t time.Time)       { c.ns.Store(t.UnixNano()) }
func (c *schedClock) now() time.Time        { return time.Unix(0, c.ns.Load()).UTC() }
func newSchedClock(t time.Time) *schedClock { c := &schedClock{}; c.set(t); return c }
func at(s string) time.Time                 { t, _ := time.Parse(time.RFC3339, s); return t }
func schedID(id string) (int, error)        { return scalar.DecodeID(id) }

// schedEnv is a site with its editor and viewer, and the clock of generation.
type schedEnv struct {
	*env
	site, otherSite int
	editor, viewer  string
	editorUser      *ent.User
	clock           *schedClock
}

func newSchedEnv(t *testing.T, backend string, cfg config.Config, start time.Time) *schedEnv {
	e := newEnvWith(t, backend, cfg)
	w := &schedEnv{env: e, site: e.site("hq"), otherSite: e.site("branch"), clock: newSchedClock(start)}
	e.app.Schedules.Now = w.clock.now
	edit := []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}
	w.editor, w.editorUser = e.user("sched-editor", user.RoleANALYST, edit, w.site)
	w.viewer, _ = e.user("sched-viewer", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site)
	return w
}

const createSchedule = `mutation($in: CreateTaskScheduleInput!) { createTaskSchedule(input: $in) {
	id name active timeZone dueInDays nextOccurrenceAt version recurrence
	recurrenceDetails { rrule preset text } query { filter search }
	nextOccurrences(count: 3) watchers { userID notify } tags { name }
} }`

type schedOut struct {
	ID                string
	Name              string
	Active            bool
	NextOccurrenceAt  *time.Time
	Version           int
	Recurrence        string
	RecurrenceDetails struct {
		RRule  string
		Preset *string
		Text   string
	}
	Query struct {
		Filter map[string]any
		Search *string
	}
	NextOccurrences []time.Time
}

func (w *schedEnv) create(token string, in map[string]any) schedOut {
	w.t.Helper()
	var out struct{ CreateTaskSchedule schedOut }
	w.do(token, createSchedule, map[string]any{"in": in}).ok().into(&out)
	return out.CreateTaskSchedule
}

func dailyAt(tod string) map[string]any { return map[string]any{"preset": "DAILY", "timeOfDay": tod} }

func (w *schedEnv) tasksOf(id string) []*ent.Ticket {
	w.t.Helper()
	n, err := schedID(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.client.Ticket.Query().Where(ticket.ScheduleID(n)).Order(ent.Asc(ticket.FieldOccurrenceAt)).AllX(sys())
}

func (w *schedEnv) generate() int {
	w.t.Helper()
	n, err := w.app.Schedules.Generate(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *schedEnv) events(id string) []*ent.TaskScheduleEvent {
	n, _ := schedID(id)
	return w.client.TaskScheduleEvent.Query().Where(taskscheduleevent.ScheduleID(n)).Order(ent.Asc(taskscheduleevent.FieldID)).AllX(sys())
}

func kinds(evs []*ent.TaskScheduleEvent) string {
	s := ""
	for _, e := range evs {
		s += string(e.Kind) + " "
	}
	return s
}

// Generation with an injected clock across months: a monthly schedule on
// the last business day in Berlin makes one task per month, titled with
// the local date, due dueInDays later, carrying the schedule's fields;
// a second run at the same time makes nothing.
func TestTaskScheduleGeneration(t *testing.T) {
	for _, b := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(b, func(t *testing.T) {
			w := newSchedEnv(t, b, config.Default(), at("2026-01-10T12:00:00Z"))
			tag := w.tag("quarter-close")
			s := w.create(w.editor, map[string]any{
				"name": "Month-end access review", "description": "Review **everything**.", "siteID": gid(w.site),
				"ownerID": gid(w.editorUser.ID), "watchers": []map[string]any{{"userID": gid(w.editorUser.ID), "notify": "OPEN_CLOSE"}},
				"recurrence": map[string]any{"preset": "MONTHLY_LAST_BUSINESS_DAY", "timeOfDay": "17:00"},
				"timeZone":   "Europe/Berlin", "dueInDays": 3, "tagIDs": []string{gid(tag)},
				"query": map[string]any{"filter": map[string]any{"sites": []string{gid(w.site)}, "keyword": "vpn"}},
			})
			if s.RecurrenceDetails.Preset == nil || *s.RecurrenceDetails.Preset != "MONTHLY_LAST_BUSINESS_DAY" ||
				s.RecurrenceDetails.Text != "Every month on the last business day at 17:00" {
				t.Fatalf("recurrence %+v", s.RecurrenceDetails)
			}
			if kw, _ := s.Query.Filter["keyword"].(string); kw != "vpn" {
				t.Fatalf("query filter not kept as given: %+v", s.Query.Filter)
			}
			want := []string{"2026-01-30T16:00:00Z", "2026-02-27T16:00:00Z", "2026-03-31T15:00:00Z"}
			for i, o := range s.NextOccurrences {
				if o.UTC().Format(time.RFC3339) != want[i] {
					t.Fatalf("nextOccurrences %v, want %v", s.NextOccurrences, want)
				}
			}
			if w.generate() != 0 {
				t.Fatal("generated before the first occurrence")
			}
			for i, month := range []string{"2026-01-30T16:00:01Z", "2026-02-27T16:00:01Z", "2026-03-31T15:00:01Z"} {
				w.clock.set(at(month))
				if n := w.generate(); n != 1 {
					t.Fatalf("%s: generated %d, want 1", month, n)
				}
				if n := w.generate(); n != 0 {
					t.Fatalf("%s: a second run generated %d", month, n)
				}
				if got := len(w.tasksOf(s.ID)); got != i+1 {
					t.Fatalf("%s: %d tasks", month, got)
				}
			}
			tasks := w.tasksOf(s.ID)
			last := tasks[2]
			if last.Title != "Month-end access review — 2026-03-31" || last.Kind != ticket.KindTASK || last.Status != ticket.StatusOPEN ||
				last.Body != "Review **everything**." || last.SiteID != w.site {
				t.Fatalf("task %+v", last)
			}
			if last.DueAt == nil || !last.DueAt.Equal(at("2026-04-03T15:00:00Z")) {
				t.Fatalf("due %v, want 3 days later at 17:00 Berlin", last.DueAt)
			}
			var f map[string]any
			if err := json.Unmarshal(last.QueryFilter, &f); err != nil || f["keyword"] != "vpn" {
				t.Fatalf("task's query %s", last.QueryFilter)
			}
			if n := last.QueryTags().CountX(sys()); n != 1 {
				t.Fatalf("task has %d tags", n)
			}
			if ws := last.QueryWatchers().AllX(sys()); len(ws) != 1 || ws[0].UserID != w.editorUser.ID || ws[0].Notify != "OPEN_CLOSE" {
				t.Fatalf("task watchers %+v", ws)
			}
			if n := last.QueryAssignees().CountX(sys()); n != 1 {
				t.Fatalf("task has %d owners", n)
			}
			if n := last.QueryEvents().CountX(sys()); n != 1 {
				t.Fatalf("task has %d history entries, want its CREATED", n)
			}
			if got := kinds(w.events(s.ID)); got != "CREATED GENERATED GENERATED GENERATED " {
				t.Fatalf("history %s", got)
			}
			// The history is the schedule's, through the API.
			var h struct {
				Node struct {
					History struct {
						TotalCount int
						Edges      []struct {
							Node struct {
								Kind    string
								Changes []struct {
									Field string
									To    json.RawMessage
								}
							}
						}
					}
					Tasks struct{ TotalCount int }
				}
			}
			w.do(w.viewer, `query($id: ID!) { node(id: $id) { ... on TaskSchedule { history(first: 10) { totalCount edges { node { kind changes { field to } } } } tasks(first: 10) { totalCount } } } }`,
				map[string]any{"id": s.ID}).ok().into(&h)
			if h.Node.History.TotalCount != 4 || h.Node.Tasks.TotalCount != 3 {
				t.Fatalf("history %+v", h)
			}
			// GENERATED names the task by its number, as a link does (and is
			// withheld the same way from a viewer who cannot see it).
			for _, edge := range h.Node.History.Edges {
				for _, ch := range edge.Node.Changes {
					var to any
					_ = json.Unmarshal(ch.To, &to)
					if edge.Node.Kind == "GENERATED" && ch.Field == "occurrence" {
						if m, _ := to.(map[string]any); m["ticket"] == nil || m["task"] != nil {
							t.Errorf("GENERATED names %s", ch.To)
						} else if n := int(m["ticket"].(float64)); !slices.ContainsFunc(tasks, func(tk *ent.Ticket) bool { return tk.Number() == n }) {
							t.Errorf("GENERATED names ticket %d, not one of the schedule's", n)
						}
					}
				}
			}
		})
	}
}

// Missed occurrences after a stop: the latest MaxMissed are generated, the
// older ones recorded SKIPPED; default 1.
func TestTaskScheduleMissedOccurrences(t *testing.T) {
	for _, c := range []struct{ maxMissed, want int }{{1, 1}, {3, 3}} {
		for _, b := range []string{dialect.Postgres, dialect.SQLite} {
			t.Run(fmt.Sprintf("%s/max%d", b, c.maxMissed), func(t *testing.T) {
				cfg := config.Default()
				cfg.ScheduleMaxMissed = c.maxMissed
				w := newSchedEnv(t, b, cfg, at("2026-05-01T00:00:00Z"))
				s := w.create(w.editor, map[string]any{"name": "Daily", "siteID": gid(w.site), "recurrence": dailyAt("09:00"), "timeZone": "America/New_York"})
				w.clock.set(at("2026-05-11T00:00:00Z")) // down for ten days: May 1..10 at 09:00 New York
				if n := w.generate(); n != c.want {
					t.Fatalf("generated %d, want %d", n, c.want)
				}
				tasks := w.tasksOf(s.ID)
				if len(tasks) != c.want || !tasks[len(tasks)-1].OccurrenceAt.Equal(at("2026-05-10T13:00:00Z")) {
					t.Fatalf("tasks %d, the last at %v", len(tasks), tasks[len(tasks)-1].OccurrenceAt)
				}
				evs := w.events(s.ID)
				var skipped *ent.TaskScheduleEvent
				for _, ev := range evs {
					if ev.Kind == taskscheduleevent.KindSKIPPED {
						skipped = ev
					}
				}
				if skipped == nil {
					t.Fatalf("no SKIPPED entry: %s", kinds(evs))
				}
				ch, _ := skipped.Changes[0].To.(map[string]any)
				if ch["count"] != float64(10-c.want) {
					t.Fatalf("skipped %v, want %d", ch, 10-c.want)
				}
				n, _ := schedID(s.ID)
				sch := w.client.TaskSchedule.GetX(sys(), n)
				if !sch.NextOccurrenceAt.Equal(at("2026-05-11T13:00:00Z")) || !sch.LastOccurrenceAt.Equal(at("2026-05-10T13:00:00Z")) {
					t.Fatalf("next %v last %v", sch.NextOccurrenceAt, sch.LastOccurrenceAt)
				}
			})
		}
	}
}

// Pausing stops generation; resuming starts again from now, without the
// paused period's occurrences; both recorded.
func TestTaskSchedulePauseResume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := &schedEnv{env: e, site: e.site("hq"), clock: newSchedClock(at("2026-06-01T00:00:00Z"))}
		e.app.Schedules.Now = w.clock.now
		w.editor, w.editorUser = e.user("ed", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, w.site)
		w.viewer, _ = e.user("vi", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site)
		s := w.create(w.editor, map[string]any{"name": "Daily", "siteID": gid(w.site), "recurrence": dailyAt("08:00")})
		w.do(w.viewer, `mutation($id: ID!) { pauseTaskSchedule(id: $id) { active } }`, map[string]any{"id": s.ID}).wantCode("FORBIDDEN")
		var p struct{ PauseTaskSchedule struct{ Active bool } }
		w.do(w.editor, `mutation($id: ID!) { pauseTaskSchedule(id: $id, reason: "audit freeze") { active } }`, map[string]any{"id": s.ID}).ok().into(&p)
		if p.PauseTaskSchedule.Active {
			t.Fatal("still active")
		}
		w.clock.set(at("2026-06-20T12:00:00Z"))
		if n := w.generate(); n != 0 {
			t.Fatalf("a paused schedule generated %d", n)
		}
		var r struct {
			ResumeTaskSchedule struct {
				Active           bool
				NextOccurrenceAt time.Time
			}
		}
		w.do(w.editor, `mutation($id: ID!) { resumeTaskSchedule(id: $id) { active nextOccurrenceAt } }`, map[string]any{"id": s.ID}).ok().into(&r)
		if !r.ResumeTaskSchedule.Active || !r.ResumeTaskSchedule.NextOccurrenceAt.Equal(at("2026-06-21T08:00:00Z")) {
			t.Fatalf("resumed %+v", r)
		}
		if n := w.generate(); n != 0 {
			t.Fatalf("resuming burst %d tasks", n)
		}
		w.clock.set(at("2026-06-21T08:00:00Z"))
		if n := w.generate(); n != 1 {
			t.Fatalf("generated %d after resuming", n)
		}
		if got := kinds(w.events(s.ID)); got != "CREATED PAUSED RESUMED GENERATED " {
			t.Fatalf("history %s", got)
		}
		evs := w.events(s.ID)
		if evs[1].Reason == nil || *evs[1].Reason != "audit freeze" || evs[1].ActorID == nil || *evs[1].ActorID != w.editorUser.ID {
			t.Fatalf("pause entry %+v", evs[1])
		}
	})
}

// Two replicas (two apps, each with its own connection pool and ent
// client on the same DSN, each its own schedules service) racing on one
// PostgreSQL database make exactly one task per (schedule, occurrence).
func TestTaskScheduleReplicasRace(t *testing.T) {
	w := newSchedEnv(t, dialect.Postgres, config.Default(), at("2026-07-01T00:00:00Z"))
	for i := range 30 {
		w.create(w.editor, map[string]any{"name": fmt.Sprintf("s%d", i), "siteID": gid(w.site), "recurrence": dailyAt("06:00")})
	}
	st, err := store.Open(context.Background(), store.Options{DatabaseURL: testdb.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Not Run: its job engine would generate on the real clock; the test
	// drives both replicas' generation itself.
	other := app.New(st, events.NewLocal(), config.Default(), slog.New(slog.DiscardHandler), st.Ping).Schedules
	if other == w.app.Schedules || other.Client == w.app.Schedules.Client || other.Tickets == w.app.Schedules.Tickets {
		t.Fatal("the second replica shares the first's service or client")
	}
	other.Now = w.clock.now
	other.Batch, w.app.Schedules.Batch = 4, 4
	replicas := []*schedules.Service{w.app.Schedules, other}
	for day := range 3 {
		w.clock.set(at("2026-07-01T06:00:00Z").AddDate(0, 0, day))
		var wg sync.WaitGroup
		var made [2]atomic.Int64
		for i, r := range replicas {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := r.Generate(context.Background())
					if err != nil {
						t.Error(err)
					}
					made[i].Add(int64(n))
				}()
			}
		}
		wg.Wait()
		// Exactly one task per occurrence, whoever made it. (A runner may
		// reach a schedule another has just moved on and find its task made:
		// a no-op it does not count, so the counts may sum to less.)
		if n := w.client.Ticket.Query().Where(ticket.ScheduleIDNotNil()).CountX(sys()); n != 30*(day+1) {
			t.Fatalf("day %d: %d tasks, want %d (made %d + %d)", day, n, 30*(day+1), made[0].Load(), made[1].Load())
		}
		if sum := made[0].Load() + made[1].Load(); sum > 30 {
			t.Fatalf("day %d: made %d, more than the 30 occurrences", day, sum)
		}
		t.Logf("day %d: replica one made %d, replica two %d", day, made[0].Load(), made[1].Load())
	}
	n := w.client.Ticket.Query().Where(ticket.ScheduleIDNotNil()).CountX(sys())
	if n != 90 {
		t.Fatalf("%d tasks, want 90", n)
	}
	if g := w.client.TaskScheduleEvent.Query().Where(taskscheduleevent.KindEQ(taskscheduleevent.KindGENERATED)).CountX(sys()); g != 90 {
		t.Fatalf("%d GENERATED entries, want 90", g)
	}
}

// The list's filters on both databases, within the viewer's sites.
func TestTaskScheduleFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := &schedEnv{env: e, site: e.site("hq"), otherSite: e.site("branch"), clock: newSchedClock(at("2026-01-01T00:00:00Z"))}
		e.app.Schedules.Now = w.clock.now
		w.viewer, _ = e.user("vi", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site)
		_, owner := e.user("owner", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site, w.otherSite)
		tagA, tagB := w.tag("a"), w.tag("b")
		pol := e.client.CompliancePolicy.Create().SetName("Log review").SetReference("PCI DSS 10.6.1").SaveX(sys()).ID
		mk := func(name, desc string, site int, extra map[string]any) {
			in := map[string]any{"name": name, "description": desc, "siteID": gid(site), "recurrence": dailyAt("08:00")}
			for k, v := range extra {
				in[k] = v
			}
			w.create(w.admin, in)
		}
		mk("Firewall rules", "quarterly look", w.site, map[string]any{"ownerID": gid(owner.ID), "tagIDs": []string{gid(tagA)}})
		mk("VPN access", "who came in", w.site, map[string]any{"tagIDs": []string{gid(tagB)}, "policyIDs": []string{gid(pol)}, "active": false})
		mk("Backups", "restore a FIREWALL config", w.site, nil)
		mk("Elsewhere", "", w.otherSite, map[string]any{"ownerID": gid(owner.ID)})
		list := func(tok string, f map[string]any) string {
			var out struct {
				TaskSchedules struct {
					Edges []struct{ Node struct{ Name string } }
				}
			}
			w.do(tok, `query($f: TaskScheduleFilter) { taskSchedules(filter: $f, first: 50) { edges { node { name } } } }`, map[string]any{"f": f}).ok().into(&out)
			s := ""
			for _, e := range out.TaskSchedules.Edges {
				s += e.Node.Name + ";"
			}
			return s
		}
		for _, c := range []struct {
			tok  string
			f    map[string]any
			want string
		}{
			{w.admin, nil, "Backups;Elsewhere;Firewall rules;VPN access;"},
			{w.viewer, nil, "Backups;Firewall rules;VPN access;"},
			{w.viewer, map[string]any{"ownerIDs": []string{gid(owner.ID)}}, "Firewall rules;"},
			{w.admin, map[string]any{"ownerIDs": []string{gid(owner.ID)}}, "Elsewhere;Firewall rules;"},
			{w.viewer, map[string]any{"active": false}, "VPN access;"},
			{w.viewer, map[string]any{"active": true}, "Backups;Firewall rules;"},
			{w.viewer, map[string]any{"tagIDs": []string{gid(tagA), gid(tagB)}}, "Firewall rules;VPN access;"},
			{w.viewer, map[string]any{"policyIDs": []string{gid(pol)}}, "VPN access;"},
			{w.viewer, map[string]any{"keyword": "firewall"}, "Backups;Firewall rules;"},
			{w.admin, map[string]any{"siteIDs": []string{gid(w.otherSite)}}, "Elsewhere;"},
			{w.viewer, map[string]any{"siteIDs": []string{gid(w.otherSite)}}, ""},
		} {
			if got := list(c.tok, c.f); got != c.want {
				t.Errorf("filter %v: %s, want %s", c.f, got, c.want)
			}
		}
		w.do(w.viewer, `{ taskSchedules(filter: {keyword: ""}, first: 5) { totalCount } }`, nil).wantCode("BAD_USER_INPUT", "filter.keyword")
	})
}

// Copying library schedules: the recommended recurrence in the zone, active
// as asked, tags by name, policies by reference, recorded CREATED with the
// library id; an unknown id is BAD_USER_INPUT naming ids and makes nothing.
func TestCopyLibrarySchedules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := &schedEnv{env: e, site: e.site("hq"), clock: newSchedClock(at("2026-03-15T10:00:00Z"))}
		e.app.Schedules.Now = w.clock.now
		w.editor, w.editorUser = e.user("ed", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, w.site)
		existing := w.tag("User Account created")
		pol := e.client.CompliancePolicy.Create().SetName("Access").SetReference("FFIEC IS.B.33").SaveX(sys()).ID
		const copyQ = `mutation($ids: [String!]!, $site: ID!, $tz: String!, $act: Boolean!, $owner: ID, $w: [ID!]) {
			copyLibrarySchedules(ids: $ids, siteID: $site, timeZone: $tz, activate: $act, ownerID: $owner, watcherIDs: $w) {
				id name active timeZone libraryID dueInDays nextOccurrenceAt query { search } tags { id name } policies { id }
				owner { id } watchers { userID }
			} }`
		vars := map[string]any{"ids": []string{"windows-user-account-created"}, "site": gid(w.site), "tz": "America/New_York",
			"act": true, "owner": gid(w.editorUser.ID), "w": []string{gid(w.editorUser.ID)}}
		var out struct {
			CopyLibrarySchedules []struct {
				ID, Name, TimeZone string
				Active             bool
				LibraryID          string
				DueInDays          int
				NextOccurrenceAt   time.Time
				Query              struct{ Search string }
				Tags               []struct{ ID, Name string }
				Policies           []struct{ ID string }
				Watchers           []struct{ UserID string }
			}
		}
		w.do(w.editor, copyQ, vars).ok().into(&out)
		if len(out.CopyLibrarySchedules) != 1 {
			t.Fatalf("%+v", out)
		}
		c := out.CopyLibrarySchedules[0]
		// Monthly on the 1st at 08:00 New York (EDT in April).
		if !c.Active || c.TimeZone != "America/New_York" || c.LibraryID != "windows-user-account-created" || c.DueInDays != 4 ||
			!c.NextOccurrenceAt.Equal(at("2026-04-01T12:00:00Z")) || len(c.Policies) != 1 || c.Policies[0].ID != gid(pol) ||
			len(c.Watchers) != 1 || c.Query.Search == "" {
			t.Fatalf("copy %+v", c)
		}
		if len(c.Tags) != 2 || !(c.Tags[0].ID == gid(existing) || c.Tags[1].ID == gid(existing)) {
			t.Fatalf("tags %+v: the existing one linked, the missing one made", c.Tags)
		}
		evs := w.events(c.ID)
		if len(evs) != 1 || evs[0].Kind != taskscheduleevent.KindCREATED || evs[0].Changes[0].Field != schematype.ChangeLibrary || evs[0].Changes[0].To != "windows-user-account-created" {
			t.Fatalf("history %+v", evs)
		}
		// Inactive as asked.
		vars["act"] = false
		w.do(w.editor, copyQ, vars).ok().into(&out)
		if out.CopyLibrarySchedules[0].Active {
			t.Fatal("copied active")
		}
		before := e.client.TaskSchedule.Query().CountX(sys())
		vars["ids"] = []string{"windows-user-account-created", "no-such-entry"}
		w.do(w.editor, copyQ, vars).wantCode("BAD_USER_INPUT", "ids")
		vars["ids"], vars["tz"] = []string{"windows-user-account-created"}, "Mars/Olympus"
		w.do(w.editor, copyQ, vars).wantCode("BAD_USER_INPUT", "timeZone")
		if after := e.client.TaskSchedule.Query().CountX(sys()); after != before {
			t.Fatalf("a refused copy made %d schedules", after-before)
		}
	})
}

// Bad inputs are BAD_USER_INPUT naming the field, and change nothing.
func TestTaskScheduleBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := &schedEnv{env: e, site: e.site("hq"), otherSite: e.site("branch"), clock: newSchedClock(at("2026-01-01T00:00:00Z"))}
		e.app.Schedules.Now = w.clock.now
		w.editor, _ = e.user("ed", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, w.site)
		base := func() map[string]any {
			return map[string]any{"name": "x", "siteID": gid(w.site), "recurrence": dailyAt("08:00")}
		}
		with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
		for _, c := range []struct {
			in    map[string]any
			field string
		}{
			{with("recurrence", map[string]any{"rrule": "FREQ=HOURLY"}), "input.recurrence.rrule"},
			{with("recurrence", map[string]any{"rrule": "FREQ=DAILY;BYMINUTE=0,20,40"}), "input.recurrence.rrule"},
			{with("recurrence", map[string]any{"rrule": "FREQ=DAILY;UNTIL=20270101T000000"}), "input.recurrence.rrule"},
			{with("recurrence", map[string]any{"preset": "DAILY", "timeOfDay": "25:00"}), "input.recurrence.timeOfDay"},
			{with("recurrence", map[string]any{"preset": "DAILY"}), "input.recurrence.timeOfDay"},
			{with("recurrence", map[string]any{"preset": "DAILY", "timeOfDay": "08:00", "rrule": "FREQ=DAILY"}), "input.recurrence"},
			{with("timeZone", "Mars/Olympus"), "input.timeZone"},
			{with("timeZone", "Local"), "input.timeZone"},
			{with("dueInDays", -1), "input.dueInDays"},
			{with("name", " "), "input.name"},
			{with("query", map[string]any{"filter": map[string]any{"keyword": ""}}), "input.query.filter.keyword"},
			{with("query", map[string]any{"search": "a", "filter": map[string]any{}}), "input.query"},
		} {
			before := e.client.TaskSchedule.Query().CountX(sys())
			r := w.do(w.editor, createSchedule, map[string]any{"in": c.in})
			r.wantCode("BAD_USER_INPUT", c.field)
			if after := e.client.TaskSchedule.Query().CountX(sys()); after != before {
				t.Fatalf("%v made a schedule", c.in)
			}
		}
		// A bad preset is refused by the schema's enum, as bad input.
		w.do(w.editor, createSchedule, map[string]any{"in": with("recurrence", map[string]any{"preset": "HOURLY", "timeOfDay": "08:00"})}).wantCode("BAD_USER_INPUT")
		// Another site's schedule cannot be made.
		w.do(w.editor, createSchedule, map[string]any{"in": with("siteID", gid(w.otherSite))}).wantCode("FORBIDDEN")
		// Updates: a stale version conflicts; a bad rrule changes nothing.
		s := w.create(w.editor, base())
		const upd = `mutation($id: ID!, $in: UpdateTaskScheduleInput!, $v: Int) { updateTaskSchedule(id: $id, input: $in, expectedVersion: $v) { version recurrence } }`
		w.do(w.editor, upd, map[string]any{"id": s.ID, "in": map[string]any{"name": "y"}, "v": 7}).wantCode("CONFLICT")
		w.do(w.editor, upd, map[string]any{"id": s.ID, "in": map[string]any{"recurrence": map[string]any{"rrule": "FREQ=MINUTELY"}}}).wantCode("BAD_USER_INPUT", "input.recurrence.rrule")
		w.do(w.editor, upd, map[string]any{"id": s.ID, "in": map[string]any{"dueInDays": -2}}).wantCode("BAD_USER_INPUT", "input.dueInDays")
		var u struct{ UpdateTaskSchedule struct{ Version int } }
		w.do(w.editor, upd, map[string]any{"id": s.ID, "in": map[string]any{"name": "y", "recurrence": map[string]any{"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"}}, "v": 1}).ok().into(&u)
		if u.UpdateTaskSchedule.Version != 2 {
			t.Fatalf("version %d", u.UpdateTaskSchedule.Version)
		}
		n, _ := schedID(s.ID)
		evs := e.client.TaskScheduleEvent.Query().Where(taskscheduleevent.ScheduleID(n)).AllX(sys())
		if len(evs) != 2 || evs[1].Kind != taskscheduleevent.KindUPDATED || len(evs[1].Changes) < 2 {
			t.Fatalf("history %+v", evs)
		}

		// An owner or watcher who could not see the schedule's tasks is
		// refused at once (not at each occurrence): made, moved, changed, copied.
		_, blind := e.user("blind", user.RoleANALYST, nil, w.site)
		_, away := e.user("away", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.otherSite)
		_, hq := e.user("hq", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site)
		count := func() int {
			return e.client.TaskSchedule.Query().CountX(sys()) + e.client.TaskScheduleEvent.Query().CountX(sys())
		}
		before := count()
		w.do(w.admin, createSchedule, map[string]any{"in": with("ownerID", gid(blind.ID))}).wantCode("BAD_USER_INPUT", "input.ownerID")
		w.do(w.admin, createSchedule, map[string]any{"in": with("ownerID", gid(away.ID))}).wantCode("BAD_USER_INPUT", "input.ownerID")
		w.do(w.admin, createSchedule, map[string]any{"in": with("watchers", []map[string]any{{"userID": gid(hq.ID)}, {"userID": gid(away.ID)}})}).
			wantCode("BAD_USER_INPUT", "input.watchers")
		owned := w.create(w.admin, with("ownerID", gid(hq.ID)))
		before = count()
		w.do(w.admin, upd, map[string]any{"id": owned.ID, "in": map[string]any{"siteID": gid(w.otherSite)}}).wantCode("BAD_USER_INPUT", "input.ownerID")
		w.do(w.admin, upd, map[string]any{"id": owned.ID, "in": map[string]any{"ownerID": gid(away.ID)}}).wantCode("BAD_USER_INPUT", "input.ownerID")
		w.do(w.admin, upd, map[string]any{"id": owned.ID, "in": map[string]any{"watchers": []map[string]any{{"userID": gid(blind.ID)}}}}).wantCode("BAD_USER_INPUT", "input.watchers")
		const cp = `mutation($site: ID!, $owner: ID, $w: [ID!]) { copyLibrarySchedules(ids: ["dns-anomalies"], siteID: $site, timeZone: "UTC", activate: true, ownerID: $owner, watcherIDs: $w) { id } }`
		w.do(w.admin, cp, map[string]any{"site": gid(w.site), "owner": gid(away.ID)}).wantCode("BAD_USER_INPUT", "ownerID")
		w.do(w.admin, cp, map[string]any{"site": gid(w.site), "w": []string{gid(blind.ID)}}).wantCode("BAD_USER_INPUT", "watcherIDs")
		if after := count(); after != before {
			t.Fatalf("refused changes wrote %d rows", after-before)
		}
		// Moved with an owner who sees the new site too, it goes.
		w.do(w.admin, upd, map[string]any{"id": owned.ID, "in": map[string]any{"siteID": gid(w.otherSite), "ownerID": gid(owner2(e, w).ID)}}).ok()
	})
}

// owner2 is a user who sees both of w's sites.
func owner2(e *env, w *schedEnv) *ent.User {
	_, u := e.user("both", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site, w.otherSite)
	return u
}
