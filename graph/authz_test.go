package graph_test

import (
	"encoding/json"
	"net/http"
	"slices"
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
		// Another site is answered as a missing one (TestCrossSiteMetadata).
		e.do(w.editorA, createMut, map[string]any{"in": analysis(w.siteB, w.cat)}).wantCode("BAD_USER_INPUT", "input.siteID")
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
		e.do(w.editorA, upd, map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"siteID": gid(w.siteB)}}).wantCode("BAD_USER_INPUT", "input.siteID")
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
		// Users: those who share a site with the viewer, and the admins
		// (viewer.none shares none): TestCrossSiteMetadata.
		if len(d.Categories) != 1 || d.Users.TotalCount != 4 {
			t.Fatalf("reference data = %+v", d)
		}
		// Admins write it.
		for _, m := range muts[:5] {
			e.do(e.admin, m.query, m.vars).ok()
		}
	})
}

// TestCrossSiteMetadata: what a viewer learns of other sites through
// references (issue 9, 1i). A link's other ticket is withheld from history
// when the viewer cannot see it; a hidden site or user is answered as a
// missing one; users are listed to those who share a site with them.
func TestCrossSiteMetadata(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newWorld(e)
		editorB, uB := e.user("editor.b", user.RoleANALYST, edit, w.siteB)
		bothTok, both := e.user("editor.ab", user.RoleANALYST, edit, w.siteA, w.siteB)
		missingSite := w.siteB + 1000
		missingUser := both.ID + 1000

		{ // link history
			const link = `mutation($f: ID!, $t: ID!) { linkTickets(fromID: $f, toID: $t, kind: RELATED) { id } }`
			e.do(e.admin, link, map[string]any{"f": gid(w.a1.ID), "t": gid(w.b1.ID)}).ok()
			b1 := float64(w.b1.Number())
			type change struct {
				Field    string
				From, To map[string]any
			}
			type entries struct {
				Edges []struct {
					Node struct {
						Kind    string
						Changes []change
					}
				}
			}
			// linked returns the link values of a1's LINKED/UNLINKED entries,
			// from Ticket.history and from ticketHistory(number:).
			linked := func(tok string) (fromNode, byNumber []map[string]any) {
				var d struct {
					Node          struct{ History entries }
					TicketHistory entries
				}
				e.do(tok, `query($id: ID!, $n: Int!) {
					node(id: $id) { ... on Ticket { history(first: 50) { edges { node { kind changes { field from to } } } } } }
					ticketHistory(number: $n, first: 50) { edges { node { kind changes { field from to } } } }
				}`, map[string]any{"id": gid(w.a1.ID), "n": w.a1.Number()}).ok().into(&d)
				pick := func(h entries) []map[string]any {
					var out []map[string]any
					for _, ed := range h.Edges {
						for _, ch := range ed.Node.Changes {
							if ch.Field == "link" {
								out = append(out, ch.To, ch.From)
							}
						}
					}
					return slices.DeleteFunc(out, func(m map[string]any) bool { return m == nil })
				}
				return pick(d.Node.History), pick(d.TicketHistory)
			}
			check := func(who, tok string, n int, sees bool) {
				t.Helper()
				h, byNumber := linked(tok)
				for name, vals := range map[string][]map[string]any{"history": h, "ticketHistory": byNumber} {
					if len(vals) != n {
						t.Fatalf("%s: %s has %d link entries, want %d: %v", who, name, len(vals), n, vals)
					}
					for _, v := range vals {
						if v["kind"] != "RELATED" || v["direction"] != "OUTGOING" {
							t.Errorf("%s: %s: the entry lost what may be shown: %v", who, name, v)
						}
						if got, want := v["ticket"], any(nil); sees {
							if got != b1 {
								t.Errorf("%s: %s: link to %v, want #%v", who, name, got, b1)
							}
						} else if got != want || v["deleted"] != nil {
							t.Errorf("%s: %s names the other site's ticket: %v", who, name, v)
						}
					}
				}
			}
			check("admin", e.admin, 1, true)
			check("editor of A and B", bothTok, 1, true)
			check("viewer of A", w.viewerA, 1, false)

			// Deleting b1 unlinks it: a1's UNLINKED entry names it as well.
			e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": gid(w.b1.ID)}).ok()
			check("admin", e.admin, 2, true)
			check("editor of A and B", bothTok, 2, true)
			check("viewer of A", w.viewerA, 2, false)
		}

		{ // hidden is missing
			// Each pair: a reference to something the viewer may not see, and
			// to something that does not exist. Both get the same answer.
			const upd = `mutation($id: ID!, $in: UpdateTicketInput!) { updateTicket(id: $id, input: $in) { id } }`
			const assign = `mutation($id: ID!, $a: [ID!], $p: [ID!]) { assignTicket(id: $id, assigneeIDs: $a, approverIDs: $p) { id } }`
			const watch = `mutation($id: ID!, $u: ID) { watchTicket(id: $id, userID: $u) { id } }`
			withIn := func(k string, v any) map[string]any {
				in := analysis(w.siteA, w.cat)
				in[k] = v
				return map[string]any{"in": in}
			}
			for _, c := range []struct {
				name, query, field string
				vars               func(id int) map[string]any
				hidden, missing    int
			}{
				{"createTicket site", createMut, "input.siteID", func(id int) map[string]any { return withIn("siteID", gid(id)) }, w.siteB, missingSite},
				{"createTicket assignee", createMut, "input.assigneeIDs", func(id int) map[string]any { return withIn("assigneeIDs", gids(id)) }, uB.ID, missingUser},
				{"createTicket approver", createMut, "input.approverIDs", func(id int) map[string]any { return withIn("approverIDs", gids(id)) }, uB.ID, missingUser},
				{"updateTicket site", upd, "input.siteID", func(id int) map[string]any {
					return map[string]any{"id": gid(w.a1.ID), "in": map[string]any{"siteID": gid(id)}}
				}, w.siteB, missingSite},
				{"assignTicket assignee", assign, "assigneeIDs", func(id int) map[string]any { return map[string]any{"id": gid(w.a1.ID), "a": gids(id)} }, uB.ID, missingUser},
				{"assignTicket approver", assign, "approverIDs", func(id int) map[string]any { return map[string]any{"id": gid(w.a1.ID), "p": gids(id)} }, uB.ID, missingUser},
				{"watchTicket user", watch, "userID", func(id int) map[string]any { return map[string]any{"id": gid(w.a1.ID), "u": gid(id)} }, uB.ID, missingUser},
			} {
				hidden := e.do(w.editorA, c.query, c.vars(c.hidden))
				missing := e.do(w.editorA, c.query, c.vars(c.missing))
				missing.wantCode("BAD_USER_INPUT", c.field)
				hidden.wantCode("BAD_USER_INPUT", c.field)
				if hidden.Errors[0].Message != missing.Errors[0].Message {
					t.Errorf("%s: hidden %q, missing %q", c.name, hidden.Errors[0].Message, missing.Errors[0].Message)
				}
			}
			if a1 := e.client.Ticket.Query().Where(ticket.ID(w.a1.ID)).WithAssignees().OnlyX(sys()); a1.SiteID != w.siteA || len(a1.Edges.Assignees) != 0 {
				t.Fatalf("a refused reference changed a1: site %d, assignees %v", a1.SiteID, a1.Edges.Assignees)
			}
		}

		{ // users
			const q = `query($b: ID!) { users(first: 50) { totalCount edges { node { login email permissions } } } b: node(id: $b) { id } }`
			logins := func(tok string) (out []string, seesB bool) {
				var d struct {
					Users struct {
						TotalCount int
						Edges      []struct{ Node struct{ Login string } }
					}
					B *struct{ ID string }
				}
				r := e.do(tok, q, map[string]any{"b": gid(uB.ID)})
				for _, err := range r.Errors { // an invisible node is null with NOT_FOUND
					if err.Extensions["code"] != "NOT_FOUND" {
						t.Fatalf("error %+v", err)
					}
				}
				r.into(&d)
				for _, ed := range d.Users.Edges {
					out = append(out, ed.Node.Login)
				}
				if d.Users.TotalCount != len(out) {
					t.Errorf("totalCount %d for %v", d.Users.TotalCount, out)
				}
				slices.Sort(out)
				return out, d.B != nil
			}
			for _, c := range []struct {
				name, tok string
				want      []string
				seesB     bool
			}{
				{"admin", e.admin, []string{"admin", "editor.a", "editor.ab", "editor.b", "noperm.a", "viewer.a", "viewer.none"}, true},
				{"viewer of A", w.viewerA, []string{"admin", "editor.a", "editor.ab", "noperm.a", "viewer.a"}, false},
				{"without permission", w.noPerm, []string{"admin", "editor.a", "editor.ab", "noperm.a", "viewer.a"}, false},
				{"without sites", w.viewerNoSite, []string{"admin", "viewer.none"}, false},
				{"editor of B", editorB, []string{"admin", "editor.ab", "editor.b"}, true},
			} {
				got, seesB := logins(c.tok)
				if !slices.Equal(got, c.want) || seesB != c.seesB {
					t.Errorf("%s: users %v (node of editor.b: %v), want %v (%v)", c.name, got, seesB, c.want, c.seesB)
				}
			}

			// The people of a ticket the viewer sees are shown with it, also
			// one who no longer shares a site (TestPeopleOfVisibleTickets);
			// the rules and history count them either way.
			e.do(e.admin, `mutation($id: ID!, $a: [ID!]) { assignTicket(id: $id, assigneeIDs: $a) { id } }`,
				map[string]any{"id": gid(w.a2.ID), "a": gids(both.ID)}).ok()
			e.do(bothTok, `mutation($id: ID!) { updateTicket(id: $id, input: {title: "by editor.ab"}) { id } }`, map[string]any{"id": gid(w.a2.ID)}).ok()
			e.do(e.admin, `mutation($id: ID!, $u: ID) { watchTicket(id: $id, userID: $u) { id } }`, map[string]any{"id": gid(w.a2.ID), "u": gid(both.ID)}).ok()
			e.do(w.viewerA, `mutation($id: ID!) { watchTicket(id: $id) { id } }`, map[string]any{"id": gid(w.a2.ID)}).ok()
			const people = `query($id: ID!) { node(id: $id) { ... on Ticket {
				assignees { login } watchers { user { login } } history(first: 50) { edges { node { kind actor { login } } } } } } }`
			// shown returns the assignees, the watchers and the actor of the
			// update editor.ab made, as viewer.a sees them.
			shown := func() (assignees, watchers []string, updater string) {
				var d struct {
					Node struct {
						Assignees []struct{ Login string }
						Watchers  []struct{ User struct{ Login string } }
						History   struct {
							Edges []struct {
								Node struct {
									Kind  string
									Actor *struct{ Login string }
								}
							}
						}
					}
				}
				e.do(w.viewerA, people, map[string]any{"id": gid(w.a2.ID)}).ok().into(&d)
				for _, a := range d.Node.Assignees {
					assignees = append(assignees, a.Login)
				}
				for _, w := range d.Node.Watchers {
					watchers = append(watchers, w.User.Login)
				}
				slices.Sort(watchers)
				for _, ed := range d.Node.History.Edges {
					if ed.Node.Kind == "UPDATED" && ed.Node.Actor != nil {
						updater = ed.Node.Actor.Login
					}
				}
				return
			}
			if a, ws, u := shown(); !slices.Equal(a, []string{"editor.ab"}) || !slices.Equal(ws, []string{"editor.ab", "viewer.a"}) || u != "editor.ab" {
				t.Fatalf("a shared-site assignee, watcher and actor: %v %v %q", a, ws, u)
			}
			e.client.User.UpdateOneID(both.ID).RemoveSiteIDs(w.siteA).ExecX(sys())
			if a, ws, u := shown(); !slices.Equal(a, []string{"editor.ab"}) || !slices.Equal(ws, []string{"editor.ab", "viewer.a"}) || u != "editor.ab" {
				t.Fatalf("the people of a2 after editor.ab left site A: %v %v %q", a, ws, u)
			}
			// ... and so listed: they take part in a ticket viewer.a sees.
			if got, _ := logins(w.viewerA); !slices.Equal(got, []string{"admin", "editor.a", "editor.ab", "noperm.a", "viewer.a"}) {
				t.Errorf("viewer of A after editor.ab left site A: users %v", got)
			}
			// Without TICKET_VIEW no ticket is seen, so neither are its people.
			if got, _ := logins(w.noPerm); !slices.Equal(got, []string{"admin", "editor.a", "noperm.a", "viewer.a"}) {
				t.Errorf("without permission after editor.ab left site A: users %v", got)
			}
			// editor.a replaces the assignee: the history still records who was.
			var a struct {
				AssignTicket struct {
					History struct {
						Edges []struct {
							Node struct {
								Changes []struct {
									Field    string
									From, To any
								}
							}
						}
					}
				}
			}
			ea := e.client.User.Query().Where(user.Login("editor.a")).OnlyX(sys())
			e.do(w.editorA, `mutation($id: ID!, $a: [ID!]) { assignTicket(id: $id, assigneeIDs: $a) { history(last: 1) { edges { node { changes { field from to } } } } } }`,
				map[string]any{"id": gid(w.a2.ID), "a": gids(ea.ID)}).ok().into(&a)
			chs := a.AssignTicket.History.Edges[0].Node.Changes
			if len(chs) == 0 || chs[0].Field != "assignees" || !equalJSON(chs[0].From, gids(both.ID)) || !equalJSON(chs[0].To, gids(ea.ID)) {
				t.Fatalf("reassigning a ticket whose assignee the editor cannot see: %+v", chs)
			}
		}
	})
}

// TestLiveLinkHidesOtherSite: the live stream shows a link's history entry
// as ticketHistory does: a viewer of site A hears that a1 was linked, not to
// which ticket of site B (issue 9, 1i).
func TestLiveLinkHidesOtherSite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newWorld(e)
		ws := e.dialWS(t, w.viewerA, nil)
		op := ws.subscribe(`subscription { ticketEvents { kind ticketId changes { field from to } event { changes { field from to } } } }`, nil)
		waitSubscribed(t, e, 1)
		e.do(e.admin, `mutation($f: ID!, $t: ID!) { linkTickets(fromID: $f, toID: $t, kind: RELATED) { id } }`,
			map[string]any{"f": gid(w.a1.ID), "t": gid(w.b1.ID)}).ok()
		m := ws.nextOf(op)
		var p struct {
			Data struct {
				TicketEvents struct {
					Kind, TicketID string
					Changes        []struct{ Field, From, To any }
					Event          struct {
						Changes []struct{ Field, From, To any }
					}
				}
			}
			Errors []gqlError
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
			t.Fatalf("event: %v %s", err, m.Payload)
		}
		c := p.Data.TicketEvents
		if c.Kind != "LINKED" || c.TicketID != gid(w.a1.ID) || len(c.Changes) != 1 || len(c.Event.Changes) != 1 {
			t.Fatalf("the link of a1: %s", m.Payload)
		}
		for _, ch := range []any{c.Changes[0].To, c.Event.Changes[0].To} {
			link, _ := ch.(map[string]any)
			if link == nil || link["kind"] != "RELATED" || link["ticket"] != nil {
				t.Fatalf("the live stream names the other site's ticket: %s", m.Payload)
			}
		}
	})
}

// TestPeopleOfVisibleTickets: the people of a ticket the viewer sees stay on
// it when they lose the viewer's site (issue 9, 1i: the user rule hid them,
// though the ticket and its filters still counted them). Each takes part in
// one way only, so that each clause of the rule is tried; a user who shares
// nothing with the viewer and takes part in nothing they see stays hidden.
func TestPeopleOfVisibleTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		aws, sg := e.site("AWS"), e.site("Singapore")
		cat := e.category("Alerts", category.WorkflowAPPROVAL)
		chenTok, _ := e.user("l.chen", user.RoleANALYST, view, sg)
		roles := []string{"assignee", "approver", "watcher", "registrant", "author", "uploader", "linker", "actor"}
		people, tokens := map[string]*ent.User{}, map[string]string{}
		for _, r := range roles {
			tokens[r], people[r] = e.user("p."+r, user.RoleANALYST, edit, aws, sg)
		}
		_, awsOnly := e.user("aws.only", user.RoleANALYST, edit, aws)
		mk := func(title string, site int) *ent.Ticket {
			return e.client.Ticket.Create().SetTitle(title).SetKind(ticket.KindANALYSIS).SetBody("b").
				SetCategoryID(cat).SetSiteID(site).SaveX(sys())
		}
		// What the API cannot do without also making the person an actor
		// (registering, writing a memo, linking) is written directly.
		tk := e.client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetBody("b").
			SetCategoryID(cat).SetSiteID(sg).SetRegisteredByID(people["registrant"].ID).SaveX(sys())
		other := mk("other", sg)
		e.client.Memo.Create().SetTicketID(tk.ID).SetBody("m").SetAuthorID(people["author"].ID).ExecX(sys())
		e.client.Attachment.Create().SetTicketID(tk.ID).SetFilename("f").SetSize(1).SetSha256("x").
			SetUploadedByID(people["uploader"].ID).ExecX(sys())
		e.client.TicketLink.Create().SetFromID(tk.ID).SetToID(other.ID).SetKind("RELATED").
			SetCreatedByID(people["linker"].ID).ExecX(sys())
		e.do(e.admin, `mutation($id: ID!, $a: [ID!], $p: [ID!]) { assignTicket(id: $id, assigneeIDs: $a, approverIDs: $p) { status } }`,
			map[string]any{"id": gid(tk.ID), "a": gids(people["assignee"].ID), "p": gids(people["approver"].ID)}).ok()
		e.do(e.admin, `mutation($id: ID!, $u: ID) { watchTicket(id: $id, userID: $u) { id } }`,
			map[string]any{"id": gid(tk.ID), "u": gid(people["watcher"].ID)}).ok()
		e.do(tokens["actor"], `mutation($id: ID!) { updateTicket(id: $id, input: {title: "by p.actor"}) { id } }`, map[string]any{"id": gid(tk.ID)}).ok()
		// aws.only takes part in an AWS ticket only.
		e.do(e.admin, `mutation($id: ID!, $a: [ID!]) { assignTicket(id: $id, assigneeIDs: $a) { id } }`,
			map[string]any{"id": gid(mk("aws", aws).ID), "a": gids(awsOnly.ID)}).ok()
		for _, p := range people {
			e.do(e.admin, `mutation($id: ID!, $s: [ID!]) { updateUser(id: $id, input: {removeSiteIDs: $s}) { id } }`,
				map[string]any{"id": gid(p.ID), "s": gids(sg)}).ok()
		}

		var d struct {
			Ticket struct {
				Status               string
				RegisteredBy         *struct{ Login string }
				Assignees, Approvers []struct{ Login string }
				Watchers             []struct{ User *struct{ Login string } }
				Attachments          []struct{ UploadedBy *struct{ Login string } }
				Links                []struct{ CreatedBy *struct{ Login string } }
				Memos, History       struct {
					Edges []struct {
						Node struct {
							Kind          string
							Author, Actor *struct{ Login string }
						}
					}
				}
			}
			Tickets struct{ TotalCount int }
		}
		e.do(chenTok, `query($n: Int!, $a: ID!) {
			ticket(number: $n) { status registeredBy { login } assignees { login } approvers { login }
				watchers { user { login } } attachments { uploadedBy { login } } links { createdBy { login } }
				memos(first: 10) { edges { node { author { login } } } }
				history(first: 50) { edges { node { kind actor { login } } } } }
			tickets(first: 1, filter: {assignees: [$a]}) { totalCount } }`,
			map[string]any{"n": tk.Number(), "a": gid(people["assignee"].ID)}).ok().into(&d)
		login := func(u *struct{ Login string }) string {
			if u == nil {
				return ""
			}
			return u.Login
		}
		got := map[string][]string{}
		tkd := d.Ticket
		got["registrant"] = []string{login(tkd.RegisteredBy)}
		for _, u := range tkd.Assignees {
			got["assignee"] = append(got["assignee"], u.Login)
		}
		for _, u := range tkd.Approvers {
			got["approver"] = append(got["approver"], u.Login)
		}
		for _, w := range tkd.Watchers {
			got["watcher"] = append(got["watcher"], login(w.User))
		}
		for _, a := range tkd.Attachments {
			got["uploader"] = append(got["uploader"], login(a.UploadedBy))
		}
		for _, l := range tkd.Links {
			got["linker"] = append(got["linker"], login(l.CreatedBy))
		}
		for _, m := range tkd.Memos.Edges {
			got["author"] = append(got["author"], login(m.Node.Author))
		}
		for _, h := range tkd.History.Edges {
			if h.Node.Kind == "UPDATED" {
				got["actor"] = append(got["actor"], login(h.Node.Actor))
			}
		}
		if tkd.Status != "ASSIGNED" || d.Tickets.TotalCount != 1 {
			t.Errorf("the ticket is %q, counted %d times for its assignee", tkd.Status, d.Tickets.TotalCount)
		}
		for _, r := range roles {
			if !slices.Equal(got[r], []string{"p." + r}) {
				t.Errorf("l.chen sees the ticket's %s as %q, want p.%s", r, got[r], r)
			}
		}

		// The users list and node agree: the people are seen, aws.only not.
		var u struct {
			Users struct {
				TotalCount int
				Edges      []struct{ Node struct{ Login string } }
			}
			Hidden, Shown *struct{ ID string }
		}
		r := e.do(chenTok, `query($h: ID!, $s: ID!) { users(first: 50) { totalCount edges { node { login } } } hidden: node(id: $h) { id } shown: node(id: $s) { id } }`,
			map[string]any{"h": gid(awsOnly.ID), "s": gid(people["actor"].ID)})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "NOT_FOUND" {
			t.Fatalf("aws.only by node: %+v", r.Errors)
		}
		r.into(&u)
		var logins []string
		for _, ed := range u.Users.Edges {
			logins = append(logins, ed.Node.Login)
		}
		want := []string{"admin", "l.chen"}
		for _, r := range roles {
			want = append(want, "p."+r)
		}
		slices.Sort(want)
		if !slices.Equal(logins, want) || u.Users.TotalCount != len(want) || u.Hidden != nil || u.Shown == nil {
			t.Errorf("l.chen's users %v (%d), aws.only %v, p.actor %v; want %v", logins, u.Users.TotalCount, u.Hidden, u.Shown, want)
		}
	})
}
