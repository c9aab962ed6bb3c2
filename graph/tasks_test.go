package graph_test

// Tests of compliance tasks (issue 13, point 1) through the real handler on
// both databases: who may create, edit and work a task; closing,
// invalidating and reopening with the resolution; memos; the list with its
// filters and due-date order; the trend that tasks leave alone; and that no
// path deletes a task, the data layer's included.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/tickets"
	"socdesk/internal/trend"
)

const taskFields = `id title kind status origin body bodyFormat resolution dueAt overdue version
	owner { id } category { name workflow } watchers { user { id } notify } tags { id }`

type taskOut struct {
	ID         string  `json:"id"`
	Title      string  `json:"title"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	Origin     string  `json:"origin"`
	Body       string  `json:"body"`
	BodyFormat string  `json:"bodyFormat"`
	Resolution *string `json:"resolution"`
	DueAt      *string `json:"dueAt"`
	Overdue    bool    `json:"overdue"`
	Version    int     `json:"version"`
	Owner      *struct {
		ID string `json:"id"`
	} `json:"owner"`
	Category struct {
		Name     string `json:"name"`
		Workflow string `json:"workflow"`
	} `json:"category"`
	Watchers []struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Notify string `json:"notify"`
	} `json:"watchers"`
}

type taskFix struct {
	e                     *env
	site, other           int
	editor, owner, viewer wfUser
	outsider              wfUser
	adminID               int
}

func taskSetup(t *testing.T, e *env) *taskFix {
	t.Helper()
	f := &taskFix{e: e, site: e.site("HQ"), other: e.site("Branch")}
	mk := func(name string, perms []schematype.Permission, site int) wfUser {
		tok, u := e.user("task."+name, user.RoleANALYST, perms, site)
		return wfUser{name: name, login: u.Login, token: tok, id: u.ID}
	}
	f.editor = mk("editor", edit, f.site)
	f.owner = mk("owner", view, f.site)
	f.viewer = mk("viewer", view, f.site)
	f.outsider = mk("outsider", edit, f.other)
	f.adminID = e.client.User.Query().Where(user.Login("admin")).OnlyX(sys()).ID
	return f
}

func (f *taskFix) create(token string, in map[string]any) *result {
	if _, ok := in["siteID"]; !ok {
		in["siteID"] = gid(f.site)
	}
	return f.e.do(token, `mutation($in: CreateTaskInput!) { createTask(input: $in) { `+taskFields+` } }`, map[string]any{"in": in})
}

func (f *taskFix) made(t *testing.T, token string, in map[string]any) taskOut {
	t.Helper()
	var out struct {
		CreateTask taskOut `json:"createTask"`
	}
	f.create(token, in).ok().into(&out)
	return out.CreateTask
}

func (f *taskFix) act(token, op, id string, arg string) *result {
	switch op {
	case "close":
		return f.e.do(token, `mutation($id: ID!, $n: String!) { closeTask(id: $id, note: $n) { `+taskFields+` } }`, map[string]any{"id": id, "n": arg})
	case "invalidate":
		return f.e.do(token, `mutation($id: ID!, $n: String!) { invalidateTask(id: $id, reason: $n) { `+taskFields+` } }`, map[string]any{"id": id, "n": arg})
	}
	return f.e.do(token, `mutation($id: ID!) { reopenTask(id: $id) { `+taskFields+` } }`, map[string]any{"id": id})
}

func (f *taskFix) task(t *testing.T, token, id string) taskOut {
	t.Helper()
	var out struct {
		Node *taskOut `json:"node"`
	}
	f.e.do(token, `query($id: ID!) { node(id: $id) { ... on Ticket { `+taskFields+` } } }`, map[string]any{"id": id}).ok().into(&out)
	if out.Node == nil {
		return taskOut{}
	}
	return *out.Node
}

// TestTaskLifecycle: editors create tasks (in the default task category,
// OPEN, owned by their assignee); the owner, with TICKET_VIEW only, closes
// it with the findings, reopens it and invalidates it with a reason, and
// adds memos, but edits nothing else; viewers read; other sites see
// nothing; every step is in the history.
func TestTaskLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := taskSetup(t, e)
		due := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		tk := f.made(t, f.editor.token, map[string]any{"title": "Review new accounts", "description": "Look at **4720**",
			"ownerID": gid(f.owner.id), "dueAt": due.Format(time.RFC3339),
			"watchers": []map[string]any{{"userID": gid(f.viewer.id), "notify": "OPEN_CLOSE"}}})
		if tk.Kind != "TASK" || tk.Status != "OPEN" || tk.Origin != "USER" || tk.BodyFormat != "MARKDOWN" || tk.Body != "Look at **4720**" ||
			tk.Owner == nil || tk.Owner.ID != gid(f.owner.id) || tk.Category.Workflow != "TASK" || tk.Overdue ||
			len(tk.Watchers) != 1 || tk.Watchers[0].Notify != "OPEN_CLOSE" {
			t.Fatalf("created %+v", tk)
		}
		// Who may create: not a viewer, not on another site.
		f.create(f.viewer.token, map[string]any{"title": "x"}).wantCode("FORBIDDEN")
		f.create(f.outsider.token, map[string]any{"title": "x"}).wantCode("BAD_USER_INPUT", "input.siteID")
		f.create(f.editor.token, map[string]any{"title": "x", "categoryID": gid(e.category("Ops", category.WorkflowAPPROVAL))}).wantCode("BAD_USER_INPUT", "input.categoryID")
		f.create(f.editor.token, map[string]any{"title": "x", "ownerID": gid(f.outsider.id)}).wantCode("BAD_USER_INPUT", "input.ownerID")
		f.create(f.editor.token, map[string]any{"title": "x", "tagIDs": []string{gid(1 << 30)}}).wantCode("BAD_USER_INPUT", "input.tagIDs")
		f.create(f.editor.token, map[string]any{"title": "x", "watchers": []map[string]any{{"userID": gid(f.outsider.id)}}}).wantCode("BAD_USER_INPUT", "input.watchers")
		// Tasks are not made through createTicket.
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "TASK", "title": "t", "categoryID": gid(e.client.Category.Query().Where(category.WorkflowEQ(category.WorkflowTASK)).OnlyIDX(sys())), "siteID": gid(f.site)}}).
			wantCode("BAD_USER_INPUT")

		// A task has one owner and no approvers, and is not edited as a ticket.
		const assign = `mutation($id: ID!, $a: [ID!], $p: [ID!]) { assignTicket(id: $id, assigneeIDs: $a, approverIDs: $p) { id } }`
		e.do(f.editor.token, assign, map[string]any{"id": tk.ID, "a": []string{gid(f.owner.id), gid(f.editor.id)}}).wantCode("BAD_USER_INPUT", "assigneeIDs")
		e.do(f.editor.token, assign, map[string]any{"id": tk.ID, "p": []string{gid(f.editor.id)}}).wantCode("BAD_USER_INPUT", "approverIDs")
		var bulk struct {
			BulkUpdateTickets struct {
				Failed  int
				Results []struct{ Error *struct{ Code, Field string } }
			}
		}
		e.do(f.editor.token, `mutation($ids: [ID!]!, $a: [ID!]) { bulkUpdateTickets(ids: $ids, change: {assigneeIDs: $a}) { failed results { error { code field } } } }`,
			map[string]any{"ids": []string{tk.ID}, "a": []string{gid(f.owner.id), gid(f.editor.id)}}).ok().into(&bulk)
		if b := bulk.BulkUpdateTickets; b.Failed != 1 || b.Results[0].Error == nil || b.Results[0].Error.Code != "BAD_USER_INPUT" {
			t.Fatalf("bulk assignment of two owners: %+v", b)
		}
		e.do(f.editor.token, `mutation($id: ID!) { updateTicket(id: $id, input: {incident: true}) { id } }`, map[string]any{"id": tk.ID}).wantCode("BAD_USER_INPUT", "id")
		if got := e.client.Ticket.GetX(sys(), decodeID(t, tk.ID)); got.Incident || got.Version != tk.Version || len(got.QueryAssignees().IDsX(sys())) != 1 {
			t.Fatalf("refused changes changed the task: %+v", got)
		}
		e.do(f.editor.token, assign, map[string]any{"id": tk.ID, "a": []string{gid(f.editor.id)}}).ok()
		e.do(f.editor.token, assign, map[string]any{"id": tk.ID, "a": []string{gid(f.owner.id)}}).ok()
		tk = f.task(t, f.editor.token, tk.ID)

		// The owner may not edit; an editor may, with the version.
		upd := `mutation($id: ID!, $in: UpdateTaskInput!, $v: Int) { updateTask(id: $id, input: $in, expectedVersion: $v) { ` + taskFields + ` } }`
		e.do(f.owner.token, upd, map[string]any{"id": tk.ID, "in": map[string]any{"title": "mine"}}).wantCode("FORBIDDEN")
		e.do(f.editor.token, upd, map[string]any{"id": tk.ID, "in": map[string]any{"title": "stale"}, "v": tk.Version + 5}).wantCode("CONFLICT")
		var u struct {
			UpdateTask taskOut `json:"updateTask"`
		}
		e.do(f.editor.token, upd, map[string]any{"id": tk.ID, "in": map[string]any{"title": "Review new accounts (Dec)", "tagIDs": []string{gid(e.tag("sox"))}}, "v": tk.Version}).ok().into(&u)
		if u.UpdateTask.Title != "Review new accounts (Dec)" || u.UpdateTask.Version != tk.Version+1 {
			t.Fatalf("updated %+v", u.UpdateTask)
		}

		// The viewer reads it but may not close it; the outsider does not see it.
		if got := f.task(t, f.viewer.token, tk.ID); got.ID != tk.ID {
			t.Fatalf("the viewer reads %+v", got)
		}
		f.act(f.viewer.token, "close", tk.ID, "done").wantCode("FORBIDDEN")
		f.act(f.outsider.token, "close", tk.ID, "done").wantCode("NOT_FOUND")
		// Closing needs the findings.
		f.act(f.owner.token, "close", tk.ID, "  ").wantCode("BAD_USER_INPUT", "note")
		var c struct {
			CloseTask taskOut `json:"closeTask"`
		}
		f.act(f.owner.token, "close", tk.ID, "3 accounts, all approved").ok().into(&c)
		if c.CloseTask.Status != "CLOSED" || c.CloseTask.Resolution == nil || *c.CloseTask.Resolution != "3 accounts, all approved" {
			t.Fatalf("closed %+v", c.CloseTask)
		}
		f.act(f.owner.token, "invalidate", tk.ID, "wrong").wantCode("INVALID_TRANSITION")
		var r struct {
			ReopenTask taskOut `json:"reopenTask"`
		}
		f.act(f.owner.token, "reopen", tk.ID, "").ok().into(&r)
		if r.ReopenTask.Status != "OPEN" || r.ReopenTask.Resolution != nil {
			t.Fatalf("reopened %+v", r.ReopenTask)
		}
		var iv struct {
			InvalidateTask taskOut `json:"invalidateTask"`
		}
		f.act(f.owner.token, "invalidate", tk.ID, "duplicate of last week's").ok().into(&iv)
		if iv.InvalidateTask.Status != "INVALID" || *iv.InvalidateTask.Resolution != "duplicate of last week's" {
			t.Fatalf("invalidated %+v", iv.InvalidateTask)
		}
		// The generic transition knows INVALIDATE too; memos work on tasks.
		e.do(f.owner.token, `mutation($id: ID!) { addMemo(ticketID: $id, body: "evidence attached") { id } }`, map[string]any{"id": tk.ID}).ok()
		e.do(f.viewer.token, `mutation($id: ID!) { addMemo(ticketID: $id, body: "me too") { id } }`, map[string]any{"id": tk.ID}).wantCode("FORBIDDEN")

		id := e.client.Ticket.Query().Where(ticket.KindEQ(ticket.KindTASK)).FirstIDX(sys())
		var kinds []ticketevent.Kind
		var resolutions []string
		for _, ev := range e.client.TicketEvent.Query().Where(ticketevent.TicketID(id)).Order(ticketevent.ByID()).AllX(sys()) {
			kinds = append(kinds, ev.Kind)
			for _, ch := range ev.Changes {
				if ch.Field == schematype.ChangeResolution {
					resolutions = append(resolutions, fmt.Sprint(ch.From, "→", ch.To))
				}
			}
		}
		wantKinds := []ticketevent.Kind{ticketevent.KindCREATED, ticketevent.KindASSIGNED, ticketevent.KindASSIGNED, ticketevent.KindUPDATED, ticketevent.KindTRANSITIONED,
			ticketevent.KindTRANSITIONED, ticketevent.KindTRANSITIONED, ticketevent.KindMEMO_ADDED}
		if !slices.Equal(kinds, wantKinds) {
			t.Errorf("history %v, want %v", kinds, wantKinds)
		}
		wantRes := []string{"<nil>→3 accounts, all approved", "3 accounts, all approved→<nil>", "<nil>→duplicate of last week's"}
		if !slices.Equal(resolutions, wantRes) {
			t.Errorf("resolutions %q, want %q", resolutions, wantRes)
		}
		// The CREATED entry names the watchers as the API does.
		var hist struct {
			Node struct {
				History struct {
					Edges []struct {
						Node struct {
							Kind    string
							Changes []struct {
								Field string
								To    json.RawMessage
							}
						}
					}
				}
			}
		}
		e.do(f.viewer.token, `query($id: ID!) { node(id: $id) { ... on Ticket { history(first: 1) { edges { node { kind changes { field to } } } } } } }`,
			map[string]any{"id": tk.ID}).ok().into(&hist)
		watchers := ""
		for _, ch := range hist.Node.History.Edges[0].Node.Changes {
			if ch.Field == "watchers" {
				watchers = string(ch.To)
			}
		}
		if want := `[{"notify":"OPEN_CLOSE","user":"` + gid(f.viewer.id) + `"}]`; watchers != want {
			t.Errorf("CREATED watchers %s, want %s", watchers, want)
		}
		// The tickets list leaves tasks out.
		var list struct {
			Tickets struct {
				TotalCount int `json:"totalCount"`
			} `json:"tickets"`
		}
		e.do(e.admin, `{ tickets(first: 10) { totalCount } }`, nil).ok().into(&list)
		if list.Tickets.TotalCount != 0 {
			t.Errorf("the tickets list counts %d tasks", list.Tickets.TotalCount)
		}
	})
}

// TestTasksAreNeverDeleted: deleteTicket refuses a task to an admin and
// changes nothing; at the data layer, ent's deletions (one, and in bulk) in
// the system context match no task, and plain SQL is refused by the trigger;
// nor can its site or category be deleted from under it, nor can it stop
// being a task first (then be deleted as a ticket), nor a ticket become one.
func TestTasksAreNeverDeleted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := taskSetup(t, e)
		tk := f.made(t, e.admin, map[string]any{"title": "Quarterly firewall review"})
		res := e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": tk.ID})
		res.wantCode("FORBIDDEN")
		if res.Errors[0].Message != "tasks are never deleted" {
			t.Errorf("message %q", res.Errors[0].Message)
		}
		id := e.client.Ticket.Query().Where(ticket.KindEQ(ticket.KindTASK)).OnlyIDX(sys())
		events := e.client.TicketEvent.Query().CountX(sys())
		ctx := sys()
		if err := e.client.Ticket.DeleteOneID(id).Exec(ctx); err == nil {
			t.Error("DeleteOneID of a task succeeded")
		}
		if n, err := e.client.Ticket.Delete().Exec(ctx); err == nil {
			t.Errorf("bulk delete: %d deleted, refused by nothing", n)
		}
		// With a viewer, the policy makes a deletion match no task.
		if n, err := e.client.Ticket.Delete().Where(ticket.ID(id)).Exec(e.viewerContext(t, "admin")); err != nil || n != 0 {
			t.Errorf("an admin's bulk delete: %d deleted, %v", n, err)
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `DELETE FROM tickets WHERE id = `+fmt.Sprint(id)); err == nil {
			t.Error("plain SQL deleted a task")
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `DELETE FROM tickets`); err == nil {
			t.Error("plain SQL deleted every ticket")
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `DELETE FROM sites WHERE id = `+fmt.Sprint(f.site)); err == nil {
			t.Error("the task's site was deleted")
		}
		cat := e.client.Ticket.Query().Where(ticket.ID(id)).OnlyX(sys()).CategoryID
		if _, err := e.st.DB.ExecContext(context.Background(), `DELETE FROM categories WHERE id = `+fmt.Sprint(cat)); err == nil {
			t.Error("the task's category was deleted")
		}
		if n := e.client.TicketEvent.Query().CountX(sys()); n != events {
			t.Errorf("history %d entries after the refused deletions, was %d", n, events)
		}
		other := e.client.Ticket.Create().SetKind(ticket.KindANALYSIS).SetTitle("not a task").SetBody("b").
			SetCategoryID(e.category("Alerts", category.WorkflowAPPROVAL)).SetSiteID(f.site).SaveX(sys())
		events = e.client.TicketEvent.Query().CountX(sys())
		// The kind is fixed where a task is concerned: a task never stops
		// being one (then to be deleted as a ticket), a ticket never
		// becomes one (off the TASK workflow); other columns still change.
		for _, k := range []ticket.Kind{ticket.KindANALYSIS, ticket.KindDETECTION} {
			if _, err := e.st.DB.ExecContext(context.Background(), `UPDATE tickets SET kind = '`+k.String()+`' WHERE id = `+fmt.Sprint(id)); err == nil {
				t.Errorf("plain SQL made a task a %s", k)
			}
			if _, err := e.st.DB.ExecContext(context.Background(), `DELETE FROM tickets WHERE id = `+fmt.Sprint(id)); err == nil {
				t.Fatalf("plain SQL deleted a task by making it a %s first", k)
			}
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `UPDATE tickets SET kind = 'ANALYSIS', title = 'no task' WHERE kind = 'TASK'`); err == nil {
			t.Error("plain SQL made every task a ticket")
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `UPDATE tickets SET kind = 'TASK', title = 'Quarterly firewall review (SQL)' WHERE id = `+fmt.Sprint(id)); err != nil {
			t.Errorf("a task's title, its kind kept, refused: %v", err)
		}
		if _, err := e.st.DB.ExecContext(context.Background(), `UPDATE tickets SET kind = 'TASK' WHERE id = `+fmt.Sprint(other.ID)); err == nil {
			t.Error("plain SQL made a ticket a task")
		}
		if got := e.client.Ticket.Query().Where(ticket.ID(other.ID)).OnlyX(sys()).Kind; got != ticket.KindANALYSIS {
			t.Errorf("the ticket is a %s now", got)
		}
		if got := e.client.Ticket.Query().Where(ticket.ID(id)).OnlyX(sys()); got.Kind != ticket.KindTASK || got.Title != "Quarterly firewall review (SQL)" {
			t.Errorf("the task is a %s titled %q", got.Kind, got.Title)
		}
		if n := e.client.Ticket.Query().Where(ticket.ID(id)).CountX(sys()); n != 1 {
			t.Fatal("the task is gone")
		}
		if n := e.client.TicketEvent.Query().CountX(sys()); n != events {
			t.Errorf("history %d entries, was %d", n, events)
		}
	})
}

// TestTaskList: the filters (state, owner, watcher, due range, overdue,
// tags, site, keyword) and the due-date order, tasks without a due date
// last, paged both ways with stable cursors.
func TestTaskList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := taskSetup(t, e)
		now := time.Now().UTC().Truncate(time.Second)
		at := func(h int) string { return now.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		sox := e.tag("sox")
		pci := e.createPolicy("Log review", "PCI DSS 10.4.1")
		var ids []string
		for i, in := range []map[string]any{
			{"title": "a past due", "dueAt": at(-2), "ownerID": gid(f.owner.id)},
			{"title": "b no due"},
			{"title": "c due later", "dueAt": at(5), "tagIDs": []string{gid(sox)}, "watchers": []map[string]any{{"userID": gid(f.viewer.id)}}},
			{"title": "d past due closed", "dueAt": at(-1)},
			{"title": "e due later too", "dueAt": at(5), "policyIDs": []string{pci.ID}},
			{"title": "f no due either"},
		} {
			ids = append(ids, f.made(t, f.editor.token, in).ID)
			_ = i
		}
		f.act(f.editor.token, "close", ids[3], "done").ok()
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "a ticket, no task", "body": "b", "categoryID": gid(e.category("Alerts", category.WorkflowAPPROVAL)), "siteID": gid(f.site)}}).ok()

		list := func(token string, filter map[string]any, order map[string]any, first int) []string {
			t.Helper()
			var out struct {
				Tasks struct {
					Edges []struct {
						Node struct {
							ID string `json:"id"`
						} `json:"node"`
					} `json:"edges"`
				} `json:"tasks"`
			}
			e.do(token, `query($f: TaskFilter, $o: TaskOrder, $n: Int) { tasks(filter: $f, orderBy: $o, first: $n) { edges { node { id } } } }`,
				map[string]any{"f": filter, "o": order, "n": first}).ok().into(&out)
			var got []string
			for _, ed := range out.Tasks.Edges {
				got = append(got, ed.Node.ID)
			}
			return got
		}
		pick := func(i ...int) []string {
			var out []string
			for _, x := range i {
				out = append(out, ids[x])
			}
			return out
		}
		for name, c := range map[string]struct {
			filter map[string]any
			want   []string
		}{
			"all by due":    {nil, pick(0, 3, 2, 4, 1, 5)},
			"open":          {map[string]any{"states": []string{"OPEN"}}, pick(0, 2, 4, 1, 5)},
			"closed":        {map[string]any{"states": []string{"CLOSED"}}, pick(3)},
			"owner":         {map[string]any{"owners": []string{gid(f.owner.id)}}, pick(0)},
			"watcher":       {map[string]any{"watchers": []string{gid(f.viewer.id)}}, pick(2)},
			"overdue":       {map[string]any{"overdue": true}, pick(0)},
			"not overdue":   {map[string]any{"overdue": false}, pick(3, 2, 4, 1, 5)},
			"due range":     {map[string]any{"dueFrom": at(-1), "dueTo": at(6)}, pick(3, 2, 4)},
			"tag":           {map[string]any{"tags": []string{gid(sox)}}, pick(2)},
			"policy":        {map[string]any{"policies": []string{pci.ID}}, pick(4)},
			"site":          {map[string]any{"sites": []string{gid(f.other)}}, nil},
			"keyword":       {map[string]any{"keyword": "DUE LATER"}, pick(2, 4)},
			"overdue+owner": {map[string]any{"overdue": true, "owners": []string{gid(f.viewer.id)}}, nil},
		} {
			if got := list(f.viewer.token, c.filter, nil, 50); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", name, got, c.want)
			}
		}
		if got := list(f.viewer.token, nil, map[string]any{"field": "DUE_AT", "direction": "DESC"}, 50); !slices.Equal(got, pick(5, 1, 4, 2, 3, 0)) {
			t.Errorf("by due, descending: %v", got)
		}
		// A bad filter is named as the task filter names it.
		many := make([]string, 101)
		for i := range many {
			many[i] = gid(i + 1)
		}
		for field, filter := range map[string]map[string]any{
			"filter.owners": {"owners": many}, "filter.states": {"states": slices.Repeat([]string{"OPEN"}, 101)}, "filter.dueTo": {"dueFrom": at(2), "dueTo": at(1)},
		} {
			e.do(f.viewer.token, `query($f: TaskFilter) { tasks(filter: $f, first: 5) { totalCount } }`, map[string]any{"f": filter}).wantCode("BAD_USER_INPUT", field)
		}
		if got := list(f.outsider.token, nil, nil, 50); len(got) != 0 {
			t.Errorf("another site's editor lists %v", got)
		}
		// Pages of two, forward then backward, across the undated tail.
		page := `query($a: Cursor, $b: Cursor, $f: Int, $l: Int) { tasks(after: $a, before: $b, first: $f, last: $l) {
			edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }`
		type pageOut struct {
			Tasks struct {
				Edges []struct {
					Cursor string `json:"cursor"`
					Node   struct {
						ID string `json:"id"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo struct {
					HasNextPage     bool    `json:"hasNextPage"`
					HasPreviousPage bool    `json:"hasPreviousPage"`
					EndCursor       *string `json:"endCursor"`
					StartCursor     *string `json:"startCursor"`
				} `json:"pageInfo"`
			} `json:"tasks"`
		}
		var walked []string
		var cursor any
		for range 4 {
			var p pageOut
			e.do(f.viewer.token, page, map[string]any{"a": cursor, "f": 2}).ok().into(&p)
			for _, ed := range p.Tasks.Edges {
				walked = append(walked, ed.Node.ID)
			}
			if !p.Tasks.PageInfo.HasNextPage {
				break
			}
			cursor = *p.Tasks.PageInfo.EndCursor
		}
		if !slices.Equal(walked, pick(0, 3, 2, 4, 1, 5)) {
			t.Errorf("forward pages %v", walked)
		}
		var back []string
		cursor = nil
		for range 4 {
			var p pageOut
			e.do(f.viewer.token, page, map[string]any{"b": cursor, "l": 2}).ok().into(&p)
			var ids []string
			for _, ed := range p.Tasks.Edges {
				ids = append(ids, ed.Node.ID)
			}
			back = append(ids, back...)
			if !p.Tasks.PageInfo.HasPreviousPage {
				break
			}
			cursor = *p.Tasks.PageInfo.StartCursor
		}
		if !slices.Equal(back, pick(0, 3, 2, 4, 1, 5)) {
			t.Errorf("backward pages %v", back)
		}
	})
}

// TestTasksLeaveTheTrend: creating, closing and reopening tasks changes no
// number of the trend, from the rollups (no filter) or computed (a filter).
func TestTasksLeaveTheTrend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := taskSetup(t, e)
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "a ticket", "body": "b", "categoryID": gid(e.category("Alerts", category.WorkflowAPPROVAL)), "siteID": gid(f.site)}}).ok()
		day := time.Now().UTC()
		series := func() string {
			var out []string
			for _, fl := range []*tickets.Filter{nil, {Sites: []int{f.site}, Keyword: new("a")}} {
				s, err := trend.Compute(sys(), e.client, fl, day.AddDate(0, 0, -1), day, "UTC")
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%+v", s.Days))
			}
			return fmt.Sprint(out)
		}
		before := series()
		tk := f.made(t, e.admin, map[string]any{"title": "a task"})
		f.act(e.admin, "close", tk.ID, "done").ok()
		f.act(e.admin, "reopen", tk.ID, "").ok()
		f.act(e.admin, "invalidate", tk.ID, "no").ok()
		if after := series(); after != before {
			t.Errorf("the trend moved with tasks:\nbefore %s\nafter  %s", before, after)
		}
		if n := e.client.StatusDay.Query().CountX(sys()); n == 0 {
			t.Error("no rollups at all: the test shows nothing")
		}
	})
}

const taskChangeQuery = `subscription($f: TaskFilter, $after: String) {
  taskEvents(filter: $f, after: $after) {
    cursor kind ticketId ticketNumber previousStatus at inView event { id }
    actor { login }
    changes { field from to }
    ticket { id number title status category { name } }
  }
}`

// taskChange reads the next taskEvents event of operation id.
func taskChange(t *testing.T, ws *wsConn, id string) change {
	t.Helper()
	m := ws.nextOf(id)
	var p struct {
		Data struct {
			TaskEvents change `json:"taskEvents"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
		t.Fatalf("want a taskEvents event, got %s %s", m.Type, m.Payload)
	}
	return p.Data.TaskEvents
}

// TestTaskEvents: taskEvents streams the tasks' changes alone (matching its
// filter, the owner and overdue rows included), ticketEvents the tickets'
// alone; a stream resumed from a cursor replays what it missed, then goes
// on live.
func TestTaskEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := taskSetup(t, e)
		cat := e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		tasksWS := e.dialWS(t, f.viewer.token, nil)
		op := tasksWS.subscribe(taskChangeQuery, map[string]any{"f": map[string]any{"owners": []string{gid(f.owner.id)}, "overdue": false}})
		ticketsWS := e.dialWS(t, e.admin, nil)
		top := ticketsWS.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 2)

		f.made(t, f.editor.token, map[string]any{"title": "someone else's"})
		ticketID := e.liveCreate(e.admin, f.site, cat, "a ticket")
		tk := f.made(t, f.editor.token, map[string]any{"title": "mine", "ownerID": gid(f.owner.id)})
		c := taskChange(t, tasksWS, op)
		if c.Kind != "CREATED" || c.Ticket == nil || c.Ticket.ID != tk.ID || c.Ticket.Status != "OPEN" {
			t.Fatalf("task CREATED: %+v", c)
		}
		if c := ticketsWS.change(top); c.Kind != "CREATED" || c.TicketID != ticketID {
			t.Fatalf("ticketEvents: %+v", c)
		}
		f.act(f.owner.token, "close", tk.ID, "all fine").ok()
		closed := taskChange(t, tasksWS, op)
		if closed.Kind != "TRANSITIONED" || closed.Ticket.Status != "CLOSED" || closed.PreviousStatus == nil || *closed.PreviousStatus != "OPEN" {
			t.Fatalf("task closed: %+v", closed)
		}
		tasksWS.c.Close()
		f.act(f.owner.token, "reopen", tk.ID, "").ok() // while it is away
		f.act(f.owner.token, "invalidate", tk.ID, "not ours").ok()

		tasksWS = e.dialWS(t, f.viewer.token, nil)
		op = tasksWS.subscribe(taskChangeQuery, map[string]any{"f": map[string]any{"owners": []string{gid(f.owner.id)}}, "after": closed.Cursor})
		for _, want := range []string{"OPEN", "INVALID"} {
			// A replayed change carries the ticket as it is now: its own status is in its changes.
			if c := taskChange(t, tasksWS, op); c.Kind != "TRANSITIONED" || len(c.Changes) == 0 || c.Changes[0].Field != "status" || c.Changes[0].To != want {
				t.Fatalf("replayed %+v, want %s", c, want)
			}
		}
		waitSubscribed(t, e, 2)
		f.act(f.owner.token, "reopen", tk.ID, "").ok()
		if c := taskChange(t, tasksWS, op); c.Kind != "TRANSITIONED" || c.Ticket.Status != "OPEN" {
			t.Fatalf("live after the replay: %+v", c)
		}
		tasksWS.quiet(200 * time.Millisecond)
		ticketsWS.quiet(200 * time.Millisecond) // no task reached ticketEvents

		// A bad filter is refused, named as the task filter names it.
		tasksWS = e.dialWS(t, f.viewer.token, nil)
		bad := tasksWS.subscribe(taskChangeQuery, map[string]any{"f": map[string]any{"states": slices.Repeat([]string{"OPEN"}, 101)}})
		m := tasksWS.nextOf(bad)
		var res struct {
			Errors []gqlError `json:"errors"`
		}
		_ = json.Unmarshal(m.Payload, &res)
		if errs := res.Errors; m.Type != "next" || len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || errs[0].Extensions["field"] != "filter.states" {
			t.Fatalf("a bad taskEvents filter: %s %s", m.Type, m.Payload)
		}
	})
}

// TestTaskWatchersHearOpenAndClose: through the delivery engine, a task's
// ALL watchers hear of every change, its OPEN_CLOSE watchers of its
// creation, its closing, its reopening and its invalidation only.
func TestTaskWatchersHearOpenAndClose(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			site := e.site("HQ")
			edTok, ed := e.mailUser("ed", edit, site)
			ownTok, own := e.mailUser("own", view, site)
			_, wAll := e.mailUser("wall", view, site)
			_, wOC := e.mailUser("woc", view, site)
			seen := 0
			step := func(what string, want ...*ent.User) {
				t.Helper()
				e.settle()
				all := smtp.Messages()
				got := all[seen:]
				seen = len(all)
				w := logins(want...)
				slices.Sort(w)
				if g := mailedLogins(got); !slices.Equal(g, w) {
					t.Fatalf("%s: mails to %v, want %v", what, g, w)
				}
			}
			f := &taskFix{e: e, site: site}
			tk := f.made(t, edTok, map[string]any{"title": "Weekly failed logons", "ownerID": gid(own.ID),
				"watchers": []map[string]any{{"userID": gid(wAll.ID), "notify": "ALL"}, {"userID": gid(wOC.ID), "notify": "OPEN_CLOSE"}}})
			step("created", own, wAll, wOC)
			e.do(edTok, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Weekly failed logons (wk 49)"}) { id } }`, map[string]any{"id": tk.ID}).ok()
			step("renamed", wAll) // the audience table: an assignee hears of no edit
			f.act(ownTok, "close", tk.ID, "12 failures, one user, reset").ok()
			step("closed", ed, wAll, wOC) // and the one who made it
			f.act(ownTok, "reopen", tk.ID, "").ok()
			step("reopened", ed, wAll, wOC)
			f.act(ownTok, "invalidate", tk.ID, "the wrong week").ok()
			step("invalidated", ed, wAll, wOC)
		})
	}
}
