package graph_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/graph/scalar"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/sla"
	"socdesk/internal/tickets"
)

// monday10 is the SLA tests' starting instant: Monday 1 March 2027,
// 10:00 UTC, within the default calendar's hours (Monday to Friday,
// 09:00-17:00 UTC). It is in the future, so that River runs no breach job
// before a test makes it available.
var monday10 = time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)

func newSLAEnv(t *testing.T, backend string) (*env, *clock) {
	e := newEnvWith(t, backend, deliveryConfig())
	c := &clock{now: monday10}
	e.app.SLA.Now = c.Now
	return e, c
}

func setClock(c *clock, at time.Time) { c.mu.Lock(); c.now = at; c.mu.Unlock() }

type slaTicket struct {
	ID                             string
	Number                         int
	Status, Priority               string
	ResponseDueAt, ResolutionDueAt *time.Time
	RespondedAt, ResolvedAt        *time.Time
	SLAState                       *string `json:"slaState"`
	Version                        int
}

const slaSel = `id number status priority responseDueAt resolutionDueAt respondedAt resolvedAt slaState version`

func (e *env) slaCreate(tok string, site, cat int, priority string, extra map[string]any) slaTicket {
	e.t.Helper()
	in := map[string]any{"kind": "ANALYSIS", "title": "t " + priority, "body": "b", "categoryID": gid(cat), "siteID": gid(site), "priority": priority}
	for k, v := range extra {
		in[k] = v
	}
	var out struct{ CreateTicket slaTicket }
	e.do(tok, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { `+slaSel+` } }`, map[string]any{"in": in}).ok().into(&out)
	return out.CreateTicket
}

func (e *env) slaGet(number int) slaTicket {
	e.t.Helper()
	var out struct{ Ticket slaTicket }
	e.do(e.admin, `query($n: Int!) { ticket(number: $n) { `+slaSel+` } }`, map[string]any{"n": number}).ok().into(&out)
	return out.Ticket
}

func (e *env) slaList(filter, order map[string]any) []int {
	e.t.Helper()
	var out struct {
		Tickets struct {
			Edges []struct{ Node struct{ Number int } }
		}
	}
	vars := map[string]any{"f": filter}
	q := `query($f: TicketFilter) { tickets(first: 100, filter: $f) { edges { node { number } } } }`
	if order != nil {
		vars["o"] = order
		q = `query($f: TicketFilter, $o: TicketOrder) { tickets(first: 100, filter: $f, orderBy: $o) { edges { node { number } } } }`
	}
	e.do(e.admin, q, vars).ok().into(&out)
	var n []int
	for _, ed := range out.Tickets.Edges {
		n = append(n, ed.Node.Number)
	}
	return n
}

func wantTime(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantState(t *testing.T, tk slaTicket, want string) {
	t.Helper()
	if tk.SLAState == nil || *tk.SLAState != want {
		got := "null"
		if tk.SLAState != nil {
			got = *tk.SLAState
		}
		t.Errorf("#%d slaState = %s, want %s", tk.Number, got, want)
	}
}

// TestSLADues: the dues set on creation from the defaults and the calendar,
// recomputed on a change of priority, the state as the clock moves (the
// field and the filter agree), the orderings and the due filters, MET on a
// response and a resolution, a late response staying BREACHED.
func TestSLADues(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e, c := newSLAEnv(t, b)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			high := e.slaCreate(e.admin, site, cat, "HIGH", nil)
			wantTime(t, "HIGH responseDueAt", high.ResponseDueAt, monday10.Add(2*time.Hour))
			wantTime(t, "HIGH resolutionDueAt", high.ResolutionDueAt, monday10.Add(24*time.Hour))
			wantState(t, high, "ON_TRACK")
			if high.Version != 1 || high.RespondedAt != nil {
				t.Errorf("new ticket: version %d, respondedAt %v", high.Version, high.RespondedAt)
			}
			med := e.slaCreate(e.admin, site, cat, "MEDIUM", nil)
			wantTime(t, "MEDIUM responseDueAt", med.ResponseDueAt, monday10.Add(12*time.Hour))
			// Three business days after Monday: Thursday's close.
			wantTime(t, "MEDIUM resolutionDueAt", med.ResolutionDueAt, time.Date(2027, 3, 4, 17, 0, 0, 0, time.UTC))
			low := e.slaCreate(e.admin, site, cat, "LOW", nil)
			wantTime(t, "LOW responseDueAt (next business day)", low.ResponseDueAt, time.Date(2027, 3, 2, 17, 0, 0, 0, time.UTC))
			wantTime(t, "LOW resolutionDueAt", low.ResolutionDueAt, time.Date(2027, 3, 15, 17, 0, 0, 0, time.UTC))

			// MEDIUM raised to HIGH: due two hours after its creation.
			var up struct{ UpdateTicket slaTicket }
			e.do(e.admin, `mutation($id: ID!) { updateTicket(id: $id, input: {priority: HIGH}) { `+slaSel+` } }`,
				map[string]any{"id": med.ID}).ok().into(&up)
			wantTime(t, "raised responseDueAt", up.UpdateTicket.ResponseDueAt, monday10.Add(2*time.Hour))
			if up.UpdateTicket.Version != 2 {
				t.Errorf("one change, version %d, want 2", up.UpdateTicket.Version)
			}
			if got := e.slaGet(med.Number); got.Version != 2 || !got.ResponseDueAt.Equal(*up.UpdateTicket.ResponseDueAt) {
				t.Errorf("read back: %+v", got)
			}

			// The orderings and the due filters.
			if got := e.slaList(nil, map[string]any{"field": "RESPONSE_DUE_AT", "direction": "ASC"}); !slices.Equal(got, []int{high.Number, med.Number, low.Number}) {
				t.Errorf("by response due: %v", got)
			}
			if got := e.slaList(nil, map[string]any{"field": "RESOLUTION_DUE_AT", "direction": "DESC"}); !slices.Equal(got, []int{low.Number, med.Number, high.Number}) {
				t.Errorf("by resolution due, descending: %v", got)
			}
			if got := e.slaList(map[string]any{"responseDueTo": "2027-03-01T13:00:00Z"}, nil); len(got) != 2 || slices.Contains(got, low.Number) {
				t.Errorf("responseDueTo: %v", got)
			}
			if got := e.slaList(map[string]any{"resolutionDueFrom": "2027-03-03T00:00:00Z"}, nil); !slices.Equal(got, []int{low.Number}) {
				t.Errorf("resolutionDueFrom: %v", got)
			}

			states := func(s string) []int {
				got := e.slaList(map[string]any{"slaStates": []string{s}}, nil)
				slices.Sort(got)
				return got
			}
			c.add(100 * time.Minute) // 11:40: past 75% of two hours
			wantState(t, e.slaGet(high.Number), "AT_RISK")
			wantState(t, e.slaGet(low.Number), "ON_TRACK")
			if got := states("AT_RISK"); !slices.Equal(got, []int{high.Number, med.Number}) {
				t.Errorf("AT_RISK: %v", got)
			}
			setClock(c, monday10.Add(2*time.Hour))
			wantState(t, e.slaGet(high.Number), "BREACHED")
			if got := states("BREACHED"); !slices.Equal(got, []int{high.Number, med.Number}) {
				t.Errorf("BREACHED: %v", got)
			}
			if got := states("ON_TRACK"); !slices.Equal(got, []int{low.Number}) {
				t.Errorf("ON_TRACK: %v", got)
			}

			// A response: the LOW one is answered in time, then resolved: MET.
			_, asg := e.user("asg", "ANALYST", []schematype.Permission{schematype.PermissionTicketEdit}, site)
			e.do(e.admin, assignMut, map[string]any{"id": low.ID, "as": []string{gid(asg.ID)}}).ok()
			got := e.slaGet(low.Number)
			wantTime(t, "respondedAt", got.RespondedAt, monday10.Add(2*time.Hour))
			wantState(t, got, "ON_TRACK")
			e.do(e.admin, actMut, map[string]any{"id": low.ID, "action": "CLOSE"}).ok()
			got = e.slaGet(low.Number)
			wantTime(t, "resolvedAt", got.ResolvedAt, monday10.Add(2*time.Hour))
			wantState(t, got, "MET")
			if got := states("MET"); !slices.Equal(got, []int{low.Number}) {
				t.Errorf("MET: %v", got)
			}
			// A late response stays BREACHED.
			c.add(30 * time.Minute)
			e.do(e.admin, assignMut, map[string]any{"id": high.ID, "as": []string{gid(asg.ID)}}).ok()
			wantState(t, e.slaGet(high.Number), "BREACHED")

			// A reopening runs the resolution clock again from where it stood.
			c.add(time.Hour)
			e.do(e.admin, actMut, map[string]any{"id": low.ID, "action": "REOPEN"}).ok()
			got = e.slaGet(low.Number)
			if got.ResolvedAt != nil {
				t.Errorf("reopened: resolvedAt %v", got.ResolvedAt)
			}
			// Closed 12:00-13:30 on Monday: 1 h 30 of working time later, the next morning.
			wantTime(t, "reopened resolutionDueAt", got.ResolutionDueAt, time.Date(2027, 3, 16, 10, 30, 0, 0, time.UTC))
		})
	}
}

// TestSLAPauses: the clocks stand still in SUBMITTED and while an
// explanation request is open; the dues move out by the time paused.
func TestSLAPauses(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e, c := newSLAEnv(t, b)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			edit := []schematype.Permission{schematype.PermissionTicketEdit}
			asgTok, asg := e.user("asg", "ANALYST", edit, site)
			aprTok, apr := e.user("apr", "ANALYST", edit, site)
			tk := e.slaCreate(e.admin, site, cat, "HIGH", map[string]any{"assigneeIDs": []string{gid(asg.ID)}, "approverIDs": []string{gid(apr.ID)}})
			e.do(asgTok, actMut, map[string]any{"id": tk.ID, "action": "START"}).ok() // the response
			c.add(30 * time.Minute)
			e.do(asgTok, actMut, map[string]any{"id": tk.ID, "action": "SUBMIT"}).ok()
			c.add(3 * time.Hour) // waiting on the approver
			got := e.slaGet(tk.Number)
			wantState(t, got, "ON_TRACK")
			wantTime(t, "paused resolutionDueAt", got.ResolutionDueAt, monday10.Add(24*time.Hour))
			e.do(aprTok, actMut, map[string]any{"id": tk.ID, "action": "APPROVE"}).ok()
			got = e.slaGet(tk.Number)
			wantTime(t, "resumed resolutionDueAt", got.ResolutionDueAt, monday10.Add(27*time.Hour))
			wantTime(t, "respondedAt", got.RespondedAt, monday10)

			// An explanation request open for two hours (the ticket service's
			// step, as package explanations takes it).
			explain := func(st schematype.ExplanationStatus) {
				t.Helper()
				_, err := e.app.Tickets.Explain(sys(), "id", mustID(t, tk.ID), ticketevent.KindEXPLANATION_UPDATED,
					func(context.Context, *ent.Tx, *ent.Ticket) (tickets.ExplanationStep, error) {
						return tickets.ExplanationStep{Change: map[string]any{"id": 1, "action": "TEST"}, Status: &st}, nil
					})
				if err != nil {
					t.Fatal(err)
				}
			}
			explain(schematype.ExplanationNew)
			c.add(2 * time.Hour)
			wantTime(t, "while explaining", e.slaGet(tk.Number).ResolutionDueAt, monday10.Add(27*time.Hour))
			explain(schematype.ExplanationClosed)
			wantTime(t, "explained", e.slaGet(tk.Number).ResolutionDueAt, monday10.Add(29*time.Hour))
		})
	}
}

func mustID(t *testing.T, id string) int {
	t.Helper()
	n, err := scalar.DecodeID(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// breachJob is the breach job of ticket id's clock.
func (e *env) breachJob(t *testing.T, id int, clock schematype.SLAClock) *rivertype.JobRow {
	t.Helper()
	res, err := e.app.Jobs.Client().JobList(context.Background(), river.NewJobListParams().Kinds(sla.BreachArgs{}.Kind()).First(1000))
	if err != nil {
		t.Fatal(err)
	}
	var found *rivertype.JobRow
	for _, j := range res.Jobs {
		var a sla.BreachArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		if a.TicketID == id && a.Clock == clock {
			if found != nil {
				t.Fatalf("two breach jobs of #%d %s", id, clock)
			}
			found = j
		}
	}
	if found == nil {
		t.Fatalf("no breach job of %d %s", id, clock)
	}
	return found
}

// runJob makes job available now and waits until a worker has taken it
// (done: it ran; it may be scheduled again, snoozed).
func (e *env) runJob(t *testing.T, j *rivertype.JobRow) *rivertype.JobRow {
	t.Helper()
	ctx := context.Background()
	before := j.AttemptedAt
	if _, err := e.app.Jobs.Client().JobRetry(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	var now *rivertype.JobRow
	eventually(t, 10*time.Second, "the breach job to run", func() bool {
		var err error
		if now, err = e.app.Jobs.Client().JobGet(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		ran := now.AttemptedAt != nil && (before == nil || now.AttemptedAt.After(*before))
		return ran && now.State != rivertype.JobStateRunning
	})
	return now
}

func (e *env) breaches(number int) []map[string]any {
	e.t.Helper()
	var out struct {
		TicketHistory struct {
			Edges []struct {
				Node struct {
					Kind    string
					Changes []struct {
						Field string
						To    any
					}
				}
			}
		}
	}
	e.do(e.admin, `query($n: Int!) { ticketHistory(number: $n, first: 100) { edges { node { kind changes { field to } } } } }`,
		map[string]any{"n": number}).ok().into(&out)
	var found []map[string]any
	for _, ed := range out.TicketHistory.Edges {
		if ed.Node.Kind == "SLA_BREACHED" {
			for _, ch := range ed.Node.Changes {
				to, _ := ch.To.(map[string]any)
				found = append(found, to)
			}
		}
	}
	return found
}

// TestSLABreachJobs: a clock's breach job waits for the due (a job run
// early does nothing and waits), fires once at it (a history entry, on the
// live stream as every entry, and mails to the assignee, their department's
// manager and the watcher), not again when run again, and not at all for a
// ticket closed in time.
func TestSLABreachJobs(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e, c := newSLAEnv(t, b)
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			view := []schematype.Permission{schematype.PermissionTicketView}
			_, asg := e.mailUser("asg", []schematype.Permission{schematype.PermissionTicketEdit}, site)
			_, mgr := e.mailUser("mgr", view, site)
			_, wat := e.mailUser("wat", view, site)
			e.mailUser("bystander", view, site)
			// The directory: asg works in SOC, which mgr manages.
			mgrEmp := e.client.Employee.Create().SetNumber("2").SetName("Manager").SetUserID(mgr.ID).SaveX(sys())
			dept := e.client.Department.Create().SetName("SOC").SetManagerID(mgrEmp.ID).SaveX(sys())
			e.client.Employee.Create().SetNumber("1").SetName("Analyst").SetUserID(asg.ID).SetDepartmentID(dept.ID).SaveX(sys())

			tk := e.slaCreate(e.admin, site, cat, "HIGH", map[string]any{"assigneeIDs": []string{gid(asg.ID)}})
			e.do(e.admin, `mutation($id: ID!, $u: ID) { watchTicket(id: $id, userID: $u) { id } }`, map[string]any{"id": tk.ID, "u": gid(wat.ID)}).ok()
			e.settle()
			sent := len(smtp.Messages())
			id := mustID(t, tk.ID)
			j := e.breachJob(t, id, schematype.ClockResponse)
			if due := monday10.Add(2 * time.Hour); !j.ScheduledAt.Equal(due) || j.State != rivertype.JobStateScheduled {
				t.Fatalf("breach job %s at %v, want scheduled at %v", j.State, j.ScheduledAt, due)
			}

			// Not before the due.
			setClock(c, monday10.Add(2*time.Hour-time.Second))
			j = e.runJob(t, j)
			if got := e.breaches(tk.Number); len(got) != 0 {
				t.Fatalf("breached before the due: %v", got)
			}
			if j.State == rivertype.JobStateCompleted || !j.ScheduledAt.After(time.Now()) {
				t.Errorf("an early job is %s at %v, want waiting again", j.State, j.ScheduledAt)
			}

			// At the due: once.
			setClock(c, monday10.Add(2*time.Hour))
			e.runJob(t, j)
			got := e.breaches(tk.Number)
			if len(got) != 1 || got[0]["clock"] != "RESPONSE" || got[0]["dueAt"] != "2027-03-01T12:00:00Z" {
				t.Fatalf("breaches %v, want one of RESPONSE due 12:00", got)
			}
			wantState(t, e.slaGet(tk.Number), "BREACHED")
			e.settle()
			if m := mailedLogins(smtp.Messages()[sent:]); !slices.Equal(m, []string{"asg", "mgr", "wat"}) {
				t.Errorf("the breach was mailed to %v, want asg, mgr (asg's manager), wat", m)
			}
			// Worked again (at least once): nothing more.
			e.runJob(t, e.breachJob(t, id, schematype.ClockResponse))
			if got := e.breaches(tk.Number); len(got) != 1 {
				t.Errorf("run twice: %d breaches", len(got))
			}

			// Closed in time: its jobs find the clocks met.
			setClock(c, monday10)
			closed := e.slaCreate(e.admin, site, cat, "HIGH", nil)
			c.add(30 * time.Minute)
			e.do(e.admin, actMut, map[string]any{"id": closed.ID, "action": "CLOSE"}).ok()
			setClock(c, monday10.Add(48*time.Hour))
			cid := mustID(t, closed.ID)
			e.runJob(t, e.breachJob(t, cid, schematype.ClockResponse))
			e.runJob(t, e.breachJob(t, cid, schematype.ClockResolution))
			if got := e.breaches(closed.Number); len(got) != 0 {
				t.Errorf("a ticket closed in time breached: %v", got)
			}
			wantState(t, e.slaGet(closed.Number), "MET")
		})
	}
}

// TestSLACalendarsAndTargets: a site's own calendar and a category's
// targets decide the dues; bad calendars are refused naming the field, the
// default is not deleted, a site has one calendar, only admins write them.
func TestSLACalendarsAndTargets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := &clock{now: monday10}
		e.app.SLA.Now = c.Now
		site, cat := e.site("Berlin"), e.category("Alerts", category.WorkflowAPPROVAL)
		const create = `mutation($in: BusinessCalendarInput!) { createBusinessCalendar(input: $in) { id name isDefault site { name } } }`
		in := map[string]any{"name": "Berlin office", "timeZone": "Europe/Berlin", "workingDays": []int{1, 2, 3, 4, 5},
			"dayStart": "08:00", "dayEnd": "16:00", "holidays": []string{"2027-03-02"}, "siteID": gid(site)}
		e.do(e.admin, create, map[string]any{"in": in}).ok()
		// Monday 11:00 in Berlin; Tuesday is a holiday: due Wednesday 16:00 Berlin, 15:00 UTC.
		low := e.slaCreate(e.admin, site, cat, "LOW", nil)
		wantTime(t, "LOW on the site's calendar", low.ResponseDueAt, time.Date(2027, 3, 3, 15, 0, 0, 0, time.UTC))

		e.do(e.admin, `mutation($c: ID!, $l: [ServiceLevelInput!]!) { setCategoryServiceLevels(categoryID: $c, serviceLevels: $l) { serviceLevels { priority clock measure amount } } }`,
			map[string]any{"c": gid(cat), "l": []map[string]any{{"priority": "HIGH", "clock": "RESPONSE", "measure": "BUSINESS_MINUTES", "amount": 330}}}).ok()
		// 5 h of work from 11:00 Berlin end at 16:00; 30 min more on Wednesday (Tuesday off).
		high := e.slaCreate(e.admin, site, cat, "HIGH", nil)
		wantTime(t, "HIGH by the category's target", high.ResponseDueAt, time.Date(2027, 3, 3, 7, 30, 0, 0, time.UTC))
		wantTime(t, "HIGH resolution, the default", high.ResolutionDueAt, monday10.Add(24*time.Hour))

		bad := func(field string, k string, v any) {
			t.Helper()
			m := map[string]any{"name": "x" + field, "timeZone": "UTC"}
			m[k] = v
			e.do(e.admin, create, map[string]any{"in": m}).wantCode("BAD_USER_INPUT", field)
		}
		bad("input.timeZone", "timeZone", "Mars/Olympus")
		bad("input.workingDays", "workingDays", []int{7})
		bad("input.dayStart", "dayStart", "9am")
		bad("input.dayEnd", "dayEnd", "00:30")
		bad("input.holidays", "holidays", []string{"24.12.2027"})
		e.do(e.admin, create, map[string]any{"in": map[string]any{"name": "Other", "timeZone": "UTC", "siteID": gid(site)}}).wantCode("CONFLICT", "input.siteID")
		tok, _ := e.user("ana", "ANALYST", []schematype.Permission{schematype.PermissionTicketEdit}, site)
		e.do(tok, create, map[string]any{"in": map[string]any{"name": "Mine", "timeZone": "UTC"}}).wantCode("FORBIDDEN")

		var list struct {
			BusinessCalendars []struct {
				ID        string
				Name      string
				IsDefault bool
			}
		}
		e.do(e.admin, `{ businessCalendars { id name isDefault } }`, nil).ok().into(&list)
		if len(list.BusinessCalendars) != 2 || !list.BusinessCalendars[1].IsDefault || list.BusinessCalendars[1].Name != "Default" {
			t.Fatalf("calendars: %+v", list.BusinessCalendars)
		}
		e.do(e.admin, `mutation($id: ID!) { deleteBusinessCalendar(id: $id) }`, map[string]any{"id": list.BusinessCalendars[1].ID}).wantCode("CONFLICT")
	})
}
