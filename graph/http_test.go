package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/version"
)

func TestGraphQLOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		get := func(query string, accept string) *result {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(query), nil)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Accept", accept)
			return e.send(req)
		}
		r := get(`{ viewer { login } }`, "application/graphql-response+json")
		if r.ok(); r.ContentType != "application/graphql-response+json" {
			t.Fatalf("content type %q", r.ContentType)
		}
		if r := get(`{ viewer { login } }`, "application/json"); r.ContentType != "application/json" || r.Status != 200 {
			t.Fatalf("application/json: %d %q", r.Status, r.ContentType)
		}
		// Mutations are not allowed over GET: 405 with Allow: POST.
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(`mutation { createTag(input: {name: "x"}) { id } }`), nil)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("GET mutation: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		if e.client.Tag.Query().CountX(sys()) != 0 {
			t.Fatal("a GET mutation ran")
		}
		// Request errors answer 400 under application/graphql-response+json.
		if r := e.do(e.admin, `{ viewer { login `, nil); r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("syntax error: %d %+v", r.Status, r.Errors)
		}
		if r := e.do(e.admin, `{ nope }`, nil); r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("validation error: %d %+v", r.Status, r.Errors)
		}
		// ... and 200 under application/json, which has no other way to say it.
		req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ nope }"}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if r := e.send(req); r.Status != http.StatusOK || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("validation error under application/json: %d %+v", r.Status, r.Errors)
		}
		// Other methods and media types.
		req, _ = http.NewRequest(http.MethodPut, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err = e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("PUT: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "text/plain")
		if r := e.send(req); r.Status != http.StatusUnsupportedMediaType {
			t.Fatalf("text/plain: %d", r.Status)
		}
	})
}

func TestLimits(t *testing.T) {
	e := newEnv(t, "sqlite3")
	for _, c := range []struct {
		name, query, field string
	}{
		{"connection without first", `{ tickets { totalCount } }`, "tickets"},
		{"page over 100", `{ tickets(first: 101) { totalCount } }`, "tickets"},
		{"nested connection without first", `{ tickets(first: 5) { edges { node { memos { totalCount } } } } }`, "tickets.edges.node.memos"},
		{"users without first", `{ users { totalCount } }`, "users"},
	} {
		r := e.do(e.admin, c.query, nil)
		if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
			t.Errorf("%s: %d %+v", c.name, r.Status, r.Errors)
		}
	}
	deep := `{ tickets(first: 1) { edges { node { memos(first: 1) { edges { node { ticket { memos(first: 1) { edges { node { ticket { site { name } } } } } } } } } } } } }`
	if r := e.do(e.admin, deep, nil); r.Status != http.StatusBadRequest || !strings.Contains(r.Errors[0].Message, "depth") {
		t.Errorf("deep query: %d %+v", r.Status, r.Errors)
	}
	costly := `{ tickets(first: 100) { edges { node { memos(first: 100) { edges { node { id body } } } } } } }`
	if r := e.do(e.admin, costly, nil); r.Status != http.StatusBadRequest || r.Errors[0].Extensions["limit"] == nil {
		t.Errorf("costly query: %d %+v", r.Status, r.Errors)
	}
	if r := e.do(e.admin, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": make([]string, 101)}); r.code() != "BAD_USER_INPUT" {
		t.Errorf("101 nodes: %+v", r.Errors)
	}
	// Too many tokens are refused before parsing completes.
	long := "{ viewer { " + strings.Repeat("login ", 20000) + "} }"
	if r := e.do(e.admin, long, nil); r.Status != http.StatusBadRequest || !strings.Contains(r.Errors[0].Message, "token") {
		t.Errorf("token flood: %d %+v", r.Status, r.Errors)
	}
	// A body over the limit: 413 before anything is read into memory.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(make([]byte, 2<<20)))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	if r := e.send(req); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d", r.Status)
	}
	// The same without a declared length (chunked).
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", io.MultiReader(strings.NewReader(`{"query":"`), bytes.NewReader(bytes.Repeat([]byte("a"), 2<<20))))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	if r := e.send(req); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("large chunked body: %d", r.Status)
	}
	// Many top-level fields, and counts, are bounded too.
	many := "{" + strings.Repeat(" categories { name }", 21) + " }"
	if r := e.do(e.admin, many, nil); r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" {
		t.Errorf("21 top-level fields: %d %+v", r.Status, r.Errors)
	}
	counts := "{"
	for i := range 21 {
		counts += fmt.Sprintf(" c%d: tickets(first: 0) { totalCount }", i)
	}
	if r := e.do(e.admin, counts+" }", nil); r.Status != http.StatusBadRequest {
		t.Errorf("21 totalCounts: %d %+v", r.Status, r.Errors)
	}
}

func TestProbes(t *testing.T) {
	e := newEnv(t, "sqlite3")
	for _, p := range []string{"/healthz", "/readyz", "/"} {
		resp, err := e.srv.Client().Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	e.st.DB.Close()
	resp, err := e.srv.Client().Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz without a database: %d", resp.StatusCode)
	}
}

// TestTicketPageQueryCount: a page of tickets with every edge the list shows
// costs the same small number of SQL statements whatever its size (no N+1).
func TestTicketPageQueryCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		tok, _ := e.user("viewer", user.RoleANALYST, view, site)
		var people, tags []int
		for i := range 5 {
			_, u := e.user(fmt.Sprintf("u%d", i), user.RoleANALYST, nil, site)
			people = append(people, u.ID)
			tags = append(tags, e.tag(fmt.Sprintf("t%d", i)))
		}
		var bulk []*ent.TicketCreate
		for i := range 60 {
			bulk = append(bulk, e.client.Ticket.Create().SetTitle(fmt.Sprintf("t%d", i)).SetKind(ticket.KindANALYSIS).
				SetCategoryID(cat).SetSiteID(site).SetRegisteredByID(people[i%5]).
				AddAssigneeIDs(people[i%5], people[(i+1)%5]).AddApproverIDs(people[(i+2)%5]).AddTagIDs(tags[i%5], tags[(i+3)%5]))
		}
		e.client.Ticket.CreateBulk(bulk...).ExecX(sys())

		const q = `query($n: Int!) { tickets(first: $n, orderBy: {field: CREATED_AT, direction: DESC}) {
			edges { cursor node { id number title status priority createdAt
				category { name } site { name } assignees { login } approvers { login } tags { name color } registeredBy { login }
				availableActions { action toStatus } } }
			pageInfo { hasNextPage endCursor } } }`
		count := func(n int) int64 {
			e.do(tok, `{ viewer { login } }`, nil).ok() // warm the token's last-use write
			before := e.queries.Load()
			var d struct {
				Tickets struct {
					Edges []struct {
						Node struct {
							Assignees []struct{ Login string }
							Tags      []struct{ Name string }
						}
					}
				}
			}
			e.do(tok, q, map[string]any{"n": n}).ok().into(&d)
			if len(d.Tickets.Edges) != n || len(d.Tickets.Edges[0].Node.Assignees) != 2 || len(d.Tickets.Edges[n-1].Node.Tags) != 2 {
				t.Fatalf("page of %d: %+v", n, d.Tickets.Edges[0])
			}
			return e.queries.Load() - before
		}
		small, large := count(5), count(50)
		if small != large || large > 12 {
			t.Fatalf("SQL statements: %d for 5 tickets, %d for 50; want equal and at most 12", small, large)
		}
		// The buttons alone need the category and people too: still per page.
		const buttons = `query($n: Int!) { tickets(first: $n) { edges { node { title availableActions { action } } } } }`
		perPage := func(n int) int64 {
			before := e.queries.Load()
			e.do(tok, buttons, map[string]any{"n": n}).ok()
			return e.queries.Load() - before
		}
		if a, b := perPage(5), perPage(50); a != b {
			t.Fatalf("availableActions: %d statements for 5 tickets, %d for 50", a, b)
		}
		t.Logf("%d SQL statements per page (authentication included)", large)

		// totalCount is counted only when selected.
		hasCount := func(query string) bool {
			n := e.statementCount()
			e.do(tok, query, nil).ok()
			for _, s := range e.statementsSince(n) {
				if strings.Contains(s, "COUNT(") {
					return true
				}
			}
			return false
		}
		if hasCount(`{ tickets(first: 10) { edges { node { id } } pageInfo { hasNextPage } } }`) {
			t.Error("a page without totalCount ran a COUNT")
		}
		if !hasCount(`{ tickets(first: 10) { totalCount } }`) {
			t.Error("totalCount did not count")
		}
	})
}

// TestHealthzReportsTheBuild: /healthz answers 200 with the running build's
// version, commit, build date and Go version, for an operator to see which
// build a replica runs.
func TestHealthzReportsTheBuild(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	resp, err := e.srv.Client().Get(e.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status string
		Build  version.Info
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d %v", resp.StatusCode, err)
	}
	if h.Status != "ok" || h.Build != version.Get() || h.Build.GoVersion != runtime.Version() || h.Build.Commit == "" || h.Build.Version == "" {
		t.Fatalf("/healthz: %+v, want the build %+v", h, version.Get())
	}
}
