package graph_test

import (
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
)

// collab is a ticket with people around it: an assignee and an approver who
// only view, an editor, a bystander and a user of another site.
type collab struct {
	site, other, cat                                int
	tk, otherTk                                     *ent.Ticket
	assignee, approver, editor, bystander, outsider string
	assigneeU                                       *ent.User
}

func newCollab(e *env) *collab {
	c := &collab{site: e.site("HQ"), other: e.site("Branch"), cat: e.category("Alerts", category.WorkflowAPPROVAL)}
	var approverU *ent.User
	c.assignee, c.assigneeU = e.user("assignee", user.RoleANALYST, view, c.site)
	c.approver, approverU = e.user("approver", user.RoleANALYST, view, c.site)
	c.editor, _ = e.user("editor", user.RoleANALYST, edit, c.site)
	c.bystander, _ = e.user("bystander", user.RoleANALYST, view, c.site)
	c.outsider, _ = e.user("outsider", user.RoleANALYST, edit, c.other)
	c.tk = e.client.Ticket.Create().SetTitle("Phish").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(c.cat).SetSiteID(c.site).
		SetStatus(ticket.StatusASSIGNED).AddAssigneeIDs(c.assigneeU.ID).AddApproverIDs(approverU.ID).SaveX(sys())
	c.otherTk = e.client.Ticket.Create().SetTitle("Elsewhere").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(c.cat).SetSiteID(c.other).SaveX(sys())
	return c
}

func (e *env) kinds(t *ent.Ticket) []ticketevent.Kind {
	var out []ticketevent.Kind
	for _, ev := range e.client.TicketEvent.Query().Where(ticketevent.TicketID(t.ID)).Order(ent.Asc(ticketevent.FieldID)).AllX(sys()) {
		out = append(out, ev.Kind)
	}
	return out
}

func TestMemos(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		const add = `mutation($t: ID!, $b: String!) { addMemo(ticketID: $t, body: $b, format: TEXT) { id body format author { login } createdAt } }`
		var m struct {
			AddMemo struct {
				ID, Body, Format string
				Author           struct{ Login string }
			}
		}
		e.do(c.assignee, add, map[string]any{"t": gid(c.tk.ID), "b": "Isolated the host."}).ok().into(&m)
		if m.AddMemo.Author.Login != "assignee" || m.AddMemo.Format != "TEXT" {
			t.Fatalf("memo %+v", m.AddMemo)
		}
		e.do(c.approver, add, map[string]any{"t": gid(c.tk.ID), "b": "Looks right."}).ok()
		e.do(c.editor, add, map[string]any{"t": gid(c.tk.ID), "b": "Noted."}).ok()
		e.do(c.bystander, add, map[string]any{"t": gid(c.tk.ID), "b": "Me too"}).wantCode("FORBIDDEN")
		e.do(c.outsider, add, map[string]any{"t": gid(c.tk.ID), "b": "Hi"}).wantCode("NOT_FOUND", "ticketID")
		e.do(c.assignee, add, map[string]any{"t": gid(c.tk.ID), "b": "  "}).wantCode("BAD_USER_INPUT", "body")

		const upd = `mutation($id: ID!, $b: String!) { updateMemo(id: $id, body: $b) { body } }`
		e.do(c.editor, upd, map[string]any{"id": m.AddMemo.ID, "b": "rewritten"}).wantCode("FORBIDDEN")
		e.do(e.admin, upd, map[string]any{"id": m.AddMemo.ID, "b": "rewritten"}).wantCode("FORBIDDEN")
		e.do(c.assignee, upd, map[string]any{"id": m.AddMemo.ID, "b": "Isolated the host and reset the password."}).ok()

		var list struct {
			Ticket struct {
				Memos struct {
					TotalCount int
					Edges      []struct{ Node struct{ Body string } }
				}
			}
		}
		e.do(c.bystander, `query($n: Int!) { ticket(number: $n) { memos(first: 10) { totalCount edges { node { body } } } } }`,
			map[string]any{"n": c.tk.Number()}).ok().into(&list)
		if list.Ticket.Memos.TotalCount != 3 || list.Ticket.Memos.Edges[0].Node.Body != "Isolated the host and reset the password." {
			t.Fatalf("memos %+v", list.Ticket.Memos)
		}
		if k := e.kinds(c.tk); len(k) != 4 || k[0] != ticketevent.KindMEMO_ADDED || k[3] != ticketevent.KindMEMO_EDITED {
			t.Fatalf("history %v", k)
		}
		ev := e.client.TicketEvent.Query().Where(ticketevent.KindEQ(ticketevent.KindMEMO_EDITED)).OnlyX(sys())
		if ch := roundTrip(t, ev.Changes); ch[1].Field != "body" || ch[1].From != "Isolated the host." || ch[1].To != "Isolated the host and reset the password." {
			t.Fatalf("memo edit recorded as %+v", ch)
		}
	})
}

func TestLinks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		dup := e.client.Ticket.Create().SetTitle("Phish again").SetKind(ticket.KindANALYSIS).SetBody("b").SetCategoryID(c.cat).SetSiteID(c.site).SaveX(sys())
		const link = `mutation($f: ID!, $t: ID!, $k: TicketLinkKind!) { linkTickets(fromID: $f, toID: $t, kind: $k) { id kind direction ticket { number } } }`
		var l struct {
			LinkTickets struct {
				ID, Kind, Direction string
				Ticket              struct{ Number int }
			}
		}
		e.do(c.editor, link, map[string]any{"f": gid(dup.ID), "t": gid(c.tk.ID), "k": "DUPLICATE_OF"}).ok().into(&l)
		if l.LinkTickets.Direction != "OUTGOING" || l.LinkTickets.Ticket.Number != c.tk.Number() {
			t.Fatalf("link %+v", l.LinkTickets)
		}
		e.do(c.editor, link, map[string]any{"f": gid(dup.ID), "t": gid(c.tk.ID), "k": "DUPLICATE_OF"}).wantCode("CONFLICT")
		e.do(c.editor, link, map[string]any{"f": gid(c.tk.ID), "t": gid(dup.ID), "k": "DUPLICATE_OF"}).wantCode("BAD_USER_INPUT", "toID") // no cycle
		e.do(c.editor, link, map[string]any{"f": gid(dup.ID), "t": gid(dup.ID), "k": "RELATED"}).wantCode("BAD_USER_INPUT", "toID")
		e.do(c.editor, link, map[string]any{"f": gid(dup.ID), "t": gid(c.otherTk.ID), "k": "RELATED"}).wantCode("NOT_FOUND", "toID")
		e.do(c.assignee, link, map[string]any{"f": gid(c.tk.ID), "t": gid(dup.ID), "k": "RELATED"}).wantCode("FORBIDDEN")
		e.do(c.editor, link, map[string]any{"f": gid(c.tk.ID), "t": gid(dup.ID), "k": "RELATED"}).ok()
		e.do(c.editor, link, map[string]any{"f": gid(dup.ID), "t": gid(c.tk.ID), "k": "RELATED"}).wantCode("CONFLICT") // related is symmetric
		// An admin links across sites; a user of one site does not see that link.
		e.do(e.admin, link, map[string]any{"f": gid(c.tk.ID), "t": gid(c.otherTk.ID), "k": "RELATED"}).ok()

		type links struct {
			Ticket struct {
				Links []struct {
					ID, Kind, Direction string
					Ticket              struct{ Number int }
				}
			}
		}
		var seen links
		e.do(c.bystander, `query($n: Int!) { ticket(number: $n) { links { id kind direction ticket { number } } } }`, map[string]any{"n": c.tk.Number()}).ok().into(&seen)
		got := seen.Ticket.Links
		if len(got) != 2 || got[0].Kind != "DUPLICATE_OF" || got[0].Direction != "INCOMING" || got[0].Ticket.Number != dup.Number() ||
			got[1].Kind != "RELATED" || got[1].Direction != "OUTGOING" {
			t.Fatalf("links seen from the original: %+v", got)
		}
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { links { id } } }`, map[string]any{"n": c.tk.Number()}).ok().into(&seen)
		if len(seen.Ticket.Links) != 3 {
			t.Fatalf("admin sees %d links", len(seen.Ticket.Links))
		}
		e.do(c.editor, `mutation($id: ID!) { unlinkTickets(id: $id) { deletedID } }`, map[string]any{"id": got[0].ID}).ok()
		if k := e.kinds(dup); len(k) != 3 || k[0] != ticketevent.KindLINKED || k[1] != ticketevent.KindLINKED || k[2] != ticketevent.KindUNLINKED {
			t.Fatalf("history of the duplicate: %v", k)
		}
		// Deleting a ticket removes its links with it.
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": gid(c.otherTk.ID)}).ok()
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { links { id } } }`, map[string]any{"n": c.tk.Number()}).ok().into(&seen)
		if len(seen.Ticket.Links) != 1 {
			t.Fatalf("links after delete: %+v", seen.Ticket.Links)
		}
	})
}

func TestWatchers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		c := newCollab(e)
		const watch = `mutation($id: ID!, $u: ID, $n: TicketWatcherNotify) { watchTicket(id: $id, userID: $u, notify: $n) { notify user { login } } }`
		var w struct {
			WatchTicket struct {
				Notify string
				User   struct{ Login string }
			}
		}
		e.do(c.bystander, watch, map[string]any{"id": gid(c.tk.ID), "n": "OPEN_CLOSE"}).ok().into(&w)
		if w.WatchTicket.Notify != "OPEN_CLOSE" || w.WatchTicket.User.Login != "bystander" {
			t.Fatalf("watch %+v", w)
		}
		e.do(c.bystander, watch, map[string]any{"id": gid(c.tk.ID), "n": "ALL"}).ok()                                // change of preference
		e.do(c.bystander, watch, map[string]any{"id": gid(c.tk.ID), "u": gid(c.assigneeU.ID)}).wantCode("FORBIDDEN") // others: editors only
		e.do(c.editor, watch, map[string]any{"id": gid(c.tk.ID), "u": gid(c.assigneeU.ID)}).ok()
		e.do(c.outsider, watch, map[string]any{"id": gid(c.tk.ID)}).wantCode("NOT_FOUND", "id")

		var d struct {
			Ticket struct {
				Watchers []struct {
					Notify string
					User   struct{ Login string }
				}
			}
		}
		e.do(c.bystander, `query($n: Int!) { ticket(number: $n) { watchers { notify user { login } } } }`, map[string]any{"n": c.tk.Number()}).ok().into(&d)
		if len(d.Ticket.Watchers) != 2 {
			t.Fatalf("watchers %+v", d.Ticket.Watchers)
		}
		e.do(c.bystander, `mutation($id: ID!) { unwatchTicket(id: $id) { deletedID } }`, map[string]any{"id": gid(c.tk.ID)}).ok()
		e.do(c.bystander, `mutation($id: ID!) { unwatchTicket(id: $id) { deletedID } }`, map[string]any{"id": gid(c.tk.ID)}).wantCode("NOT_FOUND")
		if k := e.kinds(c.tk); len(k) != 4 || k[0] != ticketevent.KindWATCHED || k[3] != ticketevent.KindUNWATCHED {
			t.Fatalf("history %v", k)
		}
	})
}

func TestDueDate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		in := analysis(site, cat)
		in["dueAt"] = "2026-12-01T17:00:00+09:00"
		var c struct {
			CreateTicket struct {
				ID    string
				DueAt string
			}
		}
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id dueAt } }`, map[string]any{"in": in}).ok().into(&c)
		if c.CreateTicket.DueAt != "2026-12-01T08:00:00Z" {
			t.Fatalf("dueAt %q", c.CreateTicket.DueAt)
		}
		var u struct{ UpdateTicket struct{ DueAt *string } }
		e.do(e.admin, `mutation($id: ID!) { updateTicket(id: $id, input: {clearDueAt: true}) { dueAt } }`, map[string]any{"id": c.CreateTicket.ID}).ok().into(&u)
		if u.UpdateTicket.DueAt != nil {
			t.Fatalf("dueAt after clearing: %v", *u.UpdateTicket.DueAt)
		}
		ev := e.client.TicketEvent.Query().Where(ticketevent.KindEQ(ticketevent.KindUPDATED)).OnlyX(sys())
		if ch := roundTrip(t, ev.Changes); len(ch) != 1 || ch[0].Field != "dueAt" || ch[0].To != nil {
			t.Fatalf("changes %+v", ch)
		}
	})
}
