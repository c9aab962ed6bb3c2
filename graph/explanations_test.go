package graph_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/explanationlink"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/devtools/testdb"
)

// clock is a settable clock for the explanation service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// expWorld is a ticket, the people of an explanation request and the users
// around it.
type expWorld struct {
	e                             *env
	clock                         *clock
	site, otherSite, cat          int
	editor, viewer, otherEditor   string
	ticket                        int // its id
	ticketNumber                  int
	otherTicket                   int
	violator, manager, auditor    *ent.Employee
	noManager, inactive, stranger *ent.Employee
	dept, bareDept                *ent.Department
	expCat, oldCat                *ent.ExplanationCategory
}

func newExpWorld(e *env) *expWorld {
	e.t.Helper()
	w := &expWorld{e: e, clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	e.app.Explanations.Now = w.clock.Now
	w.site, w.otherSite = e.site("exp-a"), e.site("exp-b")
	w.cat = e.category("exp", category.WorkflowAPPROVAL)
	edit := []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}
	w.editor, _ = e.user("exp-editor", user.RoleANALYST, edit, w.site)
	w.viewer, _ = e.user("exp-viewer", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, w.site)
	w.otherEditor, _ = e.user("exp-other", user.RoleANALYST, edit, w.otherSite)
	var c struct{ CreateTicket struct{ ID string } }
	e.do(e.admin, createMut, map[string]any{"in": analysis(w.site, w.cat)}).ok().into(&c)
	w.ticket = decodeGID(e.t, c.CreateTicket.ID)
	w.ticketNumber = e.client.Ticket.GetX(sys(), w.ticket).Number()
	e.do(e.admin, createMut, map[string]any{"in": analysis(w.otherSite, w.cat)}).ok().into(&c)
	w.otherTicket = decodeGID(e.t, c.CreateTicket.ID)
	for i := 1; i <= 2; i++ {
		e.client.Evidence.Create().SetTicketID(w.ticket).SetRecord(map[string]any{"src_ip": fmt.Sprintf("10.0.0.%d", i), "n": i}).SaveX(sys())
	}
	emp := func(number, name, email string, dept *ent.Department) *ent.Employee {
		c := e.client.Employee.Create().SetNumber(number).SetName(name)
		if email != "" {
			c.SetEmail(email)
		}
		if dept != nil {
			c.SetDepartmentID(dept.ID)
		}
		return c.SaveX(sys())
	}
	w.manager = emp("M1", "Mia Manager", "mia@example.com", nil)
	w.dept = e.client.Department.Create().SetName("Sales").SetManagerID(w.manager.ID).SaveX(sys())
	w.bareDept = e.client.Department.Create().SetName("Nobody's").SaveX(sys())
	w.violator = emp("V1", "Vic Violator", "vic@example.com", w.dept)
	w.auditor = emp("A1", "Ada Auditor", "ada@example.com", nil)
	w.noManager = emp("V2", "Nia Nomanager", "nia@example.com", w.bareDept)
	w.stranger = emp("S1", "Sam Stranger", "sam@example.com", w.dept)
	w.inactive = e.client.Employee.Create().SetNumber("X1").SetName("Ina Inactive").SetActive(false).SaveX(sys())
	w.expCat = e.client.ExplanationCategory.Create().SetName("Data leakage").SaveX(sys())
	w.oldCat = e.client.ExplanationCategory.Create().SetName("Retired").SetActive(false).SaveX(sys())
	return w
}

const expFields = `id status version overdue withdrawn withdrawReason endedAt submittedAt evidence
	violator { name } manager { name } auditor { name } department { name } category { name }
	steps { action role fromStatus toStatus comment actor { login } actorEmployee { name } }
	ticket { explanationStatus version }`

type expReq struct {
	ID, Status              string
	Version                 int
	Overdue, Withdrawn      bool
	WithdrawReason, EndedAt *string
	SubmittedAt             *string
	Evidence                []map[string]any
	Violator, Manager       struct{ Name string }
	Auditor, Department     *struct{ Name string }
	Category                struct{ Name string }
	Steps                   []expStep
	Ticket                  struct {
		ExplanationStatus *string
		Version           int
	}
}

type expStep struct {
	Action, Role, ToStatus string
	FromStatus             *string
	Comment                string
	Actor                  *struct{ Login string }
	ActorEmployee          *struct{ Name string }
}

// input is a valid request input, changed by mod.
func (w *expWorld) input(mod func(in map[string]any)) map[string]any {
	in := map[string]any{
		"ticketID": gid(w.ticket), "violatorID": gid(w.violator.ID), "categoryID": gid(w.expCat.ID),
		"deadline": w.clock.Now().Add(72 * time.Hour).Format(time.RFC3339), "message": "Why did you upload the customer list?",
		"priority": "HIGH",
	}
	if mod != nil {
		mod(in)
	}
	return in
}

func (w *expWorld) request(token string, in map[string]any) *result {
	w.e.t.Helper()
	return w.e.do(token, `mutation($in: RequestExplanationInput!) { requestExplanation(input: $in) { `+expFields+` } }`, map[string]any{"in": in})
}

func (w *expWorld) create(mod func(in map[string]any)) expReq {
	w.e.t.Helper()
	var d struct{ RequestExplanation expReq }
	w.request(w.editor, w.input(mod)).ok().into(&d)
	return d.RequestExplanation
}

// get reads a request as the editor.
func (w *expWorld) get(id string) expReq {
	w.e.t.Helper()
	var d struct{ Node expReq }
	w.e.do(w.editor, `query($id: ID!) { node(id: $id) { ... on ExplanationRequest { `+expFields+` } } }`, map[string]any{"id": id}).ok().into(&d)
	return d.Node
}

// link mints a personal link of the request for the employee in role, as
// the delivery engine does when it sends a message, and returns its token.
func (w *expWorld) link(id string, emp *ent.Employee, role explanationlink.Role) string {
	w.e.t.Helper()
	url, err := w.e.app.Explanations.MintLink(context.Background(), decodeGID(w.e.t, id), emp.ID, role)
	if err != nil {
		w.e.t.Fatal(err)
	}
	return url[strings.LastIndex(url, "/")+1:]
}

const (
	answerMut = `mutation($text: String!, $v: Int) { answerExplanation(text: $text, expectedVersion: $v) { status version actions role } }`
	reviewMut = `mutation($a: ExplanationReviewAction!, $c: String, $v: Int) { reviewExplanation(action: $a, comment: $c, expectedVersion: $v) { status version actions role } }`
)

func (w *expWorld) answer(token, text string) *result {
	w.e.t.Helper()
	return w.e.do(token, answerMut, map[string]any{"text": text})
}

func (w *expWorld) review(token, action, comment string) *result {
	w.e.t.Helper()
	vars := map[string]any{"a": action}
	if comment != "" {
		vars["c"] = comment
	}
	return w.e.do(token, reviewMut, vars)
}

// history is the ticket's explanation history entries: kind and changes.
func (w *expWorld) history() []histEntry {
	w.e.t.Helper()
	var d struct {
		Node struct {
			History struct {
				Edges []struct{ Node histEntry }
			}
		}
	}
	w.e.do(w.editor, `query($id: ID!) { node(id: $id) { ... on Ticket { history(first: 100) { edges { node { kind changes { field from to } } } } } } }`,
		map[string]any{"id": gid(w.ticket)}).ok().into(&d)
	var out []histEntry
	for _, e := range d.Node.History.Edges {
		if strings.HasPrefix(e.Node.Kind, "EXPLANATION_") {
			out = append(out, e.Node)
		}
	}
	return out
}

type histEntry struct {
	Kind    string
	Changes []struct {
		Field    string
		From, To any
	}
}

// wantStep checks the latest history entry: one EXPLANATION step of
// action from → to, and the ticket's explanation status moved from → to
// (nil: not moved).
func (w *expWorld) wantStep(t *testing.T, n int, kind, action, from, to string, status []any) {
	t.Helper()
	h := w.history()
	if len(h) != n {
		t.Fatalf("%d explanation history entries, want %d: %+v", len(h), n, h)
	}
	last := h[len(h)-1]
	if last.Kind != kind || last.Changes[0].Field != "explanation" {
		t.Fatalf("last entry %+v, want %s", last, kind)
	}
	ch, _ := last.Changes[0].To.(map[string]any)
	if ch["action"] != action || ch["to"] != to || (from != "" && ch["from"] != from) {
		t.Fatalf("change %v, want %s %s → %s", ch, action, from, to)
	}
	switch {
	case status == nil && len(last.Changes) != 1:
		t.Fatalf("the ticket's explanation status moved: %+v", last.Changes)
	case status != nil && (len(last.Changes) != 2 || last.Changes[1].Field != "explanationStatus" ||
		last.Changes[1].From != status[0] || last.Changes[1].To != status[1]):
		t.Fatalf("explanationStatus change %+v, want %v", last.Changes, status)
	}
}

// TestExplanationWithoutAuditor walks NEW → SUBMITTED → RETURNED →
// SUBMITTED → CLOSED: the manager's return and acceptance, the violator's
// answers, through personal links; each step is in the ticket's history
// and moves its explanation status and version.
func TestExplanationWithoutAuditor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		v0 := e.client.Ticket.GetX(sys(), w.ticket).Version
		r := w.create(nil)
		if r.Status != "NEW" || r.Manager.Name != "Mia Manager" || r.Auditor != nil || r.Department.Name != "Sales" ||
			r.Ticket.ExplanationStatus == nil || *r.Ticket.ExplanationStatus != "NEW" || r.Ticket.Version != v0+1 || r.Overdue {
			t.Fatalf("created %+v", r)
		}
		if len(r.Evidence) != 2 || r.Evidence[0]["src_ip"] != "10.0.0.1" {
			t.Fatalf("the ticket's evidence was not copied: %v", r.Evidence)
		}
		if len(r.Steps) != 1 || r.Steps[0].Action != "REQUEST" || r.Steps[0].Role != "EDITOR" || r.Steps[0].Actor.Login != "exp-editor" {
			t.Fatalf("steps %+v", r.Steps)
		}
		w.wantStep(t, 1, "EXPLANATION_REQUESTED", "REQUEST", "", "NEW", []any{nil, "NEW"})

		vio, mgr := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR), w.link(r.ID, w.manager, explanationlink.RoleMANAGER)
		// Not yet the manager's turn; not the violator's to review.
		w.review(mgr, "ACCEPT", "").wantCode("INVALID_TRANSITION")
		w.answer(vio, "  ").wantCode("BAD_USER_INPUT", "text")
		var a struct {
			AnswerExplanation struct {
				Status  string
				Version int
				Actions []string
				Role    string
			}
		}
		w.answer(vio, "I sent it to myself by mistake.").ok().into(&a)
		if a.AnswerExplanation.Status != "SUBMITTED" || a.AnswerExplanation.Role != "VIOLATOR" || len(a.AnswerExplanation.Actions) != 0 {
			t.Fatalf("answered %+v", a)
		}
		w.wantStep(t, 2, "EXPLANATION_UPDATED", "SUBMIT", "NEW", "SUBMITTED", []any{"NEW", "SUBMITTED"})
		w.review(vio, "ACCEPT", "").wantCode("FORBIDDEN")
		w.answer(vio, "again").wantCode("INVALID_TRANSITION")
		w.review(mgr, "AUDIT_COMPLETE", "").wantCode("INVALID_TRANSITION")
		w.review(mgr, "RETURN", "").wantCode("BAD_USER_INPUT", "comment")
		w.review(mgr, "RETURN", "Which list? Be precise.").ok()
		w.wantStep(t, 3, "EXPLANATION_UPDATED", "RETURN", "SUBMITTED", "RETURNED", []any{"SUBMITTED", "RETURNED"})
		w.answer(vio, "The Q3 customer list, to my personal address.").ok()
		w.wantStep(t, 4, "EXPLANATION_UPDATED", "SUBMIT", "RETURNED", "SUBMITTED", []any{"RETURNED", "SUBMITTED"})
		// A stale version is refused and changes nothing.
		got := w.get(r.ID)
		e.do(mgr, reviewMut, map[string]any{"a": "ACCEPT", "v": got.Version - 1}).wantCode("CONFLICT")
		e.do(mgr, reviewMut, map[string]any{"a": "ACCEPT", "v": got.Version}).ok()
		w.wantStep(t, 5, "EXPLANATION_UPDATED", "ACCEPT", "SUBMITTED", "CLOSED", []any{"SUBMITTED", "CLOSED"})

		got = w.get(r.ID)
		if got.Status != "CLOSED" || got.EndedAt == nil || got.SubmittedAt == nil || got.Withdrawn || got.Version != 5 ||
			*got.Ticket.ExplanationStatus != "CLOSED" || got.Ticket.Version != v0+5 {
			t.Fatalf("closed %+v", got)
		}
		var steps []string
		for _, s := range got.Steps {
			steps = append(steps, s.Action+":"+s.Role+":"+s.ToStatus)
		}
		if want := "REQUEST:EDITOR:NEW SUBMIT:VIOLATOR:SUBMITTED RETURN:MANAGER:RETURNED SUBMIT:VIOLATOR:SUBMITTED ACCEPT:MANAGER:CLOSED"; strings.Join(steps, " ") != want {
			t.Fatalf("steps %v, want %s", steps, want)
		}
		if s := got.Steps[2]; s.Comment != "Which list? Be precise." || s.ActorEmployee == nil || s.ActorEmployee.Name != "Mia Manager" {
			t.Fatalf("return step %+v", s)
		}
		// The request has ended: its links open nothing, and none is minted.
		w.answer(vio, "more").wantCode("NOT_FOUND")
		e.do(mgr, `{ explanationLink { status } }`, nil).wantCode("NOT_FOUND")
		if _, err := e.app.Explanations.MintLink(context.Background(), decodeGID(t, r.ID), w.violator.ID, explanationlink.RoleVIOLATOR); err == nil {
			t.Fatal("a link was minted for an ended request")
		}
	})
}

// TestExplanationWithAuditor walks the auditor's path: an accepted answer
// awaits the auditor, who returns it (the violator answers again) and then
// completes it.
func TestExplanationWithAuditor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		r := w.create(func(in map[string]any) { in["auditorID"] = gid(w.auditor.ID) })
		if r.Auditor == nil || r.Auditor.Name != "Ada Auditor" {
			t.Fatalf("auditor %+v", r.Auditor)
		}
		vio := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)
		mgr := w.link(r.ID, w.manager, explanationlink.RoleMANAGER)
		aud := w.link(r.ID, w.auditor, explanationlink.RoleAUDITOR)
		w.review(aud, "AUDIT_COMPLETE", "").wantCode("INVALID_TRANSITION")
		w.answer(vio, "An explanation.").ok()
		w.review(aud, "ACCEPT", "").wantCode("FORBIDDEN")
		w.review(mgr, "ACCEPT", "").ok()
		w.wantStep(t, 3, "EXPLANATION_UPDATED", "ACCEPT", "SUBMITTED", "AWAITING", []any{"SUBMITTED", "AWAITING"})
		w.review(mgr, "AUDIT_COMPLETE", "").wantCode("FORBIDDEN")
		w.review(aud, "AUDIT_RETURN", "").wantCode("BAD_USER_INPUT", "comment")
		var v struct {
			ReviewExplanation struct {
				Status  string
				Actions []string
			}
		}
		e.do(aud, `{ explanationLink { status actions role ticketNumber ticketTitle violatorName managerName auditorName } }`, nil).ok()
		w.review(aud, "AUDIT_RETURN", "Not convincing.").ok().into(&v)
		if v.ReviewExplanation.Status != "AUDIT_RETURNED" || len(v.ReviewExplanation.Actions) != 0 {
			t.Fatalf("audit returned %+v", v)
		}
		w.wantStep(t, 4, "EXPLANATION_UPDATED", "AUDIT_RETURN", "AWAITING", "AUDIT_RETURNED", []any{"AWAITING", "AUDIT_RETURNED"})
		w.answer(vio, "A better explanation.").ok()
		w.wantStep(t, 5, "EXPLANATION_UPDATED", "SUBMIT", "AUDIT_RETURNED", "SUBMITTED", []any{"AUDIT_RETURNED", "SUBMITTED"})
		w.review(mgr, "ACCEPT", "").ok()
		w.review(aud, "AUDIT_COMPLETE", "").ok().into(&v)
		if v.ReviewExplanation.Status != "AUDIT_COMPLETED" {
			t.Fatalf("completed %+v", v)
		}
		w.wantStep(t, 7, "EXPLANATION_UPDATED", "AUDIT_COMPLETE", "AWAITING", "AUDIT_COMPLETED", []any{"AWAITING", "AUDIT_COMPLETED"})
		got := w.get(r.ID)
		if got.Status != "AUDIT_COMPLETED" || got.EndedAt == nil || *got.Ticket.ExplanationStatus != "AUDIT_COMPLETED" {
			t.Fatalf("completed %+v", got)
		}
		w.review(aud, "AUDIT_COMPLETE", "").wantCode("NOT_FOUND")
	})
}

// TestExplanationWithdraw: the ticket's editors close a request at any
// time before it ends, with a reason; viewers and other sites' editors
// cannot; a link never works for another request or another role.
func TestExplanationWithdraw(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		first := w.create(nil)
		second := w.create(func(in map[string]any) { in["violatorID"] = gid(w.stranger.ID) })
		vio1 := w.link(first.ID, w.violator, explanationlink.RoleVIOLATOR)
		// The first request is no longer the ticket's latest: its steps
		// leave the ticket's explanation status.
		w.answer(vio1, "Explained.").ok()
		w.wantStep(t, 3, "EXPLANATION_UPDATED", "SUBMIT", "NEW", "SUBMITTED", nil)
		if s := e.client.Ticket.GetX(sys(), w.ticket).ExplanationStatus; s == nil || *s != "NEW" {
			t.Fatalf("ticket explanation status %v, want the latest request's NEW", s)
		}
		// A link is bound to its person, role and request.
		if _, err := e.app.Explanations.MintLink(context.Background(), decodeGID(t, second.ID), w.violator.ID, explanationlink.RoleVIOLATOR); err == nil {
			t.Fatal("a link was minted for someone who is not the request's violator")
		}
		vio2 := w.link(second.ID, w.stranger, explanationlink.RoleVIOLATOR)
		var lv struct {
			ExplanationLink struct {
				Status       string
				ViolatorName string
			}
		}
		e.do(vio2, `{ explanationLink { status violatorName } }`, nil).ok().into(&lv)
		if lv.ExplanationLink.ViolatorName != "Sam Stranger" || lv.ExplanationLink.Status != "NEW" {
			t.Fatalf("the second link opened %+v", lv)
		}
		if s := w.get(first.ID); s.Status != "SUBMITTED" {
			t.Fatalf("first %s", s.Status)
		}

		const wd = `mutation($id: ID!, $r: String!, $v: Int) { withdrawExplanation(id: $id, reason: $r, expectedVersion: $v) { status withdrawn withdrawReason endedAt ticket { explanationStatus } } }`
		before := len(w.history())
		e.do(w.editor, wd, map[string]any{"id": second.ID, "r": " "}).wantCode("BAD_USER_INPUT", "reason")
		e.do(w.viewer, wd, map[string]any{"id": second.ID, "r": "no"}).wantCode("FORBIDDEN")
		e.do(w.otherEditor, wd, map[string]any{"id": second.ID, "r": "no"}).wantCode("NOT_FOUND", "id")
		e.do(w.editor, wd, map[string]any{"id": second.ID, "r": "stale", "v": 7}).wantCode("CONFLICT")
		if len(w.history()) != before || w.get(second.ID).Status != "NEW" {
			t.Fatal("a refused withdrawal changed something")
		}
		var d struct {
			WithdrawExplanation struct {
				Status, WithdrawReason string
				Withdrawn              bool
				EndedAt                *string
				Ticket                 struct{ ExplanationStatus string }
			}
		}
		e.do(w.editor, wd, map[string]any{"id": second.ID, "r": "Wrong person."}).ok().into(&d)
		if x := d.WithdrawExplanation; x.Status != "CLOSED" || !x.Withdrawn || x.WithdrawReason != "Wrong person." || x.EndedAt == nil || x.Ticket.ExplanationStatus != "CLOSED" {
			t.Fatalf("withdrawn %+v", x)
		}
		w.wantStep(t, before+1, "EXPLANATION_UPDATED", "WITHDRAW", "NEW", "CLOSED", []any{"NEW", "CLOSED"})
		e.do(w.editor, wd, map[string]any{"id": second.ID, "r": "again"}).wantCode("INVALID_TRANSITION")
		e.do(vio2, `{ explanationLink { status } }`, nil).wantCode("NOT_FOUND")
		// The first, SUBMITTED, can be withdrawn too.
		e.do(w.editor, wd, map[string]any{"id": first.ID, "r": "Handled elsewhere."}).ok()
	})
}

// TestExplanationRequestInput: every bad input names its field and
// changes nothing; the manager defaults to the department's; explicit
// evidence replaces the ticket's.
func TestExplanationRequestInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		count := func() int { return e.client.ExplanationRequest.Query().CountX(sys()) }
		for _, c := range []struct {
			name, code, field string
			token             string
			mod               func(in map[string]any)
		}{
			{"other site's ticket", "NOT_FOUND", "input.ticketID", "", func(in map[string]any) { in["ticketID"] = gid(w.otherTicket) }},
			{"viewer", "FORBIDDEN", "", w.viewer, nil},
			{"inactive violator", "BAD_USER_INPUT", "input.violatorID", "", func(in map[string]any) { in["violatorID"] = gid(w.inactive.ID) }},
			{"no manager", "BAD_USER_INPUT", "input.managerID", "", func(in map[string]any) { in["violatorID"] = gid(w.noManager.ID) }},
			{"violator as manager", "BAD_USER_INPUT", "input.managerID", "", func(in map[string]any) { in["managerID"] = gid(w.violator.ID) }},
			{"violator as auditor", "BAD_USER_INPUT", "input.auditorID", "", func(in map[string]any) { in["auditorID"] = gid(w.violator.ID) }},
			{"inactive auditor", "BAD_USER_INPUT", "input.auditorID", "", func(in map[string]any) { in["auditorID"] = gid(w.inactive.ID) }},
			{"manager as auditor", "BAD_USER_INPUT", "input.auditorID", "", func(in map[string]any) { in["auditorID"] = gid(w.manager.ID) }},
			{"inactive category", "BAD_USER_INPUT", "input.categoryID", "", func(in map[string]any) { in["categoryID"] = gid(w.oldCat.ID) }},
			{"past deadline", "BAD_USER_INPUT", "input.deadline", "", func(in map[string]any) { in["deadline"] = w.clock.Now().Add(-time.Minute).Format(time.RFC3339) }},
			{"far deadline", "BAD_USER_INPUT", "input.deadline", "", func(in map[string]any) { in["deadline"] = w.clock.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339) }},
			{"long message", "BAD_USER_INPUT", "input.message", "", func(in map[string]any) { in["message"] = strings.Repeat("x", 10001) }},
			{"evidence not an object", "BAD_USER_INPUT", "input.evidence", "", func(in map[string]any) { in["evidence"] = []any{map[string]any{"a": 1}, "text"} }},
			{"too much evidence", "BAD_USER_INPUT", "input.evidence", "", func(in map[string]any) {
				recs := make([]any, 101)
				for i := range recs {
					recs[i] = map[string]any{"i": i}
				}
				in["evidence"] = recs
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				tok := c.token
				if tok == "" {
					tok = w.editor
				}
				w.request(tok, w.input(c.mod)).wantCode(c.code, c.field)
				if n := count(); n != 0 {
					t.Fatalf("%d requests made", n)
				}
			})
		}
		if len(w.history()) != 0 {
			t.Fatal("refused requests left history")
		}
		r := w.create(func(in map[string]any) {
			in["violatorID"] = gid(w.noManager.ID)
			in["managerID"] = gid(w.manager.ID)
			in["evidence"] = []any{map[string]any{"host": "laptop-7"}}
		})
		if r.Manager.Name != "Mia Manager" || len(r.Evidence) != 1 || r.Evidence[0]["host"] != "laptop-7" || r.Department.Name != "Nobody's" {
			t.Fatalf("created %+v", r)
		}
		// Ticket.explanations lists the ticket's requests, newest first.
		second := w.create(nil)
		var d struct {
			Node struct{ Explanations []struct{ ID string } }
		}
		e.do(w.viewer, `query($id: ID!) { node(id: $id) { ... on Ticket { explanations { id } } } }`, map[string]any{"id": gid(w.ticket)}).ok().into(&d)
		if len(d.Node.Explanations) != 2 || d.Node.Explanations[0].ID != second.ID || d.Node.Explanations[1].ID != r.ID {
			t.Fatalf("explanations %+v", d.Node.Explanations)
		}
	})
}

// TestExplanationOverdueAndList: a request past its deadline while it
// waits for the violator is overdue (the field and the filter agree); the
// list across tickets filters and is scoped to the viewer's sites.
func TestExplanationOverdueAndList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		soon := w.create(func(in map[string]any) { in["deadline"] = w.clock.Now().Add(time.Hour).Format(time.RFC3339) })
		later := w.create(func(in map[string]any) {
			in["deadline"] = w.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
			in["violatorID"] = gid(w.stranger.ID)
			in["auditorID"] = gid(w.auditor.ID)
		})
		e.do(e.admin, `mutation($in: RequestExplanationInput!) { requestExplanation(input: $in) { id } }`,
			map[string]any{"in": w.input(func(in map[string]any) { in["ticketID"] = gid(w.otherTicket) })}).ok()
		list := func(token string, filter map[string]any) []string {
			t.Helper()
			var d struct {
				ExplanationRequests struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID      string
							Overdue bool
						}
					}
				}
			}
			e.do(token, `query($f: ExplanationFilter) { explanationRequests(filter: $f, first: 50) { totalCount edges { node { id overdue } } } }`,
				map[string]any{"f": filter}).ok().into(&d)
			var ids []string
			for _, x := range d.ExplanationRequests.Edges {
				ids = append(ids, fmt.Sprintf("%s:%v", x.Node.ID, x.Node.Overdue))
			}
			if d.ExplanationRequests.TotalCount != len(ids) {
				t.Fatalf("totalCount %d, %d edges", d.ExplanationRequests.TotalCount, len(ids))
			}
			return ids
		}
		want := func(got []string, want ...string) {
			t.Helper()
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("listed %v, want %v", got, want)
			}
		}
		f, tr := false, true
		want(list(w.viewer, nil), later.ID+":false", soon.ID+":false")
		if n := len(list(e.admin, nil)); n != 3 {
			t.Fatalf("the admin lists %d", n)
		}
		want(list(w.viewer, map[string]any{"overdue": tr}))
		w.clock.add(2 * time.Hour)
		want(list(w.viewer, map[string]any{"overdue": tr}), soon.ID+":true")
		want(list(w.viewer, map[string]any{"overdue": f}), later.ID+":false")
		if !w.get(soon.ID).Overdue {
			t.Fatal("the field disagrees with the filter")
		}
		// Answered, it no longer waits for the violator: not overdue.
		w.answer(w.link(soon.ID, w.violator, explanationlink.RoleVIOLATOR), "Sorry.").ok()
		want(list(w.viewer, map[string]any{"overdue": tr}))
		want(list(w.viewer, map[string]any{"statuses": []string{"SUBMITTED"}}), soon.ID+":false")
		want(list(w.viewer, map[string]any{"violatorIDs": gids(w.stranger.ID)}), later.ID+":false")
		want(list(w.viewer, map[string]any{"departmentIDs": gids(w.dept.ID), "categoryIDs": gids(w.expCat.ID)}), later.ID+":false", soon.ID+":false")
		want(list(w.viewer, map[string]any{"categoryIDs": gids(w.oldCat.ID)}))
		want(list(w.viewer, map[string]any{"deadlineFrom": w.clock.Now().Format(time.RFC3339)}), later.ID+":false")
		want(list(w.viewer, map[string]any{"deadlineTo": w.clock.Now().Format(time.RFC3339)}), soon.ID+":false")
		want(list(w.viewer, map[string]any{"ticketID": gid(w.otherTicket)}))
		want(list(w.otherEditor, map[string]any{"ticketID": gid(w.ticket)}))
		e.do(w.viewer, `query($f: ExplanationFilter) { explanationRequests(filter: $f, first: 5) { totalCount } }`,
			map[string]any{"f": map[string]any{"deadlineFrom": w.clock.Now().Format(time.RFC3339), "deadlineTo": w.clock.Now().Add(-time.Hour).Format(time.RFC3339)}}).
			wantCode("BAD_USER_INPUT", "filter.deadlineTo")
		if n := e.client.ExplanationRequest.Query().Where(explanationrequest.StatusEQ(schematype.ExplanationSubmitted)).CountX(sys()); n != 1 {
			t.Fatalf("%d submitted", n)
		}
	})
}

// TestExplanationLinkTokenElsewhere: a personal link's token is no user:
// every other operation is refused cleanly, and a websocket does not take it.
func TestExplanationLinkTokenElsewhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		r := w.create(nil)
		tok := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)
		for _, q := range []string{`{ viewer { login } }`, `{ tickets(first: 5) { totalCount } }`, `query($id: ID!) { node(id: $id) { id } }`,
			`mutation($id: ID!) { withdrawExplanation(id: $id, reason: "x") { id } }`, `{ explanationRequests(first: 5) { totalCount } }`} {
			res := e.do(tok, q, map[string]any{"id": r.ID})
			if res.Status >= 500 || len(res.Errors) == 0 || (res.code() != "UNAUTHENTICATED" && res.code() != "FORBIDDEN") {
				t.Fatalf("%s with a link token: status %d, errors %+v, data %s", q, res.Status, res.Errors, res.Data)
			}
		}
		// A made-up token of the right shape opens nothing; a user's token
		// no link.
		e.do("sdx_"+strings.Repeat("A", 43), `{ explanationLink { status } }`, nil).wantCode("NOT_FOUND")
		e.do(w.editor, `{ explanationLink { status } }`, nil).wantCode("UNAUTHENTICATED")
		// A websocket does not take a link token in connection_init.
		ws := e.dialWS(t, "", nil)
		ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": tok}})
		m, err := ws.read(10 * time.Second)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4403 {
			t.Fatalf("connection_init with a link token: %s %v, want a close with 4403", m.Type, err)
		}
		if w.get(r.ID).Status != "NEW" {
			t.Fatal("changed")
		}
	})
}

// TestExplanationLiveEvents: every step reaches live subscribers as a
// ticket event, with its changes.
func TestExplanationLiveEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		ws := e.dialWS(t, w.editor, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)
		r := w.create(nil)
		c := ws.change(op)
		if c.Kind != "EXPLANATION_REQUESTED" || c.TicketID != gid(w.ticket) || len(c.Changes) != 2 || c.Changes[1].Field != "explanationStatus" || c.Actor == nil || c.Actor.Login != "exp-editor" {
			t.Fatalf("requested: %+v", c)
		}
		w.answer(w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR), "Answer.").ok()
		c = ws.change(op)
		if c.Kind != "EXPLANATION_UPDATED" || c.Actor != nil || c.Changes[0].Field != "explanation" {
			t.Fatalf("updated: %+v", c)
		}
	})
}

// TestExplanationLinkRateBudget: a link's holder spends a budget of that
// link's own: spent, it is refused; another link is not.
func TestExplanationLinkRateBudget(t *testing.T) {
	e := newEnvWith(t, testdb.Backends[len(testdb.Backends)-1], rateCfg(200))
	w := newExpWorld(e)
	r := w.create(nil)
	vio, mgr := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR), w.link(r.ID, w.manager, explanationlink.RoleMANAGER)
	limited := false
	for i := 0; i < 300 && !limited; i++ {
		res := e.do(vio, `{ explanationLink { status } }`, nil)
		limited = res.code() == "RATE_LIMITED"
	}
	if !limited {
		t.Fatal("a link's holder is never rate limited")
	}
	e.do(mgr, `{ explanationLink { status } }`, nil).ok()
}
