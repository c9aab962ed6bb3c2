package graph_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"socdesk/ent/privacy"
	"socdesk/ent/ticket"
)

// twoRootSubscriptions select two root fields of a subscription, which no
// executor can run; each must fail validation (issue 9, 1e).
var twoRootSubscriptions = []string{
	`subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}`,
	`subscription{ticketEvents{cursor} b:ticketEvents{cursor}}`,
	`subscription{a:ticketEvents{cursor} ...on Subscription{b:ticketEvents{cursor}}}`,
	`subscription S{...F ticketEvents{cursor}} fragment F on Subscription{x:ticketEvents{cursor}}`,
}

// TestSubscriptionOfTwoRootFields: a subscription with two root fields (by
// alias) is a validation error with a code over HTTP and over websocket,
// not a panic answered 500.
func TestSubscriptionOfTwoRootFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, q := range twoRootSubscriptions {
			r := e.do(e.admin, q, nil)
			if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" ||
				len(r.Errors) != 1 || r.Errors[0].Message == "internal error" {
				t.Fatalf("%s over HTTP: status %d, errors %+v", q, r.Status, r.Errors)
			}
			ws := e.dialWS(t, e.admin, nil)
			op := ws.subscribe(q, nil)
			m := ws.next()
			var errs []gqlError
			_ = json.Unmarshal(m.Payload, &errs)
			if m.Type != "error" || m.ID != op || len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Fatalf("%s over websocket: %s %s %s", q, m.Type, m.ID, m.Payload)
			}
			if m, err := ws.read(time.Second); err == nil && (m.Type != "complete" || m.ID != op) {
				t.Fatalf("%s over websocket, after the error: %s %s", q, m.Type, m.Payload)
			}
			// The connection stays usable.
			ws.subscribe(`subscription{ticketEvents{cursor}}`, nil)
			ws.quiet(100 * time.Millisecond)
		}
	})
}

// TestPolicyDatabaseErrorsAreInternal: when the database fails while a
// policy loads the row it decides on, the client gets INTERNAL (logged once,
// with the cause), never FORBIDDEN or NOT_FOUND (issue 9, 1f).
func TestPolicyDatabaseErrorsAreInternal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		sibling := e.client.Ticket.Create().SetTitle("Sibling").SetKind(ticket.KindANALYSIS).SetBody("b").
			SetCategoryID(c.cat).SetSiteID(c.site).SaveX(sys())
		tag := e.tag("phishing")
		var memo struct{ AddMemo struct{ ID string } }
		e.do(c.assignee, `mutation($t: ID!) { addMemo(ticketID: $t, body: "first") { id } }`,
			map[string]any{"t": gid(c.tk.ID)}).ok().into(&memo)
		for _, k := range []struct {
			name, token, query string
			vars               map[string]any
		}{
			{"admin adds a memo", e.admin, `mutation($t: ID!) { addMemo(ticketID: $t, body: "x") { id } }`, map[string]any{"t": gid(c.tk.ID)}},
			{"assignee adds a memo", c.assignee, `mutation($t: ID!) { addMemo(ticketID: $t, body: "x") { id } }`, map[string]any{"t": gid(c.tk.ID)}},
			{"author edits a memo", c.assignee, `mutation($m: ID!) { updateMemo(id: $m, body: "y") { id } }`, map[string]any{"m": memo.AddMemo.ID}},
			{"assignee starts", c.assignee, wfTransitionMut, map[string]any{"id": gid(c.tk.ID), "action": "START"}},
			{"editor links", c.editor, `mutation($f: ID!, $t: ID!) { linkTickets(fromID: $f, toID: $t, kind: RELATED) { id } }`,
				map[string]any{"f": gid(c.tk.ID), "t": gid(sibling.ID)}},
			{"viewer watches", c.bystander, `mutation($id: ID!) { watchTicket(id: $id) { notify } }`, map[string]any{"id": gid(c.tk.ID)}},
		} {
			t.Run(k.name, func(t *testing.T) {
				e.do(k.token, `{ viewer { login } }`, nil).ok() // the viewer is cached: only the policy fails
				e.logs.reset()
				e.faults.arm("socdesk/internal/authz.")
				r := e.do(k.token, k.query, k.vars)
				e.faults.disarm()
				if r.code() != "INTERNAL" || r.Errors[0].Message != "internal error" {
					t.Fatalf("got %+v, want INTERNAL", r.Errors)
				}
				logged := e.logs.String()
				if n := strings.Count(logged, `msg="internal error"`); n != 1 || !strings.Contains(logged, "terminating connection") {
					t.Fatalf("want the cause logged once as an internal error, got:\n%s", logged)
				}
			})
		}
		// A join row's policy (no mutation creates one as a non-admin today).
		ctx := e.viewerContext(t, "editor")
		e.faults.arm("socdesk/internal/authz.")
		_, err := e.client.TicketTag.Create().SetTicketID(sibling.ID).SetTagID(tag).Save(ctx)
		e.faults.disarm()
		if err == nil || errors.Is(err, privacy.Deny) || !errors.Is(err, errTerminated) {
			t.Fatalf("tagging while the database fails: %v", err)
		}
		e.client.TicketTag.Create().SetTicketID(sibling.ID).SetTagID(tag).SaveX(ctx)
		// Without the failure the same requests pass their policies.
		e.do(e.admin, `mutation($t: ID!) { addMemo(ticketID: $t, body: "x") { id } }`, map[string]any{"t": gid(c.tk.ID)}).ok()
		e.do(c.bystander, `mutation($id: ID!) { watchTicket(id: $id) { notify } }`, map[string]any{"id": gid(c.tk.ID)}).ok()
	})
}
