package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/app"
	"socdesk/internal/auth"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
)

// The fuzz targets send client input through the real handler on both
// databases. Whatever the input, the server must not panic, answer 5xx or
// report an internal error: each is a defect the client can trigger. The
// Makefile's fuzz-smoke runs each briefly in CI.

// fuzzServer is one database's handler with an admin and a site-limited
// analyst, and a ticket.
type fuzzServer struct {
	backend string
	handler http.Handler
	tokens  []string
	logs    *logCapture
}

func newFuzzServers(f *testing.F) []*fuzzServer {
	var out []*fuzzServer
	for _, b := range testdb.Backends {
		st := testdb.Open(f, b, testdb.Options{})
		s := &fuzzServer{backend: b, logs: &logCapture{}}
		a := app.New(st, events.NewLocal(), config.Default(), slog.New(s.logs.handler(slog.DiscardHandler)), st.Ping)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = a.Run(ctx); close(done) }()
		f.Cleanup(func() { stop(); <-done })
		s.handler = a.Handler
		admin, err := auth.Bootstrap(context.Background(), st.Client, "")
		if err != nil {
			f.Fatal(err)
		}
		site := st.Client.Site.Create().SetName("HQ").SaveX(sys())
		cat := st.Client.Category.Create().SetName("Alerts").SetWorkflow(category.WorkflowAPPROVAL).SaveX(sys())
		st.Client.Ticket.Create().SetTitle("Phish").SetKind(ticket.KindANALYSIS).SetBody("b").
			SetCategoryID(cat.ID).SetSiteID(site.ID).SaveX(sys())
		st.Client.User.Create().SetLogin("analyst").SetDisplayName("A").SetRole(user.RoleANALYST).
			SetPermissions([]schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}).
			AddSiteIDs(site.ID).SaveX(sys())
		analyst, err := auth.Issue(context.Background(), st.Client, "analyst", "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		s.tokens = []string{admin, analyst}
		out = append(out, s)
	}
	return out
}

// post sends body as a POST /graphql and fails t on a 5xx, a panic or an
// internal error.
func (s *fuzzServer) post(t *testing.T, token int, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens[token%len(s.tokens)])
	rec := httptest.NewRecorder()
	s.logs.reset()
	s.handler.ServeHTTP(rec, req)
	if ctx.Err() != nil {
		t.Fatalf("%s: no answer within 10 s to %q", s.backend, body)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d for %q: %s\n%s", s.backend, rec.Code, body, rec.Body, s.logs)
	}
	if logged := s.logs.String(); strings.Contains(logged, "level=ERROR") {
		t.Fatalf("%s: %q logged an error:\n%s", s.backend, body, logged)
	}
	var resp struct {
		Errors []gqlError `json:"errors"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	for _, e := range resp.Errors {
		if e.Extensions["code"] == "INTERNAL" {
			t.Fatalf("%s: internal error for %q: %s", s.backend, body, rec.Body)
		}
	}
}

// issueInputs are request bodies from issue 9 and around it.
var issueInputs = []string{
	`{"query":"subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}"}`,
	`{"query":"subscription{ticketEvents{cursor}}"}`,
	`{"query":"subscription{...F} fragment F on Subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}"}`,
	`{"query":"mutation($in:CreateTicketInput!){createTicket(input:$in){id}}","variables":{"in":{"kind":"ANALYSIS","title":"a\u0000b","body":"b","siteID":"x","categoryID":"y"}}}`,
	`{"query":"{tickets(first:5,filter:{keyword:\"a\u0000b\"}){totalCount}}"}`,
	`{"query":"{tickets(first:5,after:\"g6FpAaF2oXihb6pDUkVBVEVEX0FU\"){totalCount}}"}`,
	`{"query":"{tickets(first:5,after:\"kgCBoWEB\",orderBy:{field:NUMBER,direction:DESC}){edges{cursor}}}"}`,
	`{"query":"{tickets(first:5,before:\"%%%\"){totalCount}}"}`,
	`{"query":"{tickets(first:101){totalCount}}"}`,
	`{"query":"{tickets(first:5,last:5){totalCount}}"}`,
	`{"query":"{ viewer { login `,
	`{"query":1}`,
	`{"query":"{viewer{login}}","variables":"x"}`,
	`{"query":"{viewer{login}}","operationName":"nope"}`,
	`{"query":"query($f:TicketFilter){tickets(first:5,filter:$f){totalCount}}","variables":{"f":{"keyword":""}}}`,
	`{"query":"query($f:TicketFilter){tickets(first:5,filter:$f){totalCount}}","variables":{"f":{"createdFrom":"2026-02-01T00:00:00Z","createdTo":"2026-01-01T00:00:00Z"}}}`,
	`{"query":"{ticketTrend(from:\"2026-01-01\",to:\"2030-01-01\"){statuses}}"}`,
	`{"query":"{node(id:\"c2Q6MQ\"){id}}"}`,
	`{"query":"{nodes(ids:[\"\",\"x\"]){id}}"}`,
	`{"query":"mutation{addMemo(ticketID:\"c2Q6MQ\",body:\"\u0000\"){id}}"}`,
	`{"query":"mutation{createTag(input:{name:\"t\u0000\"}){id}}"}`,
	`{"query":"{a:viewer{login} b:viewer{login} c:viewer{login}}"}`,
	`{"query":"{__schema{types{name}}}"}`,
	`[]`, `null`, ``, `{}`,
}

func FuzzHandler(f *testing.F) {
	servers := newFuzzServers(f)
	for i, in := range issueInputs {
		f.Add([]byte(in), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		for _, s := range servers {
			s.post(t, int(who), body)
		}
	})
}

// listCursorQuery pages the ticket list with a cursor.
const listCursorQuery = `query($c: Cursor, $n: Int, $o: TicketOrder) {
	a: tickets(first: $n, after: $c, orderBy: $o) { edges { cursor node { number } } }
	b: tickets(last: $n, before: $c, orderBy: $o) { pageInfo { startCursor } } }`

func FuzzTicketCursors(f *testing.F) {
	servers := newFuzzServers(f)
	r := rand.New(rand.NewPCG(1, 9))
	for _, c := range craftedCursors(r, 40) {
		f.Add(c, uint8(r.UintN(8)))
	}
	real, _ := scalar.EncodeCursor(1, time.Now(), "CREATED_AT")
	f.Add(real, uint8(1))
	f.Add("", uint8(3))
	orders := []string{"NUMBER", "CREATED_AT", "UPDATED_AT", "PRIORITY"}
	f.Fuzz(func(t *testing.T, cursor string, order uint8) {
		vars := map[string]any{"c": cursor, "n": int(order % 4), "o": map[string]any{
			"field": orders[int(order)%len(orders)], "direction": []string{"ASC", "DESC"}[int(order/4)%2]}}
		body, _ := json.Marshal(map[string]any{"query": listCursorQuery, "variables": vars})
		for _, s := range servers {
			s.post(t, int(order), body)
		}
	})
}

func FuzzTicketFilter(f *testing.F) {
	servers := newFuzzServers(f)
	for _, in := range []string{
		`{}`, `null`, `{"keyword":""}`, `{"keyword":"a\u0000b"}`, `{"keyword":"phish"}`,
		`{"statuses":["NEW","CLOSED"],"priorities":["HIGH"]}`, `{"statuses":[]}`,
		`{"sites":["c2Q6MQ","x"]}`, `{"categories":[""]}`, `{"assignees":["c2Q6OTk5OTk5OTk5OTk5"]}`,
		`{"createdFrom":"2026-02-01T00:00:00Z","createdTo":"2026-01-01T00:00:00Z"}`,
		`{"createdFrom":"0001-01-01T00:00:00Z","createdTo":"9999-12-31T23:59:59Z"}`,
		`{"createdFrom":"-2026-01-01T00:00:00Z"}`, `{"incident":true,"attackVerdict":{"verdicts":[]}}`,
		`{"keyword":"` + strings.Repeat("x", 300) + `"}`, `{"nope":1}`, `[1]`, `"x"`,
	} {
		f.Add(in)
	}
	const query = `query($f: TicketFilter) { tickets(first: 5, filter: $f) { totalCount edges { node { number } } } }`
	f.Fuzz(func(t *testing.T, filter string) {
		body := fmt.Sprintf(`{"query":%q,"variables":{"f":%s}}`, query, filter)
		for _, s := range servers {
			s.post(t, len(filter), []byte(body))
		}
	})
}
