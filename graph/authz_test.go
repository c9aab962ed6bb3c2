package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
)

var (
	view = []schematype.Permission{schematype.PermissionTicketView}
	edit = []schematype.Permission{schematype.PermissionTicketEdit}
)

// world is a small fixture: two sites with tickets, and a user of each role.
type world struct {
	siteA, siteB, cat                      int
	a1, a2, b1                             *ent.Ticket
	memoB, eventB                          int
	editorA, viewerA, noPerm, viewerNoSite string
}

func newWorld(e *env) *world {
	w := &world{siteA: e.site("Site A"), siteB: e.site("Site B"), cat: e.category("Alerts", category.WorkflowAPPROVAL)}
	mk := func(title string, site int) *ent.Ticket {
		return e.client.Ticket.Create().SetTitle(title).SetKind(ticket.KindANALYSIS).SetBody("b").
			SetCategoryID(w.cat).SetSiteID(site).SaveX(sys())
	}
	w.a1, w.a2, w.b1 = mk("a1", w.siteA), mk("a2", w.siteA), mk("b1", w.siteB)
	w.memoB = e.client.Memo.Create().SetTicketID(w.b1.ID).SetBody("secret").SaveX(sys()).ID
	w.eventB = e.client.TicketEvent.Create().SetKind("CREATED").SetTicketID(w.b1.ID).SetTicketNumber(w.b1.Number()).
		SetSiteID(w.siteB).SaveX(sys()).ID
	w.editorA, _ = e.user("editor.a", user.RoleANALYST, edit, w.siteA)
	w.viewerA, _ = e.user("viewer.a", user.RoleANALYST, view, w.siteA)
	w.noPerm, _ = e.user("noperm.a", user.RoleANALYST, nil, w.siteA)
	w.viewerNoSite, _ = e.user("viewer.none", user.RoleANALYST, view)
	return w
}

func TestUnauthenticated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for name, tok := range map[string]string{"none": "", "unknown": "sdk_nope_nope_nope_nope_nope_nope_nope", "short": "x"} {
			r := e.do(tok, `{ viewer { login } }`, nil)
			if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
				t.Errorf("%s token: status %d code %q", name, r.Status, r.code())
			}
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", nil)
		req.Header.Set("Authorization", "Basic "+e.admin)
		if r := e.send(req); r.Status != http.StatusUnauthorized {
			t.Errorf("basic auth: status %d", r.Status)
		}
	})
}

func TestTicketVisibilityByRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newWorld(e)
		const q = `query($a: ID!, $b: ID!, $memo: ID!, $event: ID!, $nb: Int!) {
			tickets(first: 10) { totalCount edges { node { title } } }
			a: node(id: $a) { id }
			b: node(id: $b) { id }
			memo: node(id: $memo) { id }
			event: node(id: $event) { id }
			nodes(ids: [$a, $b]) { id }
			byNumber: ticket(number: $nb) { title }
			sites { name }
		}`
		vars := map[string]any{"a": gid(w.a1.ID), "b": gid(w.b1.ID), "memo": gid(w.memoB), "event": gid(w.eventB), "nb": w.b1.Number()}
		type data struct {
			Tickets           struct{ TotalCount int }
			A, B, Memo, Event *struct{ ID string }
			Nodes             []*struct{ ID string }
			ByNumber          *struct{ Title string }
			Sites             []struct{ Name string }
		}
		for _, c := range []struct {
			name  string
			token string
			total int
			seesB bool
			seesA bool
			sites int
		}{
			{"admin", e.admin, 3, true, true, 2},
			{"editor of A", w.editorA, 2, false, true, 1},
			{"viewer of A", w.viewerA, 2, false, true, 1},
			{"viewer without sites", w.viewerNoSite, 0, false, false, 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				var d data
				r := e.do(c.token, q, vars)
				for _, err := range r.Errors { // invisible nodes are null with NOT_FOUND
					if err.Extensions["code"] != "NOT_FOUND" {
						t.Fatalf("error %+v", err)
					}
				}
				r.into(&d)
				if d.Tickets.TotalCount != c.total {
					t.Errorf("totalCount = %d, want %d", d.Tickets.TotalCount, c.total)
				}
				if (d.A != nil) != c.seesA || (d.B != nil) != c.seesB || (d.Memo != nil) != c.seesB || (d.Event != nil) != c.seesB || (d.ByNumber != nil) != c.seesB {
					t.Errorf("node a=%v b=%v memo=%v event=%v byNumber=%v; want a=%v others=%v", d.A != nil, d.B != nil, d.Memo != nil, d.Event != nil, d.ByNumber != nil, c.seesA, c.seesB)
				}
				if len(d.Nodes) != 2 || (d.Nodes[0] != nil) != c.seesA || (d.Nodes[1] != nil) != c.seesB {
					t.Errorf("nodes = %+v", d.Nodes)
				}
				if len(d.Sites) != c.sites {
					t.Errorf("sites = %+v, want %d", d.Sites, c.sites)
				}
			})
		}
		t.Run("no permission", func(t *testing.T) {
			e.do(w.noPerm, `{ tickets(first: 5) { totalCount } }`, nil).wantCode("FORBIDDEN")
			var d struct{ A *struct{ ID string } }
			r := e.do(w.noPerm, `query($a: ID!) { a: node(id: $a) { id } }`, vars)
			if r.code() != "FORBIDDEN" {
				r.into(&d)
				if d.A != nil {
					t.Fatalf("a user without TICKET_VIEW read a ticket: %s", r.Data)
				}
			}
		})
	})
}

const createMut = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id number status title version registeredBy { login } } }`

func analysis(site, cat int) map[string]any {
	return map[string]any{"kind": "ANALYSIS", "title": "Suspicious login", "body": "details", "siteID": gid(site), "categoryID": gid(cat)}
}

func TestTicketMutationsByRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newWorld(e)
		count := func() int { return e.client.Ticket.Query().CountX(sys()) }
		before := count()

		// Creating: admins and editors, in their own sites only.
		e.do(e.admin, createMut, map[string]any{"in": analysis(w.siteB, w.cat)}).ok()
		e.do(w.editorA, createMut, map[string]any{"in": analysis(w.siteA, w.cat)}).ok()
		e.do(w.editorA, createMut, map[string]any{"in": analysis(w.siteB, w.cat)}).wantCode("FORBIDDEN")
		e.do(w.viewerA, createMut, map[string]any{"in": analysis(w.siteA, w.cat)}).wantCode("FORBIDDEN")
		e.do(w.noPerm, createMut, map[string]any{"in": analysis(w.siteA, w.cat)}).wantCode("FORBIDDEN")
		if got := count(); got != before+2 {
			t.Fatalf("tickets = %d, want %d", got, before+2)
		}

		const upd = `mutation($id: ID!, $in: UpdateTicketInput!) { updateTicket(id: $id, input: $in) { title site { name } } }`
		e.do(w.editorA, upd, map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"title": "edited"}}).ok()
		e.do(w.viewerA, upd, map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"title": "by viewer"}}).wantCode("FORBIDDEN")
		// Even a change to nothing is refused to a viewer, and says why.
		r := e.do(w.viewerA, upd, map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"title": "a1"}})
		if r.wantCode("FORBIDDEN"); !strings.Contains(r.Errors[0].Message, "TICKET_EDIT") {
			t.Fatalf("forbidden message %q", r.Errors[0].Message)
		}
		e.do(w.editorA, upd, map[string]any{"id": gid(w.b1.ID), "in": map[string]any{"title": "other site"}}).wantCode("NOT_FOUND")
		e.do(w.editorA, upd, map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"siteID": gid(w.siteB)}}).wantCode("FORBIDDEN")
		e.do(e.admin, upd, map[string]any{"id": gid(w.b1.ID), "in": map[string]any{"title": "by admin"}}).ok()
		if a1 := e.client.Ticket.GetX(sys(), w.a1.ID); a1.Title != "edited" || a1.SiteID != w.siteA {
			t.Fatalf("a1 = %q in site %d", a1.Title, a1.SiteID)
		}

		const del = `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`
		e.do(w.viewerA, del, map[string]any{"id": gid(w.a2.ID)}).wantCode("FORBIDDEN")
		e.do(w.editorA, del, map[string]any{"id": gid(w.b1.ID)}).wantCode("NOT_FOUND")
		var d struct{ DeleteTicket struct{ DeletedID string } }
		e.do(w.editorA, del, map[string]any{"id": gid(w.a2.ID)}).ok().into(&d)
		if d.DeleteTicket.DeletedID != gid(w.a2.ID) {
			t.Fatalf("deletedID = %q", d.DeleteTicket.DeletedID)
		}
		if got := count(); got != before+1 {
			t.Fatalf("tickets = %d, want %d", got, before+1)
		}
	})
}

func TestReferenceDataIsAdminOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newWorld(e)
		muts := []struct {
			name, query string
			vars        map[string]any
		}{
			{"createSite", `mutation { createSite(input: {name: "New"}) { id } }`, nil},
			{"updateSite", `mutation($id: ID!) { updateSite(id: $id, input: {name: "Renamed"}) { id } }`, map[string]any{"id": gid(w.siteA)}},
			{"createCategory", `mutation { createCategory(input: {name: "New", workflow: INCIDENT_RESPONSE}) { id } }`, nil},
			{"createTag", `mutation { createTag(input: {name: "new", color: "#ff0000"}) { id } }`, nil},
			{"createUser", `mutation { createUser(input: {login: "new.user", displayName: "New", permissions: [TICKET_VIEW]}) { id } }`, nil},
			{"deleteCategory", `mutation($id: ID!) { deleteCategory(id: $id) { deletedID } }`, map[string]any{"id": gid(w.cat)}},
		}
		for _, m := range muts {
			for _, tok := range []string{w.editorA, w.viewerA, w.noPerm} {
				e.do(tok, m.query, m.vars).wantCode("FORBIDDEN")
			}
		}
		if n := e.client.Site.Query().CountX(sys()); n != 2 {
			t.Fatalf("sites = %d after refused mutations", n)
		}
		// Everyone reads reference data.
		var d struct {
			Categories []struct{ Name string }
			Tags       []struct{ Name string }
			Users      struct{ TotalCount int }
		}
		e.do(w.viewerA, `{ categories { name } tags { name } users(first: 10) { totalCount } }`, nil).ok().into(&d)
		if len(d.Categories) != 1 || d.Users.TotalCount != 5 {
			t.Fatalf("reference data = %+v", d)
		}
		// Admins write it.
		for _, m := range muts[:5] {
			e.do(e.admin, m.query, m.vars).ok()
		}
	})
}
