package graph_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketlink"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
)

// parallel runs fn n times at once and returns how many returned no error code.
func parallel(n int, fn func(i int) string) (ok int, codes []string) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := fn(i)
			mu.Lock()
			defer mu.Unlock()
			if code == "" {
				ok++
			} else {
				codes = append(codes, code)
			}
		}()
	}
	wg.Wait()
	return ok, codes
}

// TestConcurrentLinksWatchesAndMemoEdits: what checks before it writes holds
// the ticket's (or memo's) row lock, so concurrent requests queue.
func TestConcurrentLinksWatchesAndMemoEdits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		other := e.client.Ticket.Create().SetTitle("Other").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(c.cat).SetSiteID(c.site).SaveX(sys())
		post := func(token, q string, vars map[string]any) string { return code(t, e, token, q, vars) }

		_, codes := parallel(8, func(i int) string {
			from, to := c.tk.ID, other.ID
			if i%2 == 1 {
				from, to = to, from
			}
			return post(c.editor, `mutation($f: ID!, $t: ID!) { linkTickets(fromID: $f, toID: $t, kind: RELATED) { id } }`, map[string]any{"f": gid(from), "t": gid(to)})
		})
		if n := e.client.TicketLink.Query().Where(ticketlink.KindEQ(ticketlink.KindRELATED)).CountX(sys()); n != 1 {
			t.Fatalf("%d RELATED links after 8 concurrent requests (codes %v)", n, codes)
		}
		for _, c := range codes {
			if c != "CONFLICT" {
				t.Fatalf("concurrent link: %s", c)
			}
		}

		ok, codes := parallel(8, func(int) string {
			return post(c.bystander, `mutation($id: ID!) { watchTicket(id: $id, notify: OPEN_CLOSE) { notify } }`, map[string]any{"id": gid(c.tk.ID)})
		})
		if ok != 8 || e.client.TicketWatcher.Query().Where(ticketwatcher.TicketID(c.tk.ID)).CountX(sys()) != 1 {
			t.Fatalf("concurrent watch: %d ok, codes %v", ok, codes)
		}

		var m struct{ AddMemo struct{ ID string } }
		e.do(c.assignee, `mutation($t: ID!) { addMemo(ticketID: $t, body: "v0") { id } }`, map[string]any{"t": gid(c.tk.ID)}).ok().into(&m)
		if ok, codes := parallel(8, func(i int) string {
			return post(c.assignee, `mutation($id: ID!, $b: String!) { updateMemo(id: $id, body: $b) { body } }`, map[string]any{"id": m.AddMemo.ID, "b": fmt.Sprintf("v%d", i+1)})
		}); ok != 8 {
			t.Fatalf("memo edits: %d ok, %v", ok, codes)
		}
		// The edits form one chain: each replaced what the previous one wrote.
		froms := map[any]bool{}
		for _, ev := range e.client.TicketEvent.Query().Where(ticketevent.KindEQ(ticketevent.KindMEMO_EDITED)).AllX(sys()) {
			ch := roundTrip(t, ev.Changes)
			if froms[ch[1].From] {
				t.Fatalf("two edits replaced %v", ch[1].From)
			}
			froms[ch[1].From] = true
		}
	})
}

// code posts a request from any goroutine and returns its first error code.
func code(t *testing.T, e *env, token, query string, vars map[string]any) string {
	r := e.do(token, query, vars)
	return r.code()
}

func TestDeletionsKeepTheRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		other := e.client.Ticket.Create().SetTitle("Other").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(c.cat).SetSiteID(c.site).SaveX(sys())
		// A user who takes part in tickets stays.
		e.do(e.admin, `mutation($id: ID!) { deleteUser(id: $id) { deletedID } }`, map[string]any{"id": gid(c.assigneeU.ID)}).wantCode("CONFLICT")
		e.do(c.editor, `mutation($id: ID!) { deleteUser(id: $id) { deletedID } }`, map[string]any{"id": gid(c.assigneeU.ID)}).wantCode("FORBIDDEN")
		_, idle := e.user("idle", user.RoleANALYST, nil)
		e.do(e.admin, `mutation($id: ID!) { deleteUser(id: $id) { deletedID } }`, map[string]any{"id": gid(idle.ID)}).ok()

		e.do(c.editor, `mutation($f: ID!, $t: ID!) { linkTickets(fromID: $f, toID: $t, kind: DUPLICATE_OF) { id } }`, map[string]any{"f": gid(c.tk.ID), "t": gid(other.ID)}).ok()
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": gid(c.tk.ID)}).ok()
		if k := e.kinds(other); len(k) != 2 || k[1] != ticketevent.KindUNLINKED {
			t.Fatalf("the other end's history after the delete: %v", k)
		}
		// The deleted ticket's record stays readable by its number, for those
		// who could see it: it ends with who deleted it.
		var h struct {
			TicketHistory struct {
				Edges []struct {
					Node struct {
						Kind  string
						Actor struct{ Login string }
					}
				}
			}
		}
		const hq = `query($n: Int!) { ticketHistory(number: $n, last: 1) { edges { node { kind actor { login } } } } }`
		e.do(c.bystander, hq, map[string]any{"n": c.tk.Number()}).ok().into(&h)
		if len(h.TicketHistory.Edges) != 1 || h.TicketHistory.Edges[0].Node.Kind != "DELETED" || h.TicketHistory.Edges[0].Node.Actor.Login != "admin" {
			t.Fatalf("history of the deleted ticket: %+v", h)
		}
		e.do(c.outsider, hq, map[string]any{"n": c.tk.Number()}).ok().into(&h)
		if len(h.TicketHistory.Edges) != 0 {
			t.Fatalf("another site's user reads the deleted ticket's history: %+v", h)
		}
	})
}

func TestPeopleMustSeeTheTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		_, far := e.user("far", user.RoleANALYST, view, c.other)
		_, blind := e.user("blind", user.RoleANALYST, nil, c.site)
		for _, u := range []int{far.ID, blind.ID} {
			e.do(e.admin, `mutation($id: ID!, $u: ID!) { assignTicket(id: $id, assigneeIDs: [$u]) { id } }`, map[string]any{"id": gid(c.tk.ID), "u": gid(u)}).wantCode("BAD_USER_INPUT", "assigneeIDs")
			e.do(e.admin, `mutation($id: ID!, $u: ID!) { assignTicket(id: $id, approverIDs: [$u]) { id } }`, map[string]any{"id": gid(c.tk.ID), "u": gid(u)}).wantCode("BAD_USER_INPUT", "approverIDs")
			e.do(c.editor, `mutation($id: ID!, $u: ID!) { watchTicket(id: $id, userID: $u) { notify } }`, map[string]any{"id": gid(c.tk.ID), "u": gid(u)}).wantCode("BAD_USER_INPUT", "userID")
		}
		var b struct {
			BulkUpdateTickets struct {
				Results []struct{ Error *struct{ Code, Field string } }
			}
		}
		e.do(e.admin, `mutation($id: ID!, $u: ID!) { bulkUpdateTickets(ids: [$id], change: {assigneeIDs: [$u]}) { results { error { code field } } } }`,
			map[string]any{"id": gid(c.tk.ID), "u": gid(far.ID)}).ok().into(&b)
		if r := b.BulkUpdateTickets.Results; len(r) != 1 || r[0].Error == nil || r[0].Error.Code != "BAD_USER_INPUT" || r[0].Error.Field != "change.assigneeIDs" {
			t.Fatalf("bulk result %+v", r)
		}
		in := analysis(c.site, c.cat)
		in["assigneeIDs"] = gids(far.ID)
		e.do(e.admin, createMut, map[string]any{"in": in}).wantCode("BAD_USER_INPUT", "input.assigneeIDs")
		// Others' watches are editors' to change, whatever the change.
		e.do(c.editor, `mutation($id: ID!, $u: ID!) { watchTicket(id: $id, userID: $u, notify: ALL) { notify } }`, map[string]any{"id": gid(c.tk.ID), "u": gid(c.assigneeU.ID)}).ok()
		for _, q := range []string{
			`mutation($id: ID!, $u: ID!) { watchTicket(id: $id, userID: $u, notify: ALL) { notify } }`,
			`mutation($id: ID!, $u: ID!) { watchTicket(id: $id, userID: $u, notify: OPEN_CLOSE) { notify } }`,
			`mutation($id: ID!, $u: ID!) { unwatchTicket(id: $id, userID: $u) { deletedID } }`,
		} {
			e.do(c.bystander, q, map[string]any{"id": gid(c.tk.ID), "u": gid(c.assigneeU.ID)}).wantCode("FORBIDDEN")
		}
	})
}

func TestWorkflowEdges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		inc := e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		it := e.client.Ticket.Create().SetTitle("Inc").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(inc).SetSiteID(c.site).SetStatus(ticket.StatusTRIAGE).SaveX(sys())
		const tr = `mutation($id: ID!, $to: TicketStatus) { transitionTicket(id: $id, action: MOVE, toStatus: $to) { status } }`
		e.do(e.admin, tr, map[string]any{"id": gid(it.ID), "to": "NEW"}).wantCode("BAD_USER_INPUT", "toStatus")

		// RESTART removes the assignee (issue 9, 1j: NEW means assigned to no
		// one); assigning them again makes it ASSIGNED.
		var r struct {
			TransitionTicket struct {
				Status    string
				Assignees []struct{ ID string }
			}
		}
		e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: RESTART) { status assignees { id } } }`, map[string]any{"id": gid(c.tk.ID)}).ok().into(&r)
		if r.TransitionTicket.Status != "NEW" || len(r.TransitionTicket.Assignees) != 0 {
			t.Fatalf("after RESTART: %+v", r.TransitionTicket)
		}
		var d struct{ AssignTicket struct{ Status string } }
		e.do(e.admin, `mutation($id: ID!, $u: ID!) { assignTicket(id: $id, assigneeIDs: [$u]) { status } }`, map[string]any{"id": gid(c.tk.ID), "u": gid(c.assigneeU.ID)}).ok().into(&d)
		if d.AssignTicket.Status != "ASSIGNED" {
			t.Fatalf("after RESTART and the same assignee: %s", d.AssignTicket.Status)
		}

		// A due date is stored at the precision both databases keep: setting
		// the same one again changes nothing.
		const due = `mutation($id: ID!) { updateTicket(id: $id, input: {dueAt: "2030-01-01T00:00:00.123456789Z"}) { version dueAt } }`
		var a, b struct {
			UpdateTicket struct {
				Version int
				DueAt   string
			}
		}
		e.do(e.admin, due, map[string]any{"id": gid(c.tk.ID)}).ok().into(&a)
		e.do(e.admin, due, map[string]any{"id": gid(c.tk.ID)}).ok().into(&b)
		if a.UpdateTicket.Version != b.UpdateTicket.Version || !strings.HasPrefix(a.UpdateTicket.DueAt, "2030-01-01T00:00:00.123456") {
			t.Fatalf("due date set twice: %+v then %+v", a.UpdateTicket, b.UpdateTicket)
		}
	})
}
