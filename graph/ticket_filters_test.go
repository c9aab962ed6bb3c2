package graph_test

// The ticket list's due-date filters and ordering, overdue and the
// registrant filter (issue 14, point 5), through the API on both databases.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
)

func TestTicketListDueAndRegistrant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("Due"), e.category("Due", category.WorkflowAPPROVAL)
		editor, ed := e.user("due.editor", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, site)
		now := time.Now().UTC().Truncate(time.Second)
		past, soon, later := now.Add(-48*time.Hour), now.Add(24*time.Hour), now.Add(72*time.Hour)
		// #0 past (admin), #1 undated (editor), #2 soon (editor), #3 past, closed (admin), #4 later (admin), #5 undated (admin)
		dues := []*time.Time{&past, nil, &soon, &past, &later, nil}
		var ids []string
		for i, due := range dues {
			in := analysis(site, cat)
			in["title"] = fmt.Sprint("due ", i)
			if due != nil {
				in["dueAt"] = due.Format(time.RFC3339)
			}
			token := e.admin
			if i == 1 || i == 2 {
				token = editor
			}
			var c struct{ CreateTicket struct{ ID string } }
			e.do(token, createMut, map[string]any{"in": in}).ok().into(&c)
			ids = append(ids, c.CreateTicket.ID)
		}
		e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: CLOSE) { status } }`, map[string]any{"id": ids[3]}).ok()

		list := func(filter map[string]any, order map[string]any, first int, after any) ([]string, any) {
			t.Helper()
			var r struct {
				Tickets struct {
					Edges []struct {
						Cursor string
						Node   struct{ ID string }
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
				}
			}
			vars := map[string]any{"f": filter, "first": first, "after": after}
			if order != nil {
				vars["o"] = order
			}
			e.do(e.admin, `query($f: TicketFilter, $o: TicketOrder = {field: CREATED_AT, direction: ASC}, $first: Int, $after: Cursor) {
				tickets(filter: $f, orderBy: $o, first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, vars).ok().into(&r)
			var out []string
			for _, ed := range r.Tickets.Edges {
				out = append(out, ids[slices.Index(ids, ed.Node.ID)])
			}
			var next any
			if r.Tickets.PageInfo.HasNextPage {
				next = *r.Tickets.PageInfo.EndCursor
			}
			return out, next
		}
		pick := func(is ...int) []string {
			out := []string{}
			for _, i := range is {
				out = append(out, ids[i])
			}
			return out
		}
		check := func(what string, filter map[string]any, want ...int) {
			t.Helper()
			got, _ := list(filter, nil, 100, nil)
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, pick(want...)) {
				t.Errorf("%s: got %v, want %v", what, got, pick(want...))
			}
		}
		check("dueFrom", map[string]any{"dueFrom": soon.Format(time.RFC3339)}, 2, 4)
		check("dueTo (exclusive)", map[string]any{"dueTo": soon.Format(time.RFC3339)}, 0, 3)
		check("dueFrom and dueTo", map[string]any{"dueFrom": past.Format(time.RFC3339), "dueTo": later.Format(time.RFC3339)}, 0, 2, 3)
		check("overdue", map[string]any{"overdue": true}, 0) // #3 is past due but closed
		check("not overdue", map[string]any{"overdue": false}, 1, 2, 3, 4, 5)
		check("registeredBy", map[string]any{"registeredBy": []string{gid(ed.ID)}}, 1, 2)
		check("registeredBy none", map[string]any{"registeredBy": []string{}})
		e.do(e.admin, `{ tickets(first: 1, filter: {dueFrom: "2026-02-01T00:00:00Z", dueTo: "2026-01-01T00:00:00Z"}) { totalCount } }`, nil).
			wantCode("BAD_USER_INPUT", "filter.dueTo")

		// By due date: dated ones first, undated last ascending (by id);
		// descending the reverse; paged two at a time.
		for _, c := range []struct {
			dir  string
			want []int
		}{{"ASC", []int{0, 3, 2, 4, 1, 5}}, {"DESC", []int{5, 1, 4, 2, 3, 0}}} {
			var got []string
			var after any
			for range 10 {
				page, next := list(nil, map[string]any{"field": "DUE_AT", "direction": c.dir}, 2, after)
				got = append(got, page...)
				if next == nil {
					break
				}
				after = next
			}
			if !slices.Equal(got, pick(c.want...)) {
				t.Errorf("DUE_AT %s: got %v, want %v", c.dir, got, pick(c.want...))
			}
		}
		// A cursor of another ordering is refused.
		_, createdCursor := list(nil, nil, 1, nil)
		e.do(e.admin, `query($a: Cursor) { tickets(first: 1, after: $a, orderBy: {field: DUE_AT, direction: ASC}) { totalCount } }`,
			map[string]any{"a": createdCursor}).wantCode("BAD_USER_INPUT", "after")
	})
}
