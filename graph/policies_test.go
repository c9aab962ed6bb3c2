package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/library"
)

const (
	policyFields      = `id name reference text`
	createPolicyMut   = `mutation($in: CreateCompliancePolicyInput!) { createCompliancePolicy(input: $in) { ` + policyFields + ` } }`
	updatePolicyMut   = `mutation($id: ID!, $in: UpdateCompliancePolicyInput!) { updateCompliancePolicy(id: $id, input: $in) { ` + policyFields + ` } }`
	deletePolicyMut   = `mutation($id: ID!) { deleteCompliancePolicy(id: $id) { deletedID } }`
	policiesQuery     = `query($f: CompliancePolicyFilter, $o: CompliancePolicyOrder, $n: Int, $after: Cursor) { policies(filter: $f, orderBy: $o, first: $n, after: $after) { totalCount edges { node { name reference } } pageInfo { hasNextPage endCursor } } }`
	citingQuery       = `query($id: ID!) { node(id: $id) { ... on CompliancePolicy { tickets(first: 10) { totalCount edges { node { id title } } } tasks(first: 10) { totalCount edges { node { id title } } } schedules(first: 10) { totalCount edges { node { name } } } } } }`
	createCitingMut   = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id policies { name } } }`
	updateCitingMut   = `mutation($id: ID!, $in: UpdateTicketInput!) { updateTicket(id: $id, input: $in) { id policies { name } } }`
	citingHistoryQury = `query($id: ID!) { node(id: $id) { ... on Ticket { history(first: 10) { edges { node { kind changes { field from to } } } } } } }`
)

type policyOut struct{ ID, Name, Reference, Text string }

func (e *env) createPolicy(name, reference string) policyOut {
	e.t.Helper()
	var out struct{ CreateCompliancePolicy policyOut }
	e.do(e.admin, createPolicyMut, map[string]any{"in": map[string]any{"name": name, "reference": reference, "text": "The statement of " + name}}).ok().into(&out)
	return out.CreateCompliancePolicy
}

// policiesSnapshot is the policies' rows as text, to tell nothing changed.
func (e *env) policiesSnapshot() string {
	var b strings.Builder
	for _, p := range e.client.CompliancePolicy.Query().Order(ent.Asc(compliancepolicy.FieldID)).AllX(sys()) {
		fmt.Fprintf(&b, "%d %q %q %q %s\n", p.ID, p.Name, p.Reference, p.Text, p.UpdatedAt)
	}
	return b.String()
}

// TestPoliciesCRUD: admins create, change, list and delete policies;
// others read them but are refused every change; bad input names its
// field and changes nothing; a cited policy is not deleted.
func TestPoliciesCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site := e.site("A")
		reader, _ := e.user("reader", user.RoleANALYST, view, site)
		editor, _ := e.user("editor", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, site)

		var c struct{ CreateCompliancePolicy policyOut }
		e.do(e.admin, createPolicyMut, map[string]any{"in": map[string]any{"name": "  Log review ", "reference": " PCI DSS 10.4.1 ", "text": "Review logs daily."}}).ok().into(&c)
		logReview := c.CreateCompliancePolicy
		if logReview.Name != "Log review" || logReview.Reference != "PCI DSS 10.4.1" || logReview.Text != "Review logs daily." {
			t.Fatalf("%+v", logReview)
		}
		access := e.createPolicy("Access review", "PCI DSS 7.2.4")
		e.createPolicy("User accounts", "FFIEC IS.B.33")
		e.createPolicy("Account management", "NIST SP 800-53 AC-2")

		var u struct{ UpdateCompliancePolicy policyOut }
		e.do(e.admin, updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"text": "Every six months."}}).ok().into(&u)
		if x := u.UpdateCompliancePolicy; x.Name != "Access review" || x.Reference != "PCI DSS 7.2.4" || x.Text != "Every six months." {
			t.Fatalf("%+v", x)
		}

		list := func(token string, vars map[string]any) []string {
			t.Helper()
			var out struct {
				Policies struct {
					TotalCount int
					Edges      []struct {
						Node struct{ Name, Reference string }
					}
				}
			}
			e.do(token, policiesQuery, vars).ok().into(&out)
			names := []string{}
			for _, ed := range out.Policies.Edges {
				names = append(names, ed.Node.Name)
			}
			if out.Policies.TotalCount != len(names) {
				t.Fatalf("totalCount %d, %d edges", out.Policies.TotalCount, len(names))
			}
			return names
		}
		for _, c := range []struct {
			vars map[string]any
			want []string
		}{
			{map[string]any{"n": 10}, []string{"Access review", "Account management", "Log review", "User accounts"}},
			{map[string]any{"n": 10, "o": map[string]any{"field": "REFERENCE", "direction": "DESC"}}, []string{"Access review", "Log review", "Account management", "User accounts"}}, // as text: 7 > 1
			{map[string]any{"n": 10, "f": map[string]any{"keyword": "SIX MONTHS"}}, []string{"Access review"}},
			{map[string]any{"n": 10, "f": map[string]any{"keyword": "account"}}, []string{"Account management", "User accounts"}},
			{map[string]any{"n": 10, "f": map[string]any{"reference": "pci dss"}}, []string{"Access review", "Log review"}},
			{map[string]any{"n": 10, "f": map[string]any{"reference": "DSS"}}, []string{}}, // a prefix, not anywhere
			{map[string]any{"n": 10, "f": map[string]any{"reference": "PCI DSS 10"}}, []string{"Log review"}},
		} {
			if got := list(reader, c.vars); !slices.Equal(got, c.want) {
				t.Errorf("%v: %q, want %q", c.vars, got, c.want)
			}
		}
		// Pages by reference, one at a time, follow the order.
		var paged []string
		for after, more := any(nil), true; more; {
			var out struct {
				Policies struct {
					Edges    []struct{ Node struct{ Name string } }
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			e.do(reader, policiesQuery, map[string]any{"n": 1, "after": after, "o": map[string]any{"field": "REFERENCE", "direction": "ASC"}}).ok().into(&out)
			for _, ed := range out.Policies.Edges {
				paged = append(paged, ed.Node.Name)
			}
			after, more = out.Policies.PageInfo.EndCursor, out.Policies.PageInfo.HasNextPage
		}
		if want := []string{"User accounts", "Account management", "Log review", "Access review"}; !slices.Equal(paged, want) {
			t.Errorf("paged by reference: %q, want %q", paged, want)
		}
		e.do(reader, policiesQuery, map[string]any{"n": 10, "f": map[string]any{"keyword": strings.Repeat("k", 201)}}).wantCode("BAD_USER_INPUT", "filter.keyword")

		// Others are refused every change, whatever their input.
		before := e.policiesSnapshot()
		for _, tok := range []string{reader, editor} {
			e.do(tok, createPolicyMut, map[string]any{"in": map[string]any{"name": "Mine"}}).wantCode("FORBIDDEN")
			e.do(tok, createPolicyMut, map[string]any{"in": map[string]any{"name": ""}}).wantCode("FORBIDDEN")
			e.do(tok, updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"name": "Mine"}}).wantCode("FORBIDDEN")
			e.do(tok, deletePolicyMut, map[string]any{"id": access.ID}).wantCode("FORBIDDEN")
		}
		// Bad input names its field.
		for _, c := range []struct {
			mut   string
			vars  map[string]any
			code  string
			field string
		}{
			{createPolicyMut, map[string]any{"in": map[string]any{"name": "  "}}, "BAD_USER_INPUT", "input.name"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": strings.Repeat("é", 201)}}, "BAD_USER_INPUT", "input.name"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": "a\x00b"}}, "BAD_USER_INPUT", "input.name"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": "New", "reference": strings.Repeat("r", 101)}}, "BAD_USER_INPUT", "input.reference"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": "New", "text": strings.Repeat("t", 20001)}}, "BAD_USER_INPUT", "input.text"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": "New", "text": "x\x00"}}, "BAD_USER_INPUT", "input.text"},
			{createPolicyMut, map[string]any{"in": map[string]any{"name": " Log review"}}, "CONFLICT", "input.name"},
			{updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"name": "Log review"}}, "CONFLICT", "input.name"},
			{updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"name": ""}}, "BAD_USER_INPUT", "input.name"},
			{updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"reference": "r\x00"}}, "BAD_USER_INPUT", "input.reference"},
			{updatePolicyMut, map[string]any{"id": gid(1 << 30), "in": map[string]any{"name": "X"}}, "NOT_FOUND", "id"},
			{deletePolicyMut, map[string]any{"id": gid(1 << 30)}, "NOT_FOUND", "id"},
		} {
			e.do(e.admin, c.mut, c.vars).wantCode(c.code, c.field)
		}
		if after := e.policiesSnapshot(); after != before {
			t.Fatalf("refused changes changed the policies:\n%s\nthen\n%s", before, after)
		}
		// A policy keeping its own name is no conflict.
		e.do(e.admin, updatePolicyMut, map[string]any{"id": access.ID, "in": map[string]any{"name": "Access review"}}).ok()

		// A cited policy stays; the error names what cites it.
		cat := e.category("Reviews", category.WorkflowAPPROVAL)
		var tk struct{ CreateTicket struct{ ID string } }
		e.do(e.admin, createCitingMut, map[string]any{"in": map[string]any{"kind": "ANALYSIS", "title": "Q3 access review", "body": "b",
			"categoryID": gid(cat), "siteID": gid(site), "policyIDs": []string{access.ID}}}).ok().into(&tk)
		r := e.do(e.admin, deletePolicyMut, map[string]any{"id": access.ID})
		r.wantCode("CONFLICT", "id")
		tid := e.client.Ticket.Query().OnlyIDX(sys())
		if msg := r.Errors[0].Message; !strings.Contains(msg, fmt.Sprintf("1 ticket(s) (#%d)", ent.TicketNumber(tid))) || !strings.Contains(msg, "Access review") {
			t.Fatalf("the refusal does not name the citing ticket: %s", msg)
		}
		e.do(e.admin, updateCitingMut, map[string]any{"id": tk.CreateTicket.ID, "in": map[string]any{"policyIDs": []string{}}}).ok()
		e.do(e.admin, deletePolicyMut, map[string]any{"id": access.ID}).ok()
		if got := list(reader, map[string]any{"n": 10}); !slices.Equal(got, []string{"Account management", "Log review", "User accounts"}) {
			t.Fatalf("after the deletion: %q", got)
		}
	})
}

// TestCitedPoliciesAreNotDeleted: deleteCompliancePolicy refuses a policy a
// ticket, a task or a schedule cites (CONFLICT, naming it) and changes
// nothing; so does the database to plain SQL, whose foreign keys restrict
// instead of dropping the citations; an uncited policy goes both ways, and a
// deleted ticket still takes its citations with it.
func TestCitedPoliciesAreNotDeleted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		site := e.site("A")
		cat, taskCat := e.category("Reviews", category.WorkflowAPPROVAL), e.category("Tasks", category.WorkflowTASK)
		byTicket, byTask, bySchedule := e.createPolicy("Log review", "PCI DSS 10.4.1"), e.createPolicy("Access review", "PCI DSS 7.2.4"),
			e.createPolicy("Change review", "PCI DSS 6.5.1")
		var tk struct{ CreateTicket struct{ ID string } }
		e.do(e.admin, createCitingMut, map[string]any{"in": map[string]any{"kind": "ANALYSIS", "title": "Q3 log review", "body": "b",
			"categoryID": gid(cat), "siteID": gid(site), "policyIDs": []string{byTicket.ID}}}).ok().into(&tk)
		task := e.client.Ticket.Create().SetKind(ticket.KindTASK).SetTitle("Q3 access review").SetCategoryID(taskCat).SetSiteID(site).
			SetStatus(ticket.StatusOPEN).AddPolicyIDs(decodeID(t, byTask.ID)).SaveX(sys())
		e.client.TaskSchedule.Create().SetName("Weekly change review").SetSiteID(site).
			SetRecurrence("FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0").SetStartsAt(time.Now()).
			AddPolicyIDs(decodeID(t, bySchedule.ID)).SaveX(sys())
		citations := func() string {
			t.Helper()
			var b strings.Builder
			for _, q := range []string{
				`SELECT ticket_id, compliance_policy_id FROM ticket_citations ORDER BY 1, 2`,
				`SELECT task_schedule_id, compliance_policy_id FROM task_schedule_policies ORDER BY 1, 2`,
			} {
				rows, err := e.st.DB.QueryContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var a, p int
					if err := rows.Scan(&a, &p); err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&b, "%d %d\n", a, p)
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
				b.WriteString("--\n")
			}
			return b.String()
		}
		before, cites := e.policiesSnapshot(), citations()
		if strings.Count(cites, "\n") != 5 {
			t.Fatalf("citations:\n%s", cites)
		}
		for _, c := range []struct {
			p     policyOut
			named string
		}{
			{byTicket, fmt.Sprintf("1 ticket(s) (#%d)", ent.TicketNumber(decodeID(t, tk.CreateTicket.ID)))},
			{byTask, fmt.Sprintf("1 task(s) (#%d)", ent.TicketNumber(task.ID))},
			{bySchedule, `1 task schedule(s) ("Weekly change review")`},
		} {
			r := e.do(e.admin, deletePolicyMut, map[string]any{"id": c.p.ID})
			r.wantCode("CONFLICT", "id")
			if msg := r.Errors[0].Message; !strings.Contains(msg, c.named) || !strings.Contains(msg, c.p.Name) {
				t.Errorf("the refusal does not name %s: %s", c.named, msg)
			}
			if _, err := e.st.DB.ExecContext(ctx, `DELETE FROM compliance_policies WHERE id = `+fmt.Sprint(decodeID(t, c.p.ID))); err == nil {
				t.Errorf("plain SQL deleted the policy %q, cited by %s", c.p.Name, c.named)
			}
		}
		if after := e.policiesSnapshot(); after != before {
			t.Errorf("refused deletions changed the policies:\n%s\nthen\n%s", before, after)
		}
		if after := citations(); after != cites {
			t.Errorf("refused deletions changed the citations:\n%s\nthen\n%s", cites, after)
		}

		// Uncited, a policy goes, by the API and by SQL.
		spare, spareToo := e.createPolicy("Spare", ""), e.createPolicy("Spare too", "")
		e.do(e.admin, deletePolicyMut, map[string]any{"id": spare.ID}).ok()
		if _, err := e.st.DB.ExecContext(ctx, `DELETE FROM compliance_policies WHERE id = `+fmt.Sprint(decodeID(t, spareToo.ID))); err != nil {
			t.Errorf("plain SQL refused to delete an uncited policy: %v", err)
		}
		// A deleted ticket's citations go with it; then its policy may go.
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": tk.CreateTicket.ID}).ok()
		e.do(e.admin, deletePolicyMut, map[string]any{"id": byTicket.ID}).ok()
		if n := e.client.CompliancePolicy.Query().CountX(sys()); n != 2 {
			t.Errorf("%d policies left, want 2", n)
		}
	})
}

type citingOut struct {
	Node struct {
		Tickets, Tasks struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID, Title string } }
		}
		Schedules struct {
			TotalCount int
			Edges      []struct{ Node struct{ Name string } }
		}
	}
}

func titles(c struct {
	TotalCount int
	Edges      []struct{ Node struct{ ID, Title string } }
}) []string {
	out := []string{}
	for _, e := range c.Edges {
		out = append(out, e.Node.Title)
	}
	slices.Sort(out)
	return out
}

// TestTicketsCitePolicies: a ticket cites policies when created and
// changed, each recorded in its history; the ticket filter selects by
// policy; what cites a policy (tickets, tasks, schedules) keeps to the
// viewer's sites, one statement a page.
func TestTicketsCitePolicies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		siteA, siteB := e.site("A"), e.site("B")
		viewerA, _ := e.user("viewer-a", user.RoleANALYST, view, siteA)
		cat := e.category("Reviews", category.WorkflowAPPROVAL)
		logs, access := e.createPolicy("Log review", "PCI DSS 10.4.1"), e.createPolicy("Access review", "PCI DSS 7.2.4")
		newTicket := func(title string, site int, policies ...string) string {
			t.Helper()
			var out struct {
				CreateTicket struct {
					ID       string
					Policies []struct{ Name string }
				}
			}
			e.do(e.admin, createCitingMut, map[string]any{"in": map[string]any{"kind": "ANALYSIS", "title": title, "body": "b",
				"categoryID": gid(cat), "siteID": gid(site), "policyIDs": policies}}).ok().into(&out)
			if len(out.CreateTicket.Policies) != len(slices.Compact(slices.Sorted(slices.Values(policies)))) {
				t.Fatalf("%s cites %+v", title, out.CreateTicket.Policies)
			}
			return out.CreateTicket.ID
		}
		a1 := newTicket("A logs", siteA, logs.ID, logs.ID) // a repeat is one citation
		newTicket("A both", siteA, logs.ID, access.ID)
		newTicket("B logs", siteB, logs.ID)
		newTicket("A none", siteA)

		history := func(id string) []map[string]any {
			t.Helper()
			var out struct {
				Node struct {
					History struct {
						Edges []struct {
							Node struct {
								Kind    string
								Changes []map[string]any
							}
						}
					}
				}
			}
			e.do(e.admin, citingHistoryQury, map[string]any{"id": id}).ok().into(&out)
			var changes []map[string]any
			for _, ed := range out.Node.History.Edges {
				for _, ch := range ed.Node.Changes {
					if ch["field"] == "policies" {
						ch["kind"] = ed.Node.Kind
						changes = append(changes, ch)
					}
				}
			}
			return changes
		}
		if h := history(a1); len(h) != 1 || h[0]["kind"] != "CREATED" || !equalJSON(h[0]["to"], []string{logs.ID}) {
			t.Fatalf("creation recorded as %+v", h)
		}
		var up struct {
			UpdateTicket struct{ Policies []struct{ Name string } }
		}
		e.do(e.admin, updateCitingMut, map[string]any{"id": a1, "in": map[string]any{"policyIDs": []string{access.ID}}}).ok().into(&up)
		if len(up.UpdateTicket.Policies) != 1 || up.UpdateTicket.Policies[0].Name != "Access review" {
			t.Fatalf("%+v", up)
		}
		e.do(e.admin, updateCitingMut, map[string]any{"id": a1, "in": map[string]any{"policyIDs": []string{access.ID}}}).ok() // no change, no entry
		h := history(a1)
		if len(h) != 2 || h[1]["kind"] != "UPDATED" || !equalJSON(h[1]["from"], []string{logs.ID}) || !equalJSON(h[1]["to"], []string{access.ID}) {
			t.Fatalf("the change recorded as %+v", h)
		}
		// An unknown policy is refused, naming the field, changing nothing.
		e.do(e.admin, updateCitingMut, map[string]any{"id": a1, "in": map[string]any{"policyIDs": []string{gid(1 << 30)}}}).wantCode("BAD_USER_INPUT", "input.policyIDs")
		e.do(e.admin, createCitingMut, map[string]any{"in": map[string]any{"kind": "ANALYSIS", "title": "x", "body": "b",
			"categoryID": gid(cat), "siteID": gid(siteA), "policyIDs": []string{gid(1 << 30)}}}).wantCode("BAD_USER_INPUT", "input.policyIDs")
		if n := e.client.Ticket.Query().CountX(sys()); n != 4 {
			t.Fatalf("%d tickets", n)
		}
		if len(history(a1)) != 2 {
			t.Fatal("a refused change was recorded")
		}

		// The ticket filter by policy, under the site rule.
		filtered := func(token string, ids ...string) []string {
			t.Helper()
			var out struct {
				Tickets struct {
					Edges []struct{ Node struct{ Title string } }
				}
			}
			e.do(token, `query($f: TicketFilter) { tickets(filter: $f, first: 50) { edges { node { title } } } }`,
				map[string]any{"f": map[string]any{"policies": ids}}).ok().into(&out)
			got := []string{}
			for _, ed := range out.Tickets.Edges {
				got = append(got, ed.Node.Title)
			}
			slices.Sort(got)
			return got
		}
		for _, c := range []struct {
			token string
			ids   []string
			want  []string
		}{
			{e.admin, []string{logs.ID}, []string{"A both", "B logs"}},
			{e.admin, []string{access.ID}, []string{"A both", "A logs"}},
			{e.admin, []string{logs.ID, access.ID}, []string{"A both", "A logs", "B logs"}},
			{e.admin, []string{}, []string{}},
			{viewerA, []string{logs.ID}, []string{"A both"}},
		} {
			if got := filtered(c.token, c.ids...); !slices.Equal(got, c.want) {
				t.Errorf("policies %v: %q, want %q", c.ids, got, c.want)
			}
		}

		// Tasks and schedules citing the policy, in both sites.
		taskCat := e.category("Tasks", category.WorkflowTASK)
		for _, s := range []struct {
			site int
			name string
		}{{siteA, "A"}, {siteB, "B"}} {
			e.client.Ticket.Create().SetKind(ticket.KindTASK).SetTitle(s.name + " task").SetCategoryID(taskCat).SetSiteID(s.site).
				SetStatus(ticket.StatusOPEN).AddPolicyIDs(decodeID(t, logs.ID)).SaveX(sys())
			e.client.TaskSchedule.Create().SetName(s.name + " weekly log review").SetSiteID(s.site).
				SetRecurrence("FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0").SetStartsAt(time.Now()).
				AddPolicyIDs(decodeID(t, logs.ID)).SaveX(sys())
		}
		citing := func(token string) citingOut {
			t.Helper()
			var out citingOut
			e.do(token, citingQuery, map[string]any{"id": logs.ID}).ok().into(&out)
			return out
		}
		all := citing(e.admin)
		if got := titles(all.Node.Tickets); !slices.Equal(got, []string{"A both", "B logs"}) || all.Node.Tickets.TotalCount != 2 {
			t.Errorf("the admin sees the citing tickets %q", got)
		}
		if got := titles(all.Node.Tasks); !slices.Equal(got, []string{"A task", "B task"}) {
			t.Errorf("the admin sees the citing tasks %q", got)
		}
		if all.Node.Schedules.TotalCount != 2 || all.Node.Schedules.Edges[0].Node.Name != "A weekly log review" {
			t.Errorf("the admin sees the citing schedules %+v", all.Node.Schedules)
		}
		a := citing(viewerA)
		if got := titles(a.Node.Tickets); !slices.Equal(got, []string{"A both"}) || a.Node.Tickets.TotalCount != 1 {
			t.Errorf("a viewer of site A sees the citing tickets %q (%d)", got, a.Node.Tickets.TotalCount)
		}
		if got := titles(a.Node.Tasks); !slices.Equal(got, []string{"A task"}) || a.Node.Tasks.TotalCount != 1 {
			t.Errorf("a viewer of site A sees the citing tasks %q", got)
		}
		if a.Node.Schedules.TotalCount != 1 || len(a.Node.Schedules.Edges) != 1 || a.Node.Schedules.Edges[0].Node.Name != "A weekly log review" {
			t.Errorf("a viewer of site A sees the citing schedules %+v", a.Node.Schedules)
		}

		// One statement a page: the policies' page, then one per connection
		// of each policy, whatever the number of tickets on it.
		count := func(q string) int {
			n := e.statementCount()
			e.do(viewerA, q, nil).ok()
			return len(e.statementsSince(n))
		}
		base := count(`{ policies(first: 10) { edges { node { id } } } }`)
		with := count(`{ policies(first: 10) { edges { node { id tickets(first: 10) { edges { node { id title site { name } } } } } } } }`)
		t.Logf("%d statements for the citing tickets of two policies", with-base)
		if with-base > 2*2 { // two policies: a page of tickets and its sites' eager load each
			t.Errorf("%d statements for the citing tickets of two policies, want at most 4", with-base)
		}
	})
}

func decodeID(t *testing.T, id string) int {
	t.Helper()
	n, err := scalar.DecodeID(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLibrarySchedulesQuery: any viewer lists the library, filtered by
// keyword and family, with its version; without a token, nothing.
func TestLibrarySchedulesQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		reader, _ := e.user("reader", user.RoleANALYST, nil)
		type entry struct {
			ID, Family, Name, Description, Recurrence, RecurrenceText, Query string
			DueInDays                                                        int
			Tags, Policies                                                   []string
		}
		var out struct {
			All            []entry `json:"all"`
			Firewall       []entry `json:"firewall"`
			Kerberos       []entry `json:"kerberos"`
			LibraryVersion string
		}
		e.do(reader, `{ all: librarySchedules { id family name description recurrence recurrenceText dueInDays tags policies query }
  firewall: librarySchedules(family: "FIREWALL") { id family }
  kerberos: librarySchedules(keyword: "kerberos") { id }
  libraryVersion }`, nil).ok().into(&out)
		if len(out.All) != len(library.All()) || out.LibraryVersion != library.Version() {
			t.Fatalf("%d entries, version %q", len(out.All), out.LibraryVersion)
		}
		first, _ := library.Get(out.All[0].ID)
		if g := out.All[0]; g.Name != first.Name || g.Recurrence != first.Recurrence || g.DueInDays != first.DueInDays || g.Query != first.Query ||
			!slices.Equal(g.Tags, first.Tags) || !slices.Equal(g.Policies, first.Policies) {
			t.Fatalf("%+v, want %+v", g, first)
		}
		if len(out.Firewall) == 0 || slices.ContainsFunc(out.Firewall, func(x entry) bool { return x.Family != "Firewall" }) {
			t.Fatalf("family filter: %+v", out.Firewall)
		}
		if len(out.Kerberos) != 1 || out.Kerberos[0].ID != "kerberos-authentication-anomalies" {
			t.Fatalf("keyword filter: %+v", out.Kerberos)
		}
		e.do(reader, `query($k: String) { librarySchedules(keyword: $k) { id } }`, map[string]any{"k": strings.Repeat("k", 201)}).wantCode("BAD_USER_INPUT", "keyword")
		if r := e.do("", `{ libraryVersion }`, nil); r.Status != 401 {
			t.Fatalf("without a token: %d %+v", r.Status, r.Errors)
		}
	})
}

// TestTicketEventsFilterByPolicy: a live subscriber filtering by policy
// gets the change that makes a ticket cite it and the one that stops it
// (the hub judges both sides: it loads the citations and undoes their
// change), and nothing of tickets that cite it neither before nor after.
func TestTicketEventsFilterByPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		logs, access := e.createPolicy("Log review", "PCI DSS 10.4.1"), e.createPolicy("Access review", "PCI DSS 7.2.4")
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, map[string]any{"f": map[string]any{"policies": []string{logs.ID}}})
		all := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 2)
		cite := func(id string, policies ...string) {
			t.Helper()
			e.do(e.admin, updateCitingMut, map[string]any{"id": id, "in": map[string]any{"policyIDs": policies}}).ok()
			if c := ws.change(all); c.Kind != "UPDATED" {
				t.Fatalf("%+v", c)
			}
		}
		id := e.liveCreate(e.admin, f.site, f.cat, "Weekly review")
		if c := ws.change(all); c.Kind != "CREATED" {
			t.Fatalf("%+v", c)
		}
		cite(id, access.ID) // cites another policy: not news to op
		cite(id, access.ID, logs.ID)
		if c := ws.change(op); c.Kind != "UPDATED" || c.TicketID != id || len(c.Changes) != 1 || c.Changes[0].Field != "policies" {
			t.Fatalf("citing the policy: %+v", c)
		}
		e.liveRename(e.admin, id, "Weekly review, renamed")
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("%+v", c)
		}
		if c := ws.change(op); c.Kind != "UPDATED" || c.Ticket.Title != "Weekly review, renamed" {
			t.Fatalf("a change of a citing ticket: %+v", c)
		}
		cite(id, access.ID) // stops citing it: news (it leaves the list)
		if c := ws.change(op); c.Kind != "UPDATED" || c.TicketID != id || c.Changes[0].Field != "policies" {
			t.Fatalf("no longer citing the policy: %+v", c)
		}
		e.liveRename(e.admin, id, "Weekly review, again")
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("%+v", c)
		}
		ws.quiet(300 * time.Millisecond) // nothing more on op
	})
}
