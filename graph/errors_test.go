package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/ticket"
	"socdesk/internal/reqlog"
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
			// graphql-transport-ws: an error ends the operation; nothing follows it.
			if m, err := ws.read(300 * time.Millisecond); err == nil {
				t.Fatalf("%s over websocket, after the error: %s %s %s", q, m.Type, m.ID, m.Payload)
			}
			// The connection stays usable.
			ws.subscribe(`subscription{ticketEvents{cursor}}`, nil)
			ws.quiet(100 * time.Millisecond)
		}
		// A single-field subscription over plain HTTP is refused at once
		// (it used to hold the request until the first event).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql",
			strings.NewReader(`{"query":"subscription{ticketEvents{cursor}}"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.admin)
		if r := e.send(req); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("a subscription over POST: %d %+v", r.Status, r.Errors)
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

// TestNULCharactersAreRefused: a string argument holding U+0000, literal or
// in a variable, is BAD_USER_INPUT naming the argument on both databases
// (PostgreSQL cannot store it, SQLite stored and matched it), and nothing is
// written (issue 9, 1g).
func TestNULCharactersAreRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowINCIDENT_RESPONSE)
		const create = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`
		in := func(title string) map[string]any {
			return map[string]any{"kind": "ANALYSIS", "title": title, "body": "b", "siteID": gid(site), "categoryID": gid(cat)}
		}
		var tk struct{ CreateTicket struct{ ID string } }
		e.do(e.admin, create, map[string]any{"in": in("a")}).ok().into(&tk)
		e.do(e.admin, create, map[string]any{"in": in("a\x00b")}).wantCode("BAD_USER_INPUT", "input.title")
		e.do(e.admin, `mutation($id: ID!, $b: String) { updateTicket(id: $id, input: {body: $b}) { id } }`,
			map[string]any{"id": tk.CreateTicket.ID, "b": "x\x00"}).wantCode("BAD_USER_INPUT", "input.body")
		e.do(e.admin, `mutation($id: ID!) { addMemo(ticketID: $id, body: "memo \u0000") { id } }`,
			map[string]any{"id": tk.CreateTicket.ID}).wantCode("BAD_USER_INPUT", "body")
		det := in("Detection")
		det["kind"], det["body"] = "DETECTION", nil
		det["detection"] = map[string]any{"template": "ENDPOINT", "host": "pc\x00"}
		e.do(e.admin, create, map[string]any{"in": det}).wantCode("BAD_USER_INPUT", "input.detection.host")
		det["detection"] = map[string]any{"template": "ENDPOINT", "host": "pc", "customFields": []map[string]any{{"key": "k", "value": "\x00"}}}
		e.do(e.admin, create, map[string]any{"in": det}).wantCode("BAD_USER_INPUT", "input.detection.customFields.value")
		e.do(e.admin, `mutation { createTag(input: {name: "t\u0000"}) { id } }`, nil).wantCode("BAD_USER_INPUT", "input.name")
		e.do(e.admin, `mutation($n: String!) { createSite(input: {name: $n}) { id } }`, map[string]any{"n": "\x00"}).wantCode("BAD_USER_INPUT", "input.name")
		e.do(e.admin, `query($k: String) { tickets(first: 5, filter: {keyword: $k}) { totalCount } }`,
			map[string]any{"k": "a\x00b"}).wantCode("BAD_USER_INPUT", "filter.keyword")
		e.do(e.admin, `query F($k: String) { viewer { login } ...Q } fragment Q on Query { ... on Query { ticketTrend(filter: {statuses: [NEW], keyword: $k}, from: "2026-01-01", to: "2026-01-02") { statuses } } }`,
			map[string]any{"k": "\x00"}).wantCode("BAD_USER_INPUT", "filter.keyword")
		if n := e.client.Ticket.Query().CountX(sys()); n != 1 {
			t.Fatalf("%d tickets, want 1", n)
		}
		if n := e.client.Memo.Query().CountX(sys()) + e.client.Tag.Query().CountX(sys()); n != 0 {
			t.Fatalf("%d memos and tags written", n)
		}
		// Over websocket, the ticketEvents argument.
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(`subscription($f: TicketFilter) { ticketEvents(filter: $f) { cursor } }`, map[string]any{"f": map[string]any{"keyword": "\x00"}})
		m := ws.next()
		var errs []gqlError
		_ = json.Unmarshal(m.Payload, &errs)
		if m.Type != "error" || m.ID != op || len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || errs[0].Extensions["field"] != "filter.keyword" {
			t.Fatalf("ticketEvents: %s %s", m.Type, m.Payload)
		}
		// A NUL-free keyword still works.
		e.do(e.admin, `{ tickets(first: 5, filter: {keyword: "a"}) { totalCount } }`, nil).ok()
	})
}

// TestClientGoneIsNotAnInternalError: a client that goes away mid-request
// is no error of the server's: nothing is logged at ERROR, nor as an
// "internal error" (issue 9, 1l).
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.do(e.admin, `{ viewer { login } }`, nil).ok() // the viewer is cached
		e.logs.reset()
		started := e.faults.armHang("socdesk/graph.(*queryResolver).Tickets")
		defer e.faults.disarm()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql",
			strings.NewReader(`{"query":"{ tickets(first: 5) { edges { node { number } } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.admin)
		done := make(chan error, 1)
		go func() {
			resp, err := e.srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the list query never ran")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("the client's request ended with %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.logs.String(), `msg=request `) { // the access log line: the handler is done
			if time.Now().After(deadline) {
				t.Fatalf("the request never ended:\n%s", e.logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		logged := e.logs.String()
		if strings.Contains(logged, "level=ERROR") || strings.Contains(logged, "internal error") ||
			!strings.Contains(logged, "client went away") {
			t.Fatalf("logged:\n%s", logged)
		}
	})
}

// TestLogLinesCapClientValues: what a client sends (its user agent, its
// operation's name and text, input an error quotes) is logged at most
// reqlog.MaxValue bytes a value (issue 9, 1h).
func TestLogLinesCapClientValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.do(e.admin, `{ viewer { login } }`, nil).ok()
		long := strings.Repeat("x", 50_000)
		tk := e.client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetBody("b").
			SetCategoryID(e.category("c", category.WorkflowAPPROVAL)).SetSiteID(e.site("s")).SaveX(sys())
		memo := `{ addMemo(ticketID: "` + gid(tk.ID) + `", body: "` + long + `") { id } }`
		// A database error quoting the client's input, as PostgreSQL's do.
		e.faults.arm("socdesk/internal/authz.")
		defer e.faults.disarm()
		e.logs.reset()
		body, _ := json.Marshal(map[string]any{"operationName": "Op" + long,
			"query": "query Op" + long + ` { viewer { login } } mutation M` + long + memo})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("User-Agent", "agent"+long)
		e.send(req).ok()
		body, _ = json.Marshal(map[string]any{"query": "mutation M" + long + memo})
		req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.admin)
		e.send(req)
		logged := e.logs.String()
		for _, want := range []string{`user_agent="agentxxx`, "(50005 bytes)", `operation="Opxxx`, "(50002 bytes)",
			`msg="internal error"`, `operation="Mxxx`, `query="mutation Mxxx`} {
			if !strings.Contains(logged, want) {
				t.Errorf("the log has no %q", want)
			}
		}
		for _, line := range strings.Split(logged, "\n") {
			if len(line) > 4*reqlog.MaxValue+500 {
				t.Fatalf("a log line of %d bytes: %.300s…", len(line), line)
			}
		}
	})
}
