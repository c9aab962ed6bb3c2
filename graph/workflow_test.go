package graph_test

// Tests of the ticket workflows (issue 3, points 1, 2, 3, 5, 6): every
// transition of both workflows for every role, assignment, optimistic
// locking, concurrent transitions, the history, bulk actions,
// availableActions and the data layer's own enforcement.
//
// The expectations come from wfExpect, the rules written out by hand
// in this file — not from internal/workflow — so the implementation's table
// is checked against the text, not against itself.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/tag"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
)

// ---------------------------------------------------------------------------
// Fixture

// wfRole is how a user stands to a ticket; a user can hold several.
type wfRole uint8

const (
	wfAssignee wfRole = 1 << iota // one of its assignees (an incident's owner)
	wfApprover                    // one of its approvers
	wfEditor                      // ADMIN, or TICKET_EDIT on its site
)

type wfUser struct {
	name  string // the role's name in test output
	login string
	token string
	id    int
}

// wfFix is one site's people and categories, plus a user of another site.
type wfFix struct {
	e                  *env
	siteA, siteB       int
	approval, incident int // category ids
	admin, editor      wfUser
	assignee, approver wfUser // TICKET_VIEW only: their roles come from the ticket
	viewer             wfUser // TICKET_VIEW, neither assignee nor approver
	outsider           wfUser // TICKET_EDIT, but on site B
}

func wfSetup(t *testing.T, e *env) *wfFix {
	t.Helper()
	f := &wfFix{e: e, siteA: e.site("Site A"), siteB: e.site("Site B")}
	f.approval = e.category("Alerts", category.WorkflowAPPROVAL)
	f.incident = e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
	mk := func(name string, perms []schematype.Permission, site int) wfUser {
		tok, u := e.user("wf."+name, user.RoleANALYST, perms, site)
		return wfUser{name: name, login: u.Login, token: tok, id: u.ID}
	}
	f.editor = mk("editor", edit, f.siteA)
	f.assignee = mk("assignee", view, f.siteA)
	f.approver = mk("approver", view, f.siteA)
	f.viewer = mk("viewer", view, f.siteA)
	f.outsider = mk("outsider", edit, f.siteB)
	admin := e.client.User.Query().Where(user.Login("admin")).OnlyX(sys())
	f.admin = wfUser{name: "admin", login: admin.Login, token: e.admin, id: admin.ID}
	return f
}

// people are the users every matrix is run for.
func (f *wfFix) people() []wfUser {
	return []wfUser{f.admin, f.editor, f.assignee, f.approver, f.viewer, f.outsider}
}

// roles says how u stands to a ticket of shape s (the outsider sees nothing).
func (f *wfFix) roles(u wfUser, s wfShape) wfRole {
	switch {
	case u.id == f.admin.id || u.id == f.editor.id:
		return wfEditor
	case u.id == f.assignee.id && s.assignee:
		return wfAssignee
	case u.id == f.approver.id && s.approver:
		return wfApprover
	}
	return 0
}

// wfShape is a ticket to set up: its workflow, status and people.
type wfShape struct {
	workflow category.Workflow
	status   ticket.Status
	assignee bool // f.assignee is its assignee
	approver bool // f.approver is its approver
}

func (s wfShape) String() string {
	out := string(s.status)
	if s.workflow == category.WorkflowINCIDENT_RESPONSE {
		out = "incident " + out
	}
	if !s.assignee {
		out += " (no assignee)"
	}
	if !s.approver {
		out += " (no approver)"
	}
	return out
}

func wfApproval(st ticket.Status, assignee, approver bool) wfShape {
	return wfShape{category.WorkflowAPPROVAL, st, assignee, approver}
}

func wfIncident(st ticket.Status) wfShape {
	return wfShape{category.WorkflowINCIDENT_RESPONSE, st, true, true}
}

// wfApprovalShapes are realistic tickets in every APPROVAL status: NEW ones
// have no assignee yet; a CLOSED one with and without an assignee (REOPEN
// goes to ASSIGNED or NEW); IN_PROGRESS without an approver (no SUBMIT).
func wfApprovalShapes() []wfShape {
	return []wfShape{
		wfApproval(ticket.StatusNEW, false, true),
		wfApproval(ticket.StatusASSIGNED, true, true),
		wfApproval(ticket.StatusIN_PROGRESS, true, true),
		wfApproval(ticket.StatusIN_PROGRESS, true, false),
		wfApproval(ticket.StatusSUBMITTED, true, true),
		wfApproval(ticket.StatusAPPROVED, true, true),
		wfApproval(ticket.StatusREJECTED, true, true),
		wfApproval(ticket.StatusCLOSED, true, true),
		wfApproval(ticket.StatusCLOSED, false, false),
	}
}

func wfIncidentShapes() []wfShape {
	var out []wfShape
	for _, st := range []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED, ticket.StatusCLOSED} {
		out = append(out, wfIncident(st))
	}
	return out
}

// make puts a ticket of shape s on site A directly (no history of its own).
func (f *wfFix) make(t *testing.T, s wfShape) *ent.Ticket {
	t.Helper()
	cat := f.approval
	if s.workflow == category.WorkflowINCIDENT_RESPONSE {
		cat = f.incident
	}
	return f.makeIn(t, s, cat, f.siteA)
}

func (f *wfFix) makeIn(t *testing.T, s wfShape, cat, site int) *ent.Ticket {
	t.Helper()
	c := f.e.client.Ticket.Create().SetKind(ticket.KindANALYSIS).SetTitle("wf " + s.String()).SetBody("b").
		SetCategoryID(cat).SetSiteID(site).SetStatus(s.status)
	if s.assignee {
		c.AddAssigneeIDs(f.assignee.id)
	}
	if s.approver {
		c.AddApproverIDs(f.approver.id)
	}
	if s.status == ticket.StatusCLOSED {
		c.SetClosedAt(time.Now().Add(-time.Hour).UTC())
	}
	tk, err := c.Save(sys())
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// wfState is what a refused change must leave as it was.
type wfState struct {
	Status    ticket.Status
	Version   int
	ClosedAt  *time.Time
	Events    int
	Assignees []int // sorted
}

func (a wfState) same(b wfState) bool {
	return a.Status == b.Status && a.Version == b.Version && a.Events == b.Events && slices.Equal(a.Assignees, b.Assignees) &&
		(a.ClosedAt == nil) == (b.ClosedAt == nil) && (a.ClosedAt == nil || a.ClosedAt.Equal(*b.ClosedAt))
}

func (a wfState) String() string {
	c := "nil"
	if a.ClosedAt != nil {
		c = a.ClosedAt.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{%s v%d closedAt=%s events=%d assignees=%v}", a.Status, a.Version, c, a.Events, a.Assignees)
}

func (f *wfFix) state(t *testing.T, id int) wfState {
	t.Helper()
	tk, err := f.e.client.Ticket.Get(sys(), id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.e.client.TicketEvent.Query().Where(ticketevent.TicketID(id)).Count(sys())
	if err != nil {
		t.Fatal(err)
	}
	as := tk.QueryAssignees().IDsX(sys())
	slices.Sort(as)
	return wfState{tk.Status, tk.Version, tk.ClosedAt, n, as}
}

func (f *wfFix) events(t *testing.T, id int) []*ent.TicketEvent {
	t.Helper()
	evs, err := f.e.client.TicketEvent.Query().Where(ticketevent.TicketID(id)).Order(ent.Asc(ticketevent.FieldID)).All(sys())
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// ---------------------------------------------------------------------------
// The rules, by hand

// wfAttempt is one transitionTicket request.
type wfAttempt struct {
	action string
	to     ticket.Status // toStatus (MOVE)
	reason string
}

func (a wfAttempt) String() string {
	s := a.action
	if a.to != "" {
		s += ">" + string(a.to)
	}
	if a.reason != "" {
		s += "(reason)"
	}
	return s
}

// wfExpect is the rules written out by hand: what transitionTicket
// answers when a user with roles makes attempt a on a ticket of shape s — an
// error code (and field), or "" and the status the ticket lands in.
//
// Precedence: malformed input first, then "no such transition from here"
// (INVALID_TRANSITION), then "not yours" (FORBIDDEN), then the transition's
// own conditions (an approver to submit to; a reason to reject).
func wfExpect(s wfShape, roles wfRole, a wfAttempt) (code, field string, to ticket.Status) {
	if a.action == "MOVE" && a.to == "" {
		return "BAD_USER_INPUT", "toStatus", ""
	}
	if a.action != "MOVE" && a.to != "" {
		return "BAD_USER_INPUT", "toStatus", ""
	}
	if len([]rune(strings.TrimSpace(a.reason))) > 2000 { // the API's bound on a reason
		return "BAD_USER_INPUT", "reason", ""
	}
	var (
		from          []ticket.Status // nil: any status but the target
		by            wfRole
		needsApprover bool
		needsReason   bool
	)
	if s.workflow == category.WorkflowAPPROVAL {
		switch a.action {
		case "START": // assignee: ASSIGNED → IN_PROGRESS, or REJECTED → IN_PROGRESS to resume
			from, to, by = []ticket.Status{ticket.StatusASSIGNED, ticket.StatusREJECTED}, ticket.StatusIN_PROGRESS, wfAssignee
		case "SUBMIT": // assignee, only with an approver set
			from, to, by, needsApprover = []ticket.Status{ticket.StatusIN_PROGRESS}, ticket.StatusSUBMITTED, wfAssignee, true
		case "APPROVE":
			from, to, by = []ticket.Status{ticket.StatusSUBMITTED}, ticket.StatusAPPROVED, wfApprover
		case "REJECT": // with a reason
			from, to, by, needsReason = []ticket.Status{ticket.StatusSUBMITTED}, ticket.StatusREJECTED, wfApprover, true
		case "CLOSE": // ADMIN and TICKET_EDIT, from any status
			to, by = ticket.StatusCLOSED, wfEditor
		case "REOPEN": // a CLOSED one: ASSIGNED with an assignee, else NEW
			from, to, by = []ticket.Status{ticket.StatusCLOSED}, ticket.StatusNEW, wfEditor
			if s.assignee {
				to = ticket.StatusASSIGNED
			}
		case "RESTART": // sets NEW, and removes the assignees (issue 9, 1j): NEW means assigned to no one
			to, by = ticket.StatusNEW, wfEditor
		default: // MOVE is for incidents
			return "INVALID_TRANSITION", "", ""
		}
	} else {
		working := []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED}
		switch a.action {
		case "MOVE": // the owner or an editor, freely among the four working statuses
			if !slices.Contains(append(slices.Clone(working), ticket.StatusCLOSED), a.to) {
				return "BAD_USER_INPUT", "toStatus", "" // not a status of this workflow at all
			}
			if !slices.Contains(working, a.to) {
				return "INVALID_TRANSITION", "", ""
			}
			from, to, by = working, a.to, wfAssignee|wfEditor
		case "CLOSE": // from any status
			to, by = ticket.StatusCLOSED, wfAssignee|wfEditor
		case "REOPEN": // returns to TRIAGE
			from, to, by = []ticket.Status{ticket.StatusCLOSED}, ticket.StatusTRIAGE, wfAssignee|wfEditor
		case "RESTART": // bulk actions' restart: the first status; the owner stays
			to, by = ticket.StatusTRIAGE, wfEditor
		default: // the approval actions
			return "INVALID_TRANSITION", "", ""
		}
	}
	switch {
	case s.status == to || (from != nil && !slices.Contains(from, s.status)):
		return "INVALID_TRANSITION", "", ""
	case roles&by == 0:
		return "FORBIDDEN", "", ""
	case needsApprover && !s.approver:
		return "INVALID_TRANSITION", "", ""
	case needsReason && strings.TrimSpace(a.reason) == "":
		return "BAD_USER_INPUT", "reason", ""
	}
	return "", "", to
}

// wfAttempts are the requests every shape of a workflow is tried with: each
// action, MOVE to every status of both workflows.
func wfAttempts(w category.Workflow) []wfAttempt {
	out := []wfAttempt{{action: "START"}, {action: "SUBMIT"}, {action: "APPROVE"}, {action: "REJECT", reason: "not enough evidence"},
		{action: "CLOSE"}, {action: "REOPEN"}, {action: "RESTART"}}
	targets := []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED, ticket.StatusCLOSED, ticket.StatusNEW}
	if w == category.WorkflowAPPROVAL {
		targets = []ticket.Status{ticket.StatusANALYSIS, ticket.StatusIN_PROGRESS, ticket.StatusCLOSED}
	}
	for _, to := range targets {
		out = append(out, wfAttempt{action: "MOVE", to: to})
	}
	return out
}

// wfAllStatuses are both workflows' statuses.
var wfAllStatuses = []ticket.Status{
	ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED, ticket.StatusAPPROVED, ticket.StatusREJECTED,
	ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED, ticket.StatusCLOSED,
}

// wfOptions derives availableActions from wfExpect: every action, and MOVE
// to every status, that would be accepted, as "ACTION>STATUS", sorted.
func wfOptions(s wfShape, roles wfRole) []string {
	var tries []wfAttempt
	for _, action := range []string{"START", "SUBMIT", "APPROVE", "REJECT", "CLOSE", "REOPEN", "RESTART"} {
		tries = append(tries, wfAttempt{action: action, reason: "a reason the user will give"})
	}
	for _, st := range wfAllStatuses {
		tries = append(tries, wfAttempt{action: "MOVE", to: st})
	}
	out := []string{}
	for _, a := range tries {
		if code, _, to := wfExpect(s, roles, a); code == "" {
			out = append(out, a.action+">"+string(to))
		}
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// Requests

const wfTransitionMut = `mutation($id: ID!, $action: TicketAction!, $to: TicketStatus, $reason: String, $v: Int) {
	transitionTicket(id: $id, action: $action, toStatus: $to, reason: $reason, expectedVersion: $v) { id status version closedAt } }`

type wfTransitioned struct {
	TransitionTicket struct {
		ID       string
		Status   ticket.Status
		Version  int
		ClosedAt *time.Time
	}
}

func wfTransitionVars(id int, a wfAttempt) map[string]any {
	vars := map[string]any{"id": gid(id), "action": a.action}
	if a.to != "" {
		vars["to"] = a.to
	}
	if a.reason != "" {
		vars["reason"] = a.reason
	}
	return vars
}

func (f *wfFix) transition(token string, id int, a wfAttempt) *result {
	f.e.t.Helper()
	return f.e.do(token, wfTransitionMut, wfTransitionVars(id, a))
}

const wfAssignMut = `mutation($id: ID!, $as: [ID!], $ap: [ID!], $v: Int) {
	assignTicket(id: $id, assigneeIDs: $as, approverIDs: $ap, expectedVersion: $v) {
		status version assignees { login } approvers { login } } }`

type wfAssigned struct {
	AssignTicket struct {
		Status    ticket.Status
		Version   int
		Assignees []struct{ Login string }
		Approvers []struct{ Login string }
	}
}

const wfActionsQuery = `query($id: ID!) { node(id: $id) { ... on Ticket { status availableActions { action toStatus } } } }`

// availableActions returns what u is offered on ticket id, as "ACTION>STATUS",
// sorted; nil when u cannot see the ticket.
func (f *wfFix) availableActions(t *testing.T, u wfUser, id int) []string {
	t.Helper()
	var d struct {
		Node *struct {
			AvailableActions []struct{ Action, ToStatus string }
		}
	}
	r := f.e.do(u.token, wfActionsQuery, map[string]any{"id": gid(id)})
	if len(r.Errors) > 0 && r.code() != "NOT_FOUND" {
		t.Fatalf("availableActions as %s: %+v", u.name, r.Errors)
	}
	r.into(&d)
	if d.Node == nil {
		return nil
	}
	out := []string{}
	for _, o := range d.Node.AvailableActions {
		out = append(out, o.Action+">"+o.ToStatus)
	}
	sort.Strings(out)
	return out
}

// wfPost is e.do for goroutines: it never touches t, and returns the first
// error's extensions.code ("" on success).
func wfPost(url, token, query string, vars map[string]any) (string, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Errors []gqlError }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if len(out.Errors) == 0 {
		return "", nil
	}
	if c, _ := out.Errors[0].Extensions["code"].(string); c != "" {
		return c, nil
	}
	return "", fmt.Errorf("error without code: %+v", out.Errors[0])
}

// ---------------------------------------------------------------------------
// Checks

// wfCheckRefused checks a refused request's code and field, and that the
// ticket is as it was: status, version, closedAt, no new history.
func (f *wfFix) wfCheckRefused(t *testing.T, what string, r *result, code, field string, id int, before wfState) {
	t.Helper()
	if r.code() != code || (field != "" && r.field() != field) {
		t.Errorf("%s: want %s %s, got status %d errors %+v data %s", what, code, field, r.Status, r.Errors, r.Data)
	}
	if after := f.state(t, id); !after.same(before) {
		t.Errorf("%s: refused with %s, yet the ticket changed: %s → %s", what, r.code(), before, after)
	}
}

// wfCheckTransitioned checks a ticket that u moved from before.Status to to:
// the response, the row (version +1, closedAt) and the one TRANSITIONED
// event appended, field by field.
func (f *wfFix) wfCheckTransitioned(t *testing.T, what string, r *result, id int, before wfState, u wfUser, to ticket.Status, reason string) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Errorf("%s: want %s, got errors %+v", what, to, r.Errors)
		return
	}
	var d wfTransitioned
	r.into(&d)
	after := f.state(t, id)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(what+": "+format, args...)
	}
	if d.TransitionTicket.Status != to || after.Status != to {
		fail("status: response %s, stored %s, want %s", d.TransitionTicket.Status, after.Status, to)
	}
	if d.TransitionTicket.Version != before.Version+1 || after.Version != before.Version+1 {
		fail("version: response %d, stored %d, want %d", d.TransitionTicket.Version, after.Version, before.Version+1)
	}
	switch {
	case to == ticket.StatusCLOSED && (after.ClosedAt == nil || time.Since(*after.ClosedAt) > time.Minute || d.TransitionTicket.ClosedAt == nil):
		fail("closed, but closedAt is %v (response %v)", after.ClosedAt, d.TransitionTicket.ClosedAt)
	case to != ticket.StatusCLOSED && (after.ClosedAt != nil || d.TransitionTicket.ClosedAt != nil):
		fail("not closed, but closedAt is %v (response %v)", after.ClosedAt, d.TransitionTicket.ClosedAt)
	}
	evs := f.events(t, id)
	if len(evs) != before.Events+1 {
		fail("%d events, want %d", len(evs), before.Events+1)
		return
	}
	ev := evs[len(evs)-1]
	got := ""
	if ev.Reason != nil {
		got = *ev.Reason
	}
	if ev.Kind != ticketevent.KindTRANSITIONED || ev.ActorID == nil || *ev.ActorID != u.id || got != reason || (reason == "" && ev.Reason != nil) {
		fail("event kind %s actor %v reason %v; want TRANSITIONED by %s (%d) reason %q", ev.Kind, ev.ActorID, ev.Reason, u.login, u.id, reason)
	}
	want := []wfChange{{"status", before.Status, to}}
	// An approval ticket in NEW is assigned to no one: one that gets there
	// (RESTART) loses its assignees in the same entry (issue 9, 1j).
	if to == ticket.StatusNEW && len(before.Assignees) > 0 {
		want = append(want, wfChange{"assignees", before.Assignees, []int{}})
	}
	if to == ticket.StatusNEW && len(after.Assignees) != 0 || to != ticket.StatusNEW && !slices.Equal(after.Assignees, before.Assignees) {
		fail("assignees %v, before %v", after.Assignees, before.Assignees)
	}
	switch {
	case to == ticket.StatusCLOSED:
		want = append(want, wfChange{"closedAt", nil, wfTime(after.ClosedAt)})
	case before.ClosedAt != nil:
		want = append(want, wfChange{"closedAt", wfTime(before.ClosedAt), nil})
	}
	if got := wfChanges(t, ev); !wfSameChanges(got, want) {
		fail("changes %v, want %v", got, want)
	}
}

// wfChange is one FieldChange as read back; times compare within a
// millisecond (PostgreSQL keeps microseconds, the history JSON nanoseconds).
type wfChange struct {
	Field    string
	From, To any
}

type wfTimeValue time.Time

func wfTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return wfTimeValue(*t)
}

func (c wfChange) String() string { return fmt.Sprintf("%s: %v → %v", c.Field, c.From, c.To) }

func wfChanges(t *testing.T, ev *ent.TicketEvent) []wfChange {
	t.Helper()
	var out []wfChange
	for _, ch := range roundTrip(t, ev.Changes) {
		out = append(out, wfChange{string(ch.Field), ch.From, ch.To})
	}
	return out
}

// wfSameChanges compares changes as sets keyed by field.
func wfSameChanges(got, want []wfChange) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(g wfChange) bool { return g.Field == w.Field })
		if i < 0 || !wfSameValue(got[i].From, w.From) || !wfSameValue(got[i].To, w.To) {
			return false
		}
	}
	return true
}

func wfSameValue(got, want any) bool {
	if wt, ok := want.(wfTimeValue); ok {
		s, ok := got.(string)
		if !ok {
			return false
		}
		gt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return false
		}
		d := gt.Sub(time.Time(wt))
		return d < time.Millisecond && d > -time.Millisecond
	}
	return equalJSON(got, want)
}

// ---------------------------------------------------------------------------
// 1, 2. Every transition of both workflows, for every role

// wfRunMatrix tries every attempt of the workflow as every user on a ticket
// of each shape. Refused attempts share one probe ticket per shape and must
// leave it untouched; each accepted one is taken on a fresh copy.
func wfRunMatrix(t *testing.T, f *wfFix, shapes []wfShape) {
	for _, s := range shapes {
		probe := f.make(t, s)
		before := f.state(t, probe.ID)
		for _, u := range f.people() {
			for _, a := range wfAttempts(s.workflow) {
				what := fmt.Sprintf("%s: %s by %s", s, a, u.name)
				code, field, to := wfExpect(s, f.roles(u, s), a)
				// Only a malformed request (toStatus missing or misplaced) is
				// refused before the ticket is looked up.
				malformed := field == "toStatus" && (a.to == "" || a.action != "MOVE")
				if u.id == f.outsider.id && !malformed {
					code, field = "NOT_FOUND", "" // another site's ticket does not exist for them
				}
				if code != "" {
					f.wfCheckRefused(t, what, f.transition(u.token, probe.ID, a), code, field, probe.ID, before)
					continue
				}
				cp := f.make(t, s)
				st := f.state(t, cp.ID)
				f.wfCheckTransitioned(t, what, f.transition(u.token, cp.ID, a), cp.ID, st, u, to, a.reason)
			}
		}
	}
}

func TestWorkflowApprovalTransitionsByRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		wfRunMatrix(t, f, wfApprovalShapes())

		// The matrix's expectations, spelled out for the cases the issue names.
		for _, c := range []struct {
			shape     wfShape
			u         wfUser
			a         wfAttempt
			code, fld string
			to        ticket.Status
		}{
			{wfApproval(ticket.StatusASSIGNED, true, true), f.assignee, wfAttempt{action: "START"}, "", "", ticket.StatusIN_PROGRESS},
			{wfApproval(ticket.StatusREJECTED, true, true), f.assignee, wfAttempt{action: "START"}, "", "", ticket.StatusIN_PROGRESS},
			{wfApproval(ticket.StatusASSIGNED, true, true), f.editor, wfAttempt{action: "START"}, "FORBIDDEN", "", ""}, // START is the assignee's
			{wfApproval(ticket.StatusASSIGNED, true, true), f.approver, wfAttempt{action: "START"}, "FORBIDDEN", "", ""},
			{wfApproval(ticket.StatusIN_PROGRESS, true, false), f.assignee, wfAttempt{action: "SUBMIT"}, "INVALID_TRANSITION", "", ""},
			{wfApproval(ticket.StatusSUBMITTED, true, true), f.approver, wfAttempt{action: "REJECT"}, "BAD_USER_INPUT", "reason", ""},
			{wfApproval(ticket.StatusSUBMITTED, true, true), f.approver, wfAttempt{action: "REJECT", reason: "   "}, "BAD_USER_INPUT", "reason", ""},
			{wfApproval(ticket.StatusSUBMITTED, true, true), f.approver, wfAttempt{action: "REJECT", reason: strings.Repeat("x", 2001)}, "BAD_USER_INPUT", "reason", ""},
			{wfApproval(ticket.StatusSUBMITTED, true, true), f.assignee, wfAttempt{action: "APPROVE"}, "FORBIDDEN", "", ""},
			{wfApproval(ticket.StatusNEW, false, true), f.admin, wfAttempt{action: "APPROVE"}, "INVALID_TRANSITION", "", ""},
			{wfApproval(ticket.StatusNEW, false, true), f.admin, wfAttempt{action: "START"}, "INVALID_TRANSITION", "", ""},
			{wfApproval(ticket.StatusCLOSED, true, true), f.admin, wfAttempt{action: "CLOSE"}, "INVALID_TRANSITION", "", ""},
			{wfApproval(ticket.StatusASSIGNED, true, true), f.admin, wfAttempt{action: "MOVE", to: ticket.StatusIN_PROGRESS}, "INVALID_TRANSITION", "", ""},
			{wfApproval(ticket.StatusASSIGNED, true, true), f.admin, wfAttempt{action: "CLOSE", to: ticket.StatusCLOSED}, "BAD_USER_INPUT", "toStatus", ""},
			{wfApproval(ticket.StatusCLOSED, true, true), f.editor, wfAttempt{action: "REOPEN"}, "", "", ticket.StatusASSIGNED},
			{wfApproval(ticket.StatusCLOSED, false, false), f.editor, wfAttempt{action: "REOPEN"}, "", "", ticket.StatusNEW},
			{wfApproval(ticket.StatusSUBMITTED, true, true), f.editor, wfAttempt{action: "RESTART"}, "", "", ticket.StatusNEW},
		} {
			what := fmt.Sprintf("named: %s: %s by %s", c.shape, c.a, c.u.name)
			if code, fld, to := wfExpect(c.shape, f.roles(c.u, c.shape), c.a); code != c.code || fld != c.fld || to != c.to {
				t.Errorf("%s: wfExpect says %s %s %s", what, code, fld, to) // the hand-written rules disagree with the words
			}
			tk := f.make(t, c.shape)
			before := f.state(t, tk.ID)
			r := f.transition(c.u.token, tk.ID, c.a)
			if c.code != "" {
				f.wfCheckRefused(t, what, r, c.code, c.fld, tk.ID, before)
			} else {
				f.wfCheckTransitioned(t, what, r, tk.ID, before, c.u, c.to, "")
			}
		}
	})
}

func TestIncidentWorkflowTransitionsByRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)

		// Created through the API, an incident starts in TRIAGE, with or without an owner.
		for _, as := range [][]string{nil, gids(f.assignee.id)} {
			in := analysis(f.siteA, f.incident)
			if as != nil {
				in["assigneeIDs"] = as
			}
			var c struct{ CreateTicket struct{ Status string } }
			e.do(f.editor.token, createMut, map[string]any{"in": in}).ok().into(&c)
			if c.CreateTicket.Status != "TRIAGE" {
				t.Errorf("incident created with assignees %v: %s, want TRIAGE", as, c.CreateTicket.Status)
			}
		}

		wfRunMatrix(t, f, wfIncidentShapes())

		// A walk through the working statuses by the owner and an editor in turn.
		tk := f.make(t, wfIncident(ticket.StatusTRIAGE))
		for i, to := range []ticket.Status{ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusTRIAGE, ticket.StatusRESOLVED, ticket.StatusANALYSIS} {
			u := []wfUser{f.assignee, f.editor}[i%2]
			before := f.state(t, tk.ID)
			f.wfCheckTransitioned(t, "walk to "+string(to), f.transition(u.token, tk.ID, wfAttempt{action: "MOVE", to: to}), tk.ID, before, u, to, "")
		}
		before := f.state(t, tk.ID)
		f.wfCheckRefused(t, "MOVE without toStatus", f.transition(f.assignee.token, tk.ID, wfAttempt{action: "MOVE"}), "BAD_USER_INPUT", "toStatus", tk.ID, before)
		f.wfCheckRefused(t, "MOVE to CLOSED", f.transition(f.editor.token, tk.ID, wfAttempt{action: "MOVE", to: ticket.StatusCLOSED}), "INVALID_TRANSITION", "", tk.ID, before)
		f.wfCheckRefused(t, "MOVE to an approval status", f.transition(f.editor.token, tk.ID, wfAttempt{action: "MOVE", to: ticket.StatusAPPROVED}), "BAD_USER_INPUT", "toStatus", tk.ID, before)
		f.wfCheckRefused(t, "MOVE by a viewer", f.transition(f.viewer.token, tk.ID, wfAttempt{action: "MOVE", to: ticket.StatusRESOLVED}), "FORBIDDEN", "", tk.ID, before)
		f.wfCheckTransitioned(t, "CLOSE by owner", f.transition(f.assignee.token, tk.ID, wfAttempt{action: "CLOSE"}), tk.ID, before, f.assignee, ticket.StatusCLOSED, "")
		before = f.state(t, tk.ID)
		f.wfCheckTransitioned(t, "REOPEN by editor", f.transition(f.editor.token, tk.ID, wfAttempt{action: "REOPEN"}), tk.ID, before, f.editor, ticket.StatusTRIAGE, "")
	})
}

// ---------------------------------------------------------------------------
// 3. Assignment

func TestAssignTicketStatusAndRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		assign := func(u wfUser, id int, as, ap []int, v *int) *result {
			t.Helper()
			vars := map[string]any{"id": gid(id)}
			if as != nil {
				vars["as"] = gids(as...)
			}
			if ap != nil {
				vars["ap"] = gids(ap...)
			}
			if v != nil {
				vars["v"] = *v
			}
			return e.do(u.token, wfAssignMut, vars)
		}
		var c struct{ CreateTicket struct{ ID, Status string } }
		e.do(f.editor.token, createMut, map[string]any{"in": analysis(f.siteA, f.approval)}).ok().into(&c)
		if c.CreateTicket.Status != "NEW" {
			t.Fatalf("created without assignee: %s", c.CreateTicket.Status)
		}
		id := wfDecode(t, c.CreateTicket.ID)
		before := f.state(t, id)

		// Only editors and admins assign.
		f.wfCheckRefused(t, "viewer assigns", assign(f.viewer, id, []int{f.viewer.id}, nil, nil), "FORBIDDEN", "", id, before)
		f.wfCheckRefused(t, "another viewer assigns", assign(f.approver, id, []int{f.assignee.id}, nil, nil), "FORBIDDEN", "", id, before)
		f.wfCheckRefused(t, "outsider assigns", assign(f.outsider, id, []int{f.assignee.id}, nil, nil), "NOT_FOUND", "", id, before)
		f.wfCheckRefused(t, "nothing to assign", assign(f.admin, id, nil, nil, nil), "BAD_USER_INPUT", "", id, before)
		f.wfCheckRefused(t, "unknown user", assign(f.admin, id, []int{987654}, nil, nil), "BAD_USER_INPUT", "assigneeIDs", id, before)

		// NEW + assignee → ASSIGNED.
		var d wfAssigned
		assign(f.admin, id, []int{f.assignee.id}, nil, nil).ok().into(&d)
		if x := d.AssignTicket; x.Status != "ASSIGNED" || x.Version != before.Version+1 || len(x.Assignees) != 1 || x.Assignees[0].Login != f.assignee.login {
			t.Errorf("after assigning: %+v", x)
		}
		ev := f.events(t, id)
		if last := ev[len(ev)-1]; last.Kind != ticketevent.KindASSIGNED || *last.ActorID != f.admin.id ||
			!wfSameChanges(wfChanges(t, last), []wfChange{{"assignees", []any{}, []any{f.assignee.id}}, {"status", "NEW", "ASSIGNED"}}) {
			t.Errorf("ASSIGNED event %s by %v: %v", last.Kind, last.ActorID, wfChanges(t, last))
		}

		// Being its assignee does not make a viewer an editor.
		before = f.state(t, id)
		f.wfCheckRefused(t, "assignee reassigns", assign(f.assignee, id, []int{f.viewer.id}, nil, nil), "FORBIDDEN", "", id, before)
		f.wfCheckRefused(t, "assignee sets approver", assign(f.assignee, id, nil, []int{f.approver.id}, nil), "FORBIDDEN", "", id, before)
		// Even a request that would change nothing is not theirs to make.
		f.wfCheckRefused(t, "assignee re-sends the same assignees", assign(f.assignee, id, []int{f.assignee.id}, nil, nil), "FORBIDDEN", "", id, before)

		// An approver alone changes no status; the same assignment again changes nothing.
		assign(f.editor, id, nil, []int{f.approver.id}, nil).ok().into(&d)
		if x := d.AssignTicket; x.Status != "ASSIGNED" || len(x.Approvers) != 1 || x.Approvers[0].Login != f.approver.login || x.Version != before.Version+1 {
			t.Errorf("after setting the approver: %+v", x)
		}
		before = f.state(t, id)
		assign(f.editor, id, []int{f.assignee.id}, []int{f.approver.id}, nil).ok()
		if after := f.state(t, id); !after.same(before) {
			t.Errorf("an assignment to the same people changed the ticket: %s → %s", before, after)
		}

		// Removing every assignee of an ASSIGNED ticket: NEW again.
		r := assign(f.editor, id, []int{}, nil, nil)
		if len(r.Errors) > 0 {
			t.Errorf("removing all assignees (assigneeIDs: []): %+v", r.Errors)
		} else {
			r.into(&d)
			if x := d.AssignTicket; x.Status != "NEW" || len(x.Assignees) != 0 || len(x.Approvers) != 1 {
				t.Errorf("after removing the assignees: %+v", x)
			}
			ev = f.events(t, id)
			if last := ev[len(ev)-1]; !wfSameChanges(wfChanges(t, last), []wfChange{{"assignees", []any{f.assignee.id}, []any{}}, {"status", "ASSIGNED", "NEW"}}) {
				t.Errorf("unassigning event: %v", wfChanges(t, last))
			}
		}

		// Other statuses stay whatever the assignees: work in progress, an incident.
		for _, s := range []wfShape{wfApproval(ticket.StatusIN_PROGRESS, true, true), wfIncident(ticket.StatusTRIAGE)} {
			tk := f.make(t, s)
			var d wfAssigned
			assign(f.admin, tk.ID, []int{}, nil, nil).ok().into(&d)
			if d.AssignTicket.Status != s.status || len(d.AssignTicket.Assignees) != 0 {
				t.Errorf("%s unassigned: %+v", s, d.AssignTicket)
			}
			assign(f.admin, tk.ID, []int{f.viewer.id, f.assignee.id}, nil, nil).ok().into(&d)
			if d.AssignTicket.Status != s.status || len(d.AssignTicket.Assignees) != 2 {
				t.Errorf("%s reassigned: %+v", s, d.AssignTicket)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// 4. expectedVersion

func TestWorkflowStaleExpectedVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		tk := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		before := f.state(t, tk.ID)
		for _, v := range []int{before.Version - 1, before.Version + 1} {
			vars := wfTransitionVars(tk.ID, wfAttempt{action: "START"})
			vars["v"] = v
			f.wfCheckRefused(t, fmt.Sprintf("START at version %d", v), e.do(f.assignee.token, wfTransitionMut, vars), "CONFLICT", "", tk.ID, before)
			f.wfCheckRefused(t, fmt.Sprintf("assign at version %d", v),
				e.do(f.admin.token, wfAssignMut, map[string]any{"id": gid(tk.ID), "as": gids(f.viewer.id), "v": v}), "CONFLICT", "", tk.ID, before)
		}
		vars := wfTransitionVars(tk.ID, wfAttempt{action: "START"})
		vars["v"] = before.Version
		f.wfCheckTransitioned(t, "START at the current version", e.do(f.assignee.token, wfTransitionMut, vars), tk.ID, before, f.assignee, ticket.StatusIN_PROGRESS, "")
		// The version the client just read is stale after the change.
		before = f.state(t, tk.ID)
		vars = wfTransitionVars(tk.ID, wfAttempt{action: "CLOSE"})
		vars["v"] = before.Version - 1
		f.wfCheckRefused(t, "CLOSE with the pre-START version", e.do(f.editor.token, wfTransitionMut, vars), "CONFLICT", "", tk.ID, before)
	})
}

// ---------------------------------------------------------------------------
// 5. Concurrency

func TestConcurrentTransitionsOneWins(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		// race fires n requests at once and returns their codes.
		race := func(n int, token string, vars func(i int) map[string]any) []string {
			codes := make([]string, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					codes[i], errs[i] = wfPost(e.srv.URL, token, wfTransitionMut, vars(i))
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			}
			return codes
		}
		// check: exactly one request won, the others lost cleanly, and the
		// history holds one transition out of from.
		check := func(what string, id int, codes []string, from ticket.Status) {
			t.Helper()
			won := 0
			for i, c := range codes {
				switch c {
				case "":
					won++
				case "INVALID_TRANSITION", "CONFLICT":
				default:
					t.Errorf("%s: request %d got %s", what, i, c)
				}
			}
			if won != 1 {
				t.Errorf("%s: %d requests won (%v), want exactly 1", what, won, codes)
			}
			n, evs := 0, f.events(t, id)
			if len(evs) != 1 {
				t.Errorf("%s: %d events appended, want 1", what, len(evs))
			}
			for _, ev := range evs {
				for _, ch := range ev.Changes {
					if ev.Kind == ticketevent.KindTRANSITIONED && ch.Field == "status" && fmt.Sprint(ch.From) == string(from) {
						n++
					}
				}
			}
			if n != 1 {
				t.Errorf("%s: %d TRANSITIONED events out of %s, want 1", what, n, from)
			}
		}

		// Half approve, half reject: one decision, not two.
		tk := f.make(t, wfApproval(ticket.StatusSUBMITTED, true, true))
		v0 := f.state(t, tk.ID).Version
		codes := race(10, f.approver.token, func(i int) map[string]any {
			if i%2 == 0 {
				return wfTransitionVars(tk.ID, wfAttempt{action: "APPROVE"})
			}
			return wfTransitionVars(tk.ID, wfAttempt{action: "REJECT", reason: "race"})
		})
		check("approve/reject", tk.ID, codes, ticket.StatusSUBMITTED)
		if st := f.state(t, tk.ID); st.Version != v0+1 || (st.Status != ticket.StatusAPPROVED && st.Status != ticket.StatusREJECTED) {
			t.Errorf("approve/reject: ticket ends %s", st)
		}

		// Ten closes by the admin: one closes it, nine find it closed.
		tk = f.make(t, wfApproval(ticket.StatusIN_PROGRESS, true, true))
		v0 = f.state(t, tk.ID).Version
		codes = race(10, f.admin.token, func(int) map[string]any { return wfTransitionVars(tk.ID, wfAttempt{action: "CLOSE"}) })
		check("close", tk.ID, codes, ticket.StatusIN_PROGRESS)
		if st := f.state(t, tk.ID); st.Status != ticket.StatusCLOSED || st.Version != v0+1 {
			t.Errorf("close: ticket ends %s", st)
		}
	})
}

// ---------------------------------------------------------------------------
// 6. History

const wfHistoryQuery = `query($id: ID!, $first: Int, $last: Int, $before: Cursor) { node(id: $id) { ... on Ticket {
	history(first: $first, last: $last, before: $before) {
		totalCount
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { kind createdAt actor { login } changes { field from to } reason } } } } } }`

type wfHistory struct {
	Node struct {
		History struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       string
			}
			Edges []struct {
				Cursor string
				Node   struct {
					Kind      string
					CreatedAt time.Time
					Actor     *struct{ Login string }
					Changes   []wfChange
					Reason    *string
				}
			}
		}
	}
}

func TestHistoryOfApprovalLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		// The editor opens it with an approver; the admin assigns it.
		in := analysis(f.siteA, f.approval)
		in["approverIDs"] = gids(f.approver.id)
		var c struct{ CreateTicket struct{ Number int } }
		e.do(f.editor.token, createMut, map[string]any{"in": in}).ok().into(&c)
		id := ent.TicketIDFromNumber(c.CreateTicket.Number)
		e.do(f.admin.token, wfAssignMut, map[string]any{"id": gid(id), "as": gids(f.assignee.id)}).ok()

		var closedAt time.Time
		steps := []struct {
			u wfUser
			a wfAttempt
		}{
			{f.assignee, wfAttempt{action: "START"}},
			{f.assignee, wfAttempt{action: "SUBMIT"}},
			{f.approver, wfAttempt{action: "REJECT", reason: "  attach the firewall logs  "}},
			{f.assignee, wfAttempt{action: "START"}},
			{f.assignee, wfAttempt{action: "SUBMIT"}},
			{f.approver, wfAttempt{action: "APPROVE"}},
			{f.editor, wfAttempt{action: "CLOSE"}},
			{f.admin, wfAttempt{action: "REOPEN"}},
		}
		for _, s := range steps {
			var d wfTransitioned
			f.transition(s.u.token, id, s.a).ok().into(&d)
			if d.TransitionTicket.ClosedAt != nil {
				closedAt = *d.TransitionTicket.ClosedAt
			}
		}

		type event struct {
			kind, actor string
			changes     []wfChange
			reason      string
		}
		st := func(from, to ticket.Status) wfChange { return wfChange{"status", from, to} }
		// References read back as the API's opaque IDs.
		want := []event{
			{"CREATED", f.editor.login, []wfChange{{"status", nil, "NEW"}, {"title", nil, "Suspicious login"},
				{"kind", nil, "ANALYSIS"}, {"origin", nil, "USER"}, {"category", nil, gid(f.approval)},
				{"site", nil, gid(f.siteA)}, {"priority", nil, "LOW"}, {"approvers", nil, gids(f.approver.id)}}, ""},
			{"ASSIGNED", f.admin.login, []wfChange{{"assignees", []string{}, gids(f.assignee.id)}, st("NEW", "ASSIGNED")}, ""},
			{"TRANSITIONED", f.assignee.login, []wfChange{st("ASSIGNED", "IN_PROGRESS")}, ""},
			{"TRANSITIONED", f.assignee.login, []wfChange{st("IN_PROGRESS", "SUBMITTED")}, ""},
			{"TRANSITIONED", f.approver.login, []wfChange{st("SUBMITTED", "REJECTED")}, "attach the firewall logs"},
			{"TRANSITIONED", f.assignee.login, []wfChange{st("REJECTED", "IN_PROGRESS")}, ""},
			{"TRANSITIONED", f.assignee.login, []wfChange{st("IN_PROGRESS", "SUBMITTED")}, ""},
			{"TRANSITIONED", f.approver.login, []wfChange{st("SUBMITTED", "APPROVED")}, ""},
			{"TRANSITIONED", f.editor.login, []wfChange{st("APPROVED", "CLOSED"), {"closedAt", nil, wfTime(&closedAt)}}, ""},
			{"TRANSITIONED", f.admin.login, []wfChange{st("CLOSED", "ASSIGNED"), {"closedAt", wfTime(&closedAt), nil}}, ""},
		}

		var h wfHistory
		e.do(f.viewer.token, wfHistoryQuery, map[string]any{"id": gid(id), "first": 50}).ok().into(&h)
		got := h.Node.History
		if got.TotalCount != len(want) || len(got.Edges) != len(want) {
			t.Fatalf("history: totalCount %d, %d edges, want %d", got.TotalCount, len(got.Edges), len(want))
		}
		var prev time.Time
		for i, w := range want {
			n := got.Edges[i].Node
			reason := ""
			if n.Reason != nil {
				reason = *n.Reason
			}
			if n.Kind != w.kind || n.Actor == nil || n.Actor.Login != w.actor || reason != w.reason {
				t.Errorf("event %d: %s by %v reason %q; want %s by %s reason %q", i, n.Kind, n.Actor, reason, w.kind, w.actor, w.reason)
			}
			if !wfSameChanges(n.Changes, w.changes) {
				t.Errorf("event %d (%s): changes %v, want %v", i, n.Kind, n.Changes, w.changes)
			}
			if n.CreatedAt.Before(prev) {
				t.Errorf("event %d: createdAt %v before the previous %v", i, n.CreatedAt, prev)
			}
			prev = n.CreatedAt
		}

		// Paging from the end: the last two, then the two before them.
		var p wfHistory
		e.do(f.viewer.token, wfHistoryQuery, map[string]any{"id": gid(id), "last": 2}).ok().into(&p)
		if pe := p.Node.History.Edges; len(pe) != 2 || pe[0].Cursor != got.Edges[8].Cursor || pe[1].Cursor != got.Edges[9].Cursor ||
			!p.Node.History.PageInfo.HasPreviousPage || p.Node.History.PageInfo.HasNextPage {
			t.Errorf("history(last: 2): %+v", p.Node.History)
		} else {
			var q wfHistory
			e.do(f.viewer.token, wfHistoryQuery, map[string]any{"id": gid(id), "last": 2, "before": p.Node.History.PageInfo.StartCursor}).ok().into(&q)
			if qe := q.Node.History.Edges; len(qe) != 2 || qe[0].Cursor != got.Edges[6].Cursor || qe[1].Cursor != got.Edges[7].Cursor {
				t.Errorf("history(last: 2, before): %+v", q.Node.History)
			}
		}

		// Append-only: no mutation of the API touches history.
		var schema struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		e.do(f.admin.token, `{ __type(name: "Mutation") { fields { name } } }`, nil).ok().into(&schema)
		if len(schema.Type.Fields) == 0 {
			t.Fatal("no Mutation fields introspected")
		}
		for _, fl := range schema.Type.Fields {
			if n := strings.ToLower(fl.Name); strings.Contains(n, "history") || strings.Contains(n, "event") {
				t.Errorf("mutation %s edits history", fl.Name)
			}
		}
		// Nor does the data layer let anyone, admin included, rewrite it.
		evID := f.events(t, id)[0].ID
		adminCtx := e.viewerContext(t, "admin")
		if err := e.client.TicketEvent.UpdateOneID(evID).SetTicketID(id).Exec(adminCtx); !errors.Is(err, privacy.Deny) {
			t.Errorf("admin updated a history row: %v", err)
		}
		if err := e.client.TicketEvent.DeleteOneID(evID).Exec(adminCtx); !errors.Is(err, privacy.Deny) {
			t.Errorf("admin deleted a history row: %v", err)
		}
	})
}

// ---------------------------------------------------------------------------
// 7. Bulk actions

const wfBulkMut = `mutation($ids: [ID!]!, $c: BulkTicketChange!) { bulkUpdateTickets(ids: $ids, change: $c) {
	succeeded failed
	results { id ticket { id status version closedAt attackVerdict incident tags { name } assignees { login } approvers { login } }
		error { code message field } } } }`

type wfBulk struct {
	BulkUpdateTickets struct {
		Succeeded, Failed int
		Results           []struct {
			ID     string
			Ticket *struct {
				ID            string
				Status        ticket.Status
				Version       int
				ClosedAt      *time.Time
				AttackVerdict *string
				Incident      bool
				Tags          []struct{ Name string }
				Assignees     []struct{ Login string }
				Approvers     []struct{ Login string }
			}
			Error *struct{ Code, Message, Field string }
		}
	}
}

func TestBulkUpdateTicketsPartialFailure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		bulk := func(u wfUser, ids []int, change map[string]any) (*result, wfBulk) {
			t.Helper()
			var d wfBulk
			r := e.do(u.token, wfBulkMut, map[string]any{"ids": gids(ids...), "c": change})
			if len(r.Errors) == 0 {
				r.into(&d)
			}
			return r, d
		}
		// want: per ticket in the order given, its error code or "" for success.
		check := func(what string, d wfBulk, ids []int, want []string) {
			t.Helper()
			b := d.BulkUpdateTickets
			ok, failed := 0, 0
			for _, w := range want {
				if w == "" {
					ok++
				} else {
					failed++
				}
			}
			if b.Succeeded != ok || b.Failed != failed || len(b.Results) != len(ids) {
				t.Errorf("%s: succeeded %d failed %d with %d results; want %d, %d, %d", what, b.Succeeded, b.Failed, len(b.Results), ok, failed, len(ids))
				return
			}
			for i, res := range b.Results {
				if res.ID != gid(ids[i]) {
					t.Errorf("%s: result %d is for %s, want %s (the order given)", what, i, res.ID, gid(ids[i]))
				}
				code := ""
				if res.Error != nil {
					code = res.Error.Code
				}
				if j := slices.Index(ids, wfDecode(t, res.ID)); j >= 0 && code != want[j] {
					t.Errorf("%s: ticket %d: error %+v, want %q", what, ids[j], res.Error, want[j])
				}
				if (res.Ticket == nil) != (code != "") {
					t.Errorf("%s: ticket %s: ticket %v with error %+v", what, res.ID, res.Ticket, res.Error)
				}
			}
		}

		otherSite := f.makeIn(t, wfApproval(ticket.StatusASSIGNED, true, true), f.approval, f.siteB)
		assigned := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		closed := f.make(t, wfApproval(ticket.StatusCLOSED, true, true))
		submitted := f.make(t, wfApproval(ticket.StatusSUBMITTED, true, true))
		ids := []int{submitted.ID, closed.ID, otherSite.ID, assigned.ID} // not in id order
		states := map[int]wfState{}
		for _, id := range ids {
			states[id] = f.state(t, id)
		}

		// CLOSE by a site-A editor: two close, one is closed already, one is not theirs.
		r, d := bulk(f.editor, ids, map[string]any{"action": "CLOSE"})
		r.ok()
		check("CLOSE", d, ids, []string{"", "INVALID_TRANSITION", "NOT_FOUND", ""})
		for _, id := range []int{submitted.ID, assigned.ID} {
			if st := f.state(t, id); st.Status != ticket.StatusCLOSED || st.ClosedAt == nil || st.Version != states[id].Version+1 || st.Events != states[id].Events+1 {
				t.Errorf("CLOSE: ticket %d is %s", id, st)
			}
		}
		for _, id := range []int{closed.ID, otherSite.ID} {
			if st := f.state(t, id); !st.same(states[id]) {
				t.Errorf("CLOSE: failed ticket %d changed: %s → %s", id, states[id], st)
			}
		}

		// A change that fails half-way leaves that ticket whole: tags and a
		// CLOSE that is invalid on a closed ticket.
		tg := e.tag("bulk")
		ok1 := f.make(t, wfApproval(ticket.StatusIN_PROGRESS, true, true))
		before := map[int]wfState{ok1.ID: f.state(t, ok1.ID), closed.ID: f.state(t, closed.ID)}
		_, d = bulk(f.editor, []int{ok1.ID, closed.ID}, map[string]any{"tagIDs": gids(tg), "action": "CLOSE"})
		check("tags+CLOSE", d, []int{ok1.ID, closed.ID}, []string{"", "INVALID_TRANSITION"})
		if n := e.client.Ticket.Query().Where(ticket.ID(closed.ID)).QueryTags().CountX(sys()); n != 0 {
			t.Errorf("tags+CLOSE: the failed ticket kept %d tags", n)
		}
		if st := f.state(t, closed.ID); !st.same(before[closed.ID]) {
			t.Errorf("tags+CLOSE: failed ticket changed: %s → %s", before[closed.ID], st)
		}
		if st := f.state(t, ok1.ID); st.Status != ticket.StatusCLOSED || st.Events != before[ok1.ID].Events+2 {
			t.Errorf("tags+CLOSE: ticket is %s, want CLOSED with two more events", st)
		}

		// Non-editors: an assignee change is not theirs, nor is an approval CLOSE.
		a1, a2 := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true)), f.make(t, wfApproval(ticket.StatusNEW, false, true))
		before = map[int]wfState{a1.ID: f.state(t, a1.ID), a2.ID: f.state(t, a2.ID)}
		for _, u := range []wfUser{f.assignee, f.viewer, f.approver} {
			_, d = bulk(u, []int{a1.ID, a2.ID}, map[string]any{"assigneeIDs": gids(u.id)})
			check("assignees by "+u.name, d, []int{a1.ID, a2.ID}, []string{"FORBIDDEN", "FORBIDDEN"})
			_, d = bulk(u, []int{a1.ID, a2.ID}, map[string]any{"action": "CLOSE"})
			check("CLOSE by "+u.name, d, []int{a1.ID, a2.ID}, []string{"FORBIDDEN", "FORBIDDEN"})
		}
		_, d = bulk(f.outsider, []int{a1.ID, a2.ID}, map[string]any{"incident": true})
		check("by another site's editor", d, []int{a1.ID, a2.ID}, []string{"NOT_FOUND", "NOT_FOUND"})
		for id, b := range before {
			if st := f.state(t, id); !st.same(b) {
				t.Errorf("refused bulk changed ticket %d: %s → %s", id, b, st)
			}
		}

		// The owner of an incident may close it in bulk (the same rule as alone).
		inc := f.make(t, wfIncident(ticket.StatusANALYSIS))
		_, d = bulk(f.assignee, []int{inc.ID, a1.ID}, map[string]any{"action": "CLOSE"})
		check("CLOSE by an incident's owner", d, []int{inc.ID, a1.ID}, []string{"", "FORBIDDEN"})
	})
}

func TestBulkUpdateTicketsChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		bulk := func(ids []int, change map[string]any) wfBulk {
			t.Helper()
			var d wfBulk
			e.do(f.admin.token, wfBulkMut, map[string]any{"ids": gids(ids...), "c": change}).ok().into(&d)
			if b := d.BulkUpdateTickets; b.Failed != 0 || b.Succeeded != len(ids) {
				t.Errorf("bulk %v: %+v", change, b)
			}
			return d
		}

		// RESTART from several statuses: NEW, closedAt cleared, no assignee
		// left (issue 9, 1j), all in the one TRANSITIONED entry; the approver
		// stays. A NEW ticket has nowhere to restart to.
		var ids []int
		for _, st := range []ticket.Status{ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED, ticket.StatusREJECTED, ticket.StatusCLOSED} {
			ids = append(ids, f.make(t, wfApproval(st, true, true)).ID)
		}
		for _, res := range bulk(ids, map[string]any{"action": "RESTART"}).BulkUpdateTickets.Results {
			if tk := res.Ticket; tk == nil || tk.Status != ticket.StatusNEW || len(tk.Assignees) != 0 || len(tk.Approvers) != 1 {
				t.Errorf("RESTART answered %+v", tk)
			}
		}
		for _, id := range ids {
			st := f.state(t, id)
			evs := f.events(t, id)
			if st.Status != ticket.StatusNEW || st.ClosedAt != nil || len(evs) != 1 || evs[0].Kind != ticketevent.KindTRANSITIONED || *evs[0].ActorID != f.admin.id {
				t.Errorf("RESTART: ticket %d is %s", id, st)
				continue
			}
			if len(st.Assignees) != 0 || !slices.ContainsFunc(wfChanges(t, evs[0]), func(c wfChange) bool {
				return c.Field == "assignees" && wfSameValue(c.From, []int{f.assignee.id}) && wfSameValue(c.To, []int{})
			}) {
				t.Errorf("RESTART kept the assignees of %d: %s, changes %v", id, st, wfChanges(t, evs[0]))
			}
			if n := e.client.Ticket.Query().Where(ticket.ID(id)).QueryApprovers().CountX(sys()); n != 1 {
				t.Errorf("RESTART of %d removed the approver", id)
			}
		}
		// RESTART with assignees in one bulk call: the ticket starts over
		// first, then gets the given assignees, and is ASSIGNED.
		again := f.make(t, wfApproval(ticket.StatusSUBMITTED, true, true))
		for _, res := range bulk([]int{again.ID}, map[string]any{"action": "RESTART", "assigneeIDs": gids(f.viewer.id)}).BulkUpdateTickets.Results {
			if tk := res.Ticket; tk == nil || tk.Status != ticket.StatusASSIGNED || len(tk.Assignees) != 1 || tk.Assignees[0].Login != f.viewer.login {
				t.Errorf("RESTART and assign: %+v", tk)
			}
		}
		var d wfBulk
		e.do(f.admin.token, wfBulkMut, map[string]any{"ids": gids(ids[0]), "c": map[string]any{"action": "RESTART"}}).ok().into(&d)
		if b := d.BulkUpdateTickets; b.Failed != 1 || b.Results[0].Error == nil || b.Results[0].Error.Code != "INVALID_TRANSITION" {
			t.Errorf("RESTART of a NEW ticket: %+v", b)
		}

		// Tags replace; an empty list removes them all.
		t1, t2, t3 := e.tag("t1"), e.tag("t2"), e.tag("t3")
		x := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		y := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		e.client.Ticket.UpdateOneID(x.ID).AddTagIDs(t3).ExecX(sys())
		tagsOf := func(id int) []string {
			names := e.client.Ticket.Query().Where(ticket.ID(id)).QueryTags().Order(ent.Asc(tag.FieldName)).Select(tag.FieldName).StringsX(sys())
			return append([]string{}, names...)
		}
		d = bulk([]int{x.ID, y.ID}, map[string]any{"tagIDs": gids(t2, t1)})
		for _, id := range []int{x.ID, y.ID} {
			if got := tagsOf(id); !slices.Equal(got, []string{"t1", "t2"}) {
				t.Errorf("tags of %d: %v", id, got)
			}
		}
		ev := f.events(t, x.ID)
		if last := ev[len(ev)-1]; !wfSameChanges(wfChanges(t, last), []wfChange{{"tags", []int{t3}, []int{t1, t2}}}) {
			t.Errorf("tag event: %s %v", last.Kind, wfChanges(t, last))
		}
		d = bulk([]int{x.ID, y.ID}, map[string]any{"tagIDs": []string{}})
		for _, id := range []int{x.ID, y.ID} {
			if got := tagsOf(id); len(got) != 0 {
				t.Errorf("tagIDs: [] left %v on %d", got, id)
			}
		}

		// The attack verdict and the incident flag.
		d = bulk([]int{x.ID, y.ID}, map[string]any{"attackVerdict": "TRUE_POSITIVE", "incident": true})
		for _, res := range d.BulkUpdateTickets.Results {
			if res.Ticket == nil || res.Ticket.AttackVerdict == nil || *res.Ticket.AttackVerdict != "TRUE_POSITIVE" || !res.Ticket.Incident {
				t.Errorf("verdict/incident: %+v", res.Ticket)
			}
		}
		for _, id := range []int{x.ID, y.ID} {
			if tk := e.client.Ticket.GetX(sys(), id); tk.AttackVerdict == nil || *tk.AttackVerdict != ticket.AttackVerdictTRUE_POSITIVE || !tk.Incident {
				t.Errorf("verdict/incident not stored on %d", id)
			}
		}

		// Assignee and approver: NEW tickets become ASSIGNED.
		n1, n2 := f.make(t, wfApproval(ticket.StatusNEW, false, false)), f.make(t, wfApproval(ticket.StatusNEW, false, false))
		d = bulk([]int{n1.ID, n2.ID}, map[string]any{"assigneeIDs": gids(f.assignee.id), "approverIDs": gids(f.approver.id)})
		for _, res := range d.BulkUpdateTickets.Results {
			if tk := res.Ticket; tk == nil || tk.Status != ticket.StatusASSIGNED || len(tk.Assignees) != 1 || tk.Assignees[0].Login != f.assignee.login ||
				len(tk.Approvers) != 1 || tk.Approvers[0].Login != f.approver.login {
				t.Errorf("assign in bulk: %+v", tk)
			}
		}
		// Only the approver changes: the status stays.
		d = bulk([]int{n1.ID}, map[string]any{"approverIDs": gids(f.viewer.id)})
		if tk := d.BulkUpdateTickets.Results[0].Ticket; tk == nil || tk.Status != ticket.StatusASSIGNED || len(tk.Assignees) != 1 || tk.Approvers[0].Login != f.viewer.login {
			t.Errorf("approver in bulk: %+v", tk)
		}
	})
}

func TestBulkUpdateTicketsRefusedCalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		tk := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		before := f.state(t, tk.ID)
		many := []int{tk.ID}
		for i := 1; len(many) <= 1000; i++ {
			many = append(many, tk.ID+i)
		}
		for _, c := range []struct {
			name   string
			ids    []int
			change map[string]any
			field  string
		}{
			{"1001 ids", many, map[string]any{"action": "CLOSE"}, "ids"},
			{"no ids", []int{}, map[string]any{"action": "CLOSE"}, "ids"},
			{"empty change", []int{tk.ID}, map[string]any{}, "change"},
			{"START in bulk", []int{tk.ID}, map[string]any{"action": "START"}, "change.action"},
			{"APPROVE in bulk", []int{tk.ID}, map[string]any{"action": "APPROVE"}, "change.action"},
			{"MOVE in bulk", []int{tk.ID}, map[string]any{"action": "MOVE"}, "change.action"},
		} {
			r := e.do(f.admin.token, wfBulkMut, map[string]any{"ids": gids(c.ids...), "c": c.change})
			f.wfCheckRefused(t, c.name, r, "BAD_USER_INPUT", c.field, tk.ID, before)
		}
		if n := e.client.TicketEvent.Query().CountX(sys()); n != 0 {
			t.Errorf("refused bulk calls appended %d events", n)
		}

		// 1000 is allowed: each id gets its own result, missing ones NOT_FOUND.
		var d wfBulk
		e.do(f.admin.token, wfBulkMut, map[string]any{"ids": gids(many[:1000]...), "c": map[string]any{"action": "CLOSE"}}).ok().into(&d)
		if b := d.BulkUpdateTickets; b.Succeeded != 1 || b.Failed != 999 || len(b.Results) != 1000 || b.Results[0].Ticket == nil ||
			b.Results[999].Error == nil || b.Results[999].Error.Code != "NOT_FOUND" {
			t.Errorf("1000 ids: succeeded %d failed %d, %d results", b.Succeeded, b.Failed, len(b.Results))
		}
	})
}

func wfDecode(t *testing.T, id string) int {
	t.Helper()
	n, err := scalar.DecodeID(id)
	if err != nil {
		t.Fatalf("decoding %s: %v", id, err)
	}
	return n
}

// ---------------------------------------------------------------------------
// 8. availableActions

func TestAvailableActionsByRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		none := []string{}
		closeRestart := []string{"CLOSE>CLOSED", "RESTART>NEW"}

		// Spelled out from the issue, for the cases a dashboard meets.
		for _, c := range []struct {
			shape                                     wfShape
			assignee, approver, editor, admin, viewer []string
		}{
			{wfApproval(ticket.StatusNEW, false, true), none, none, []string{"CLOSE>CLOSED"}, []string{"CLOSE>CLOSED"}, none},
			{wfApproval(ticket.StatusASSIGNED, true, true), []string{"START>IN_PROGRESS"}, none, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusIN_PROGRESS, true, true), []string{"SUBMIT>SUBMITTED"}, none, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusIN_PROGRESS, true, false), none, none, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusSUBMITTED, true, true), none, []string{"APPROVE>APPROVED", "REJECT>REJECTED"}, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusAPPROVED, true, true), none, none, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusREJECTED, true, true), []string{"START>IN_PROGRESS"}, none, closeRestart, closeRestart, none},
			{wfApproval(ticket.StatusCLOSED, true, true), none, none, []string{"REOPEN>ASSIGNED", "RESTART>NEW"}, []string{"REOPEN>ASSIGNED", "RESTART>NEW"}, none},
			{wfApproval(ticket.StatusCLOSED, false, false), none, none, []string{"REOPEN>NEW", "RESTART>NEW"}, []string{"REOPEN>NEW", "RESTART>NEW"}, none},
			{wfIncident(ticket.StatusTRIAGE),
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>REMEDIATION", "MOVE>RESOLVED"}, none,
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>REMEDIATION", "MOVE>RESOLVED"}, // already TRIAGE: no RESTART
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>REMEDIATION", "MOVE>RESOLVED"}, none},
			{wfIncident(ticket.StatusREMEDIATION),
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>RESOLVED", "MOVE>TRIAGE"}, none,
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>RESOLVED", "MOVE>TRIAGE", "RESTART>TRIAGE"},
				[]string{"CLOSE>CLOSED", "MOVE>ANALYSIS", "MOVE>RESOLVED", "MOVE>TRIAGE", "RESTART>TRIAGE"}, none},
			{wfIncident(ticket.StatusCLOSED), []string{"REOPEN>TRIAGE"}, none,
				[]string{"REOPEN>TRIAGE", "RESTART>TRIAGE"}, []string{"REOPEN>TRIAGE", "RESTART>TRIAGE"}, none},
		} {
			tk := f.make(t, c.shape)
			for _, p := range []struct {
				u    wfUser
				want []string
			}{{f.assignee, c.assignee}, {f.approver, c.approver}, {f.editor, c.editor}, {f.admin, c.admin}, {f.viewer, c.viewer}} {
				if got := f.availableActions(t, p.u, tk.ID); !slices.Equal(got, p.want) {
					t.Errorf("%s, %s: availableActions %v, want %v", c.shape, p.u.name, got, p.want)
				}
				if derived := wfOptions(c.shape, f.roles(p.u, c.shape)); !slices.Equal(derived, p.want) {
					t.Errorf("%s, %s: wfExpect offers %v, the spelled-out list %v", c.shape, p.u.name, derived, p.want)
				}
			}
		}

		// Every shape and role: the buttons are exactly what wfExpect accepts,
		// and each button works when pressed (on a copy of the ticket).
		for _, s := range append(wfApprovalShapes(), wfIncidentShapes()...) {
			tk := f.make(t, s)
			for _, u := range f.people() {
				got := f.availableActions(t, u, tk.ID)
				if u.id == f.outsider.id {
					if got != nil {
						t.Errorf("%s: another site's user sees the ticket's actions %v", s, got)
					}
					continue
				}
				if want := wfOptions(s, f.roles(u, s)); !slices.Equal(got, want) {
					t.Errorf("%s, %s: availableActions %v, want %v", s, u.name, got, want)
				}
				for _, o := range got {
					action, to, _ := strings.Cut(o, ">")
					a := wfAttempt{action: action, reason: "pressed the button"}
					if action == "MOVE" {
						a.to = ticket.Status(to)
					}
					if action != "REJECT" {
						a.reason = ""
					}
					cp := f.make(t, s)
					before := f.state(t, cp.ID)
					f.wfCheckTransitioned(t, fmt.Sprintf("%s: button %s of %s", s, o, u.name), f.transition(u.token, cp.ID, a), cp.ID, before, u, ticket.Status(to), a.reason)
				}
			}
		}

		// The same buttons on the list, where many tickets are resolved at once.
		wfCheckListActions(t, f)
	})
}

// wfCheckListActions checks availableActions as a list shows them, with the
// people and category loaded along (eagerly, by the list) or not.
func wfCheckListActions(t *testing.T, f *wfFix) {
	const (
		bare  = `{ tickets(first: 100) { edges { node { id availableActions { action toStatus } } } } }`
		eager = `{ tickets(first: 100) { edges { node { id availableActions { action toStatus } assignees { id } approvers { id } category { workflow } } } } }`
	)
	shapes := map[int]wfShape{}
	shapeOf := func(id int) wfShape {
		if s, ok := shapes[id]; ok {
			return s
		}
		tk := f.e.client.Ticket.Query().Where(ticket.ID(id)).WithCategory().WithAssignees().WithApprovers().OnlyX(sys())
		s := wfShape{workflow: tk.Edges.Category.Workflow, status: tk.Status,
			assignee: slices.ContainsFunc(tk.Edges.Assignees, func(x *ent.User) bool { return x.ID == f.assignee.id }),
			approver: slices.ContainsFunc(tk.Edges.Approvers, func(x *ent.User) bool { return x.ID == f.approver.id })}
		shapes[id] = s
		return s
	}
	for _, u := range []wfUser{f.admin, f.editor, f.assignee, f.approver, f.viewer} {
		for name, q := range map[string]string{"bare": bare, "eager": eager} {
			var d struct {
				Tickets struct {
					Edges []struct {
						Node struct {
							ID               string
							AvailableActions []struct{ Action, ToStatus string }
						}
					}
				}
			}
			f.e.do(u.token, q, nil).ok().into(&d)
			if len(d.Tickets.Edges) == 0 {
				t.Fatalf("%s list as %s is empty", name, u.name)
			}
			for _, edge := range d.Tickets.Edges {
				id := wfDecode(t, edge.Node.ID)
				s := shapeOf(id)
				got := []string{}
				for _, o := range edge.Node.AvailableActions {
					got = append(got, o.Action+">"+o.ToStatus)
				}
				sort.Strings(got)
				if want := wfOptions(s, f.roles(u, s)); !slices.Equal(got, want) {
					t.Errorf("%s list, %s, ticket %d (%s): availableActions %v, want %v", name, u.name, id, s, got, want)
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// 9. The data layer enforces the table, whoever calls it

func TestWorkflowDataLayerPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := wfSetup(t, e)
		assignee, approver, viewer := e.viewerContext(t, f.assignee.login), e.viewerContext(t, f.approver.login), e.viewerContext(t, f.viewer.login)
		denied := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, privacy.Deny) {
				t.Errorf("%s: want a privacy denial, got %v", what, err)
			}
		}
		allowed := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
		tk := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		before := f.state(t, tk.ID)
		upd := func() *ent.TicketUpdateOne { return e.client.Ticket.UpdateOneID(tk.ID) }

		// The assignee changes nothing but the status, and only as the table says.
		denied("assignee edits the title", upd().SetTitle("mine now").Exec(assignee))
		denied("assignee edits the title with a valid status", upd().SetTitle("mine now").SetStatus(ticket.StatusIN_PROGRESS).Exec(assignee))
		denied("assignee adds a tag with a valid status", upd().AddTagIDs(e.tag("x")).SetStatus(ticket.StatusIN_PROGRESS).Exec(assignee))
		denied("assignee approves", upd().SetStatus(ticket.StatusAPPROVED).Exec(assignee))
		denied("assignee closes", upd().SetStatus(ticket.StatusCLOSED).Exec(assignee))
		denied("assignee updates in bulk", e.client.Ticket.Update().Where(ticket.ID(tk.ID)).SetStatus(ticket.StatusIN_PROGRESS).Exec(assignee))
		denied("viewer starts", upd().SetStatus(ticket.StatusIN_PROGRESS).Exec(viewer))
		denied("approver starts", upd().SetStatus(ticket.StatusIN_PROGRESS).Exec(approver))
		if st := f.state(t, tk.ID); !st.same(before) {
			t.Fatalf("denied updates changed the ticket: %s → %s", before, st)
		}
		allowed("assignee starts", upd().SetStatus(ticket.StatusIN_PROGRESS).Exec(assignee))
		allowed("assignee submits", upd().SetStatus(ticket.StatusSUBMITTED).Exec(assignee))
		denied("approver closes", upd().SetStatus(ticket.StatusCLOSED).Exec(approver))
		denied("assignee approves their own work", upd().SetStatus(ticket.StatusAPPROVED).Exec(assignee))
		allowed("approver approves", upd().SetStatus(ticket.StatusAPPROVED).Exec(approver))
		if st := f.state(t, tk.ID); st.Status != ticket.StatusAPPROVED || st.Version != before.Version+3 {
			t.Errorf("after three allowed updates: %s", st)
		}

		// A status change carries no other field: not a closedAt of the
		// viewer's choosing on a transition that does not close.
		other := f.make(t, wfApproval(ticket.StatusASSIGNED, true, true))
		otherBefore := f.state(t, other.ID)
		denied("assignee starts and sets closedAt", e.client.Ticket.UpdateOneID(other.ID).SetStatus(ticket.StatusIN_PROGRESS).
			SetClosedAt(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Exec(assignee))
		if st := f.state(t, other.ID); st.ClosedAt != nil {
			t.Errorf("START with closedAt: %s → %s", otherBefore, st)
		}

		// SUBMIT needs an approver, at the data layer too.
		lone := f.make(t, wfApproval(ticket.StatusIN_PROGRESS, true, false))
		denied("assignee submits without an approver", e.client.Ticket.UpdateOneID(lone.ID).SetStatus(ticket.StatusSUBMITTED).Exec(assignee))

		// An incident's owner moves it among the working statuses, not elsewhere.
		inc := f.make(t, wfIncident(ticket.StatusTRIAGE))
		allowed("owner moves an incident", e.client.Ticket.UpdateOneID(inc.ID).SetStatus(ticket.StatusREMEDIATION).Exec(assignee))
		denied("owner moves an incident to an approval status", e.client.Ticket.UpdateOneID(inc.ID).SetStatus(ticket.StatusAPPROVED).Exec(assignee))
		denied("viewer moves an incident", e.client.Ticket.UpdateOneID(inc.ID).SetStatus(ticket.StatusANALYSIS).Exec(viewer))
		allowed("owner closes an incident", e.client.Ticket.UpdateOneID(inc.ID).SetStatus(ticket.StatusCLOSED).Exec(assignee))
		denied("owner moves a closed incident", e.client.Ticket.UpdateOneID(inc.ID).SetStatus(ticket.StatusANALYSIS).Exec(assignee))
	})
}
