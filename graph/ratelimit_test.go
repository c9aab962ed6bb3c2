package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
)

// rated is a response with its headers and extensions.
type rated struct {
	*result
	header http.Header
	ext    map[string]any
}

// rateLimit is the response's extensions.rateLimit (the charge), or nil.
func (r rated) rateLimit() map[string]any {
	m, _ := r.ext["rateLimit"].(map[string]any)
	return m
}

// doRated posts query with token, asking for the charge in the extensions
// when ask is set; accept is the Accept header.
func (e *env) doRated(token, query string, ask bool, accept string) rated {
	e.t.Helper()
	if ask {
		return e.doRatedWith(token, query, map[string]any{"rateLimit": true}, accept)
	}
	return e.doRatedWith(token, query, nil, accept)
}

// doRatedWith posts query with token and the request extensions ext.
func (e *env) doRatedWith(token, query string, ext map[string]any, accept string) rated {
	e.t.Helper()
	req := map[string]any{"query": query}
	if ext != nil {
		req["extensions"] = ext
	}
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", accept)
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := rated{result: &result{t: e.t, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}, header: resp.Header}
	var env struct {
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal(raw, out.result); err != nil {
		e.t.Fatalf("status %d: %q: %v", resp.StatusCode, raw, err)
	}
	_ = json.Unmarshal(raw, &env)
	out.ext = env.Extensions
	return out
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// tenTickets costs 1 + 10 × (edges + node + id + title) = 41 points by
// graph/limits' rule; oneTicket 1 + 1 × 4 = 5.
const (
	tenTickets = `{ tickets(first: 10) { edges { node { id title } } } }`
	oneTicket  = `{ tickets(first: 1) { edges { node { id title } } } }`
)

// rateCfg has budgets of points per hour (refilling too slowly to matter
// within a test) and mutations costing 10 more per top-level field.
func rateCfg(points int) config.Config {
	cfg := config.Default()
	cfg.RatePoints, cfg.RateWindow, cfg.RateMutationCost = points, time.Hour, 10
	return cfg
}

// TestRateBudgetsOverHTTP: each request spends its query cost from its
// user's budget, told in the RateLimit headers and, when the client asks,
// in extensions.rateLimit; over budget the request is refused before it
// runs with 429, Retry-After and RATE_LIMITED, and the refusal is counted.
// Other users keep their own budget.
func TestRateBudgetsOverHTTP(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(100))
	tok, _ := e.user("rater", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, e.site("s"))

	r := e.doRated(tok, tenTickets, true, "application/graphql-response+json")
	r.ok()
	if rl := r.rateLimit(); num(rl["cost"]) != 41 || num(rl["remaining"]) != 59 || num(rl["limit"]) != 100 || num(rl["window"]) != 3600 {
		t.Fatalf("extensions.rateLimit = %v, want cost 41, remaining 59 of 100 per 3600s", rl)
	}
	h := r.header
	if h.Get("RateLimit-Limit") != "100" || h.Get("RateLimit-Remaining") != "59" || h.Get("Retry-After") != "" {
		t.Fatalf("headers %v", h)
	}
	// 41 points at 100 an hour come back in 1476s.
	if reset, _ := strconv.Atoi(h.Get("RateLimit-Reset")); reset < 1470 || reset > 1477 {
		t.Errorf("RateLimit-Reset %q, want about 1476", h.Get("RateLimit-Reset"))
	}
	if p := h.Get("RateLimit-Policy"); p != `"socdesk";q=100;w=3600` {
		t.Errorf("RateLimit-Policy %q", p)
	}
	if rl := h.Get("RateLimit"); !strings.HasPrefix(rl, `"socdesk";r=59;t=14`) {
		t.Errorf("RateLimit %q", rl)
	}

	// Not asked: no extension, the headers still.
	r = e.doRated(tok, oneTicket, false, "application/graphql-response+json")
	r.ok()
	if r.rateLimit() != nil || r.header.Get("RateLimit-Remaining") != "54" {
		t.Fatalf("unasked: extensions %v, remaining %q (want 54: the first page of one costs 5)", r.ext, r.header.Get("RateLimit-Remaining"))
	}

	r = e.doRated(tok, tenTickets, true, "application/graphql-response+json")
	r.ok()
	// 13 left: 41 more are refused, under either media type, with 429.
	for _, accept := range []string{"application/graphql-response+json", "application/json"} {
		before := e.statementCount()
		r = e.doRated(tok, tenTickets, true, accept)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("%s: status %d, want 429 (%+v)", accept, r.Status, r.Errors)
		}
		r.wantCode("RATE_LIMITED")
		if len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("%s: a refused request has data %s", accept, r.Data)
		}
		if n := e.statementsSince(before); len(n) != 0 {
			t.Errorf("%s: a refused request ran %d statements", accept, len(n))
		}
		// 28 points missing, 36s each.
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1000 || ra > 1008 {
			t.Errorf("%s: Retry-After %q, want about 1008", accept, r.header.Get("Retry-After"))
		}
		if r.header.Get("RateLimit-Remaining") != "13" {
			t.Errorf("%s: RateLimit-Remaining %q, want 13", accept, r.header.Get("RateLimit-Remaining"))
		}
		ext := r.Errors[0].Extensions
		if num(ext["cost"]) != 41 || num(ext["remaining"]) != 13 || num(ext["retryAfter"]) < 1000 {
			t.Errorf("%s: error extensions %v", accept, ext)
		}
		if !strings.Contains(r.Errors[0].Message, "41 points") {
			t.Errorf("%s: message %q does not say the cost", accept, r.Errors[0].Message)
		}
	}
	// The request log names a refused operation, as it names one that ran.
	e.logs.reset()
	if r := e.doRated(tok, `query TenTickets `+tenTickets, false, "application/json"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("named: status %d", r.Status)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "status=429") || !strings.Contains(logs, "operation=TenTickets") {
		t.Errorf("the refused request's log line does not name its operation:\n%s", logs)
	}
	// What is left is still spendable, and another user's budget is whole.
	e.doRated(tok, oneTicket, false, "application/json").ok()
	if r := e.doRated(e.admin, tenTickets, true, "application/json"); r.ok() != nil && num(r.rateLimit()["remaining"]) != 59 {
		t.Errorf("the admin's budget: %v", r.rateLimit())
	}
	if n := counter(t, e, "query"); n != 3 {
		t.Errorf("socdesk_rate_limited_total{operation=query} = %v, want 3", n)
	}
}

// counter finds the refusal counter of operation type op on e's registry.
func counter(t *testing.T, e *env, op string) float64 {
	t.Helper()
	mfs, err := e.app.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "socdesk_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRateBudgetsMutationsCostMore: a mutation is charged its query cost
// and RateMutationCost per top-level field.
func TestRateBudgetsMutationsCostMore(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(1000))
	// createTag 1 + id 1 = 2, and 10 for the write.
	r := e.doRated(e.admin, `mutation { createTag(input: {name: "a"}) { id } }`, true, "application/json")
	r.ok()
	if c := num(r.rateLimit()["cost"]); c != 12 {
		t.Fatalf("one write costs %d, want 12 (%v)", c, r.rateLimit())
	}
	r = e.doRated(e.admin, `mutation { a: createTag(input: {name: "b"}) { id } b: createTag(input: {name: "c"}) { id } }`, true, "application/json")
	r.ok()
	if c := num(r.rateLimit()["cost"]); c != 24 {
		t.Fatalf("two writes cost %d, want 24", c)
	}
	if rem := num(r.rateLimit()["remaining"]); rem != 1000-12-24 {
		t.Fatalf("remaining %d, want %d", rem, 1000-12-24)
	}
}

// TestRateBudgetsOff: with SOCDESK_RATE_POINTS 0 nothing is refused and no
// header sent, but a client asking is still told the cost.
func TestRateBudgetsOff(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(0))
	for range 3 {
		r := e.doRated(e.admin, tenTickets, true, "application/json")
		r.ok()
		if r.header.Get("RateLimit-Limit") != "" || num(r.rateLimit()["cost"]) != 41 || r.rateLimit()["remaining"] != nil {
			t.Fatalf("headers %v, extensions %v", r.header, r.rateLimit())
		}
	}
}

// TestRateLimitExtensionMustBeABoolean: a request extension rateLimit
// that is not true, false or null is BAD_USER_INPUT on
// extensions.rateLimit, and the request is not charged; false and null ask
// for no report.
func TestRateLimitExtensionMustBeABoolean(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(1000))
	for _, v := range []any{"yes", "true", 1, map[string]any{"on": true}, []any{true}} {
		r := e.doRatedWith(e.admin, tenTickets, map[string]any{"rateLimit": v}, "application/json")
		r.wantCode("BAD_USER_INPUT", "extensions.rateLimit")
		if len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("rateLimit %v: data %s", v, r.Data)
		}
		if !strings.Contains(r.Errors[0].Message, "extensions.rateLimit: must be true or false") {
			t.Errorf("rateLimit %v: %q", v, r.Errors[0].Message)
		}
	}
	for _, v := range []any{false, nil} {
		r := e.doRatedWith(e.admin, tenTickets, map[string]any{"rateLimit": v}, "application/json")
		r.ok()
		if r.rateLimit() != nil {
			t.Errorf("rateLimit %v: reported %v", v, r.rateLimit())
		}
	}
	// Only the two requests above were charged: 1000 − 2 × 41, − 41 now.
	if r := e.doRated(e.admin, tenTickets, true, "application/json"); num(r.rateLimit()["remaining"]) != 1000-3*41 {
		t.Fatalf("the refused requests were charged: %v", r.rateLimit())
	}
}

// TestRateBudgetsOverWebsocket: starting a subscription spends its cost;
// over budget it is refused with a GraphQL error (RATE_LIMITED) and the
// connection stays open for what the budget allows.
func TestRateBudgetsOverWebsocket(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(100))
	ws := e.dialWS(t, e.admin, nil)
	// Spend down to 13 over HTTP: 100 - 41 - 41 - 5.
	for _, q := range []string{tenTickets, tenTickets, oneTicket} {
		e.doRated(e.admin, q, false, "application/json").ok()
	}
	big := ws.subscribe(changeQuery, nil) // costs more than 13
	m := ws.nextOf(big)
	if m.Type != "error" || !strings.Contains(string(m.Payload), "RATE_LIMITED") {
		t.Fatalf("subscription over budget: %s %s", m.Type, m.Payload)
	}
	small := ws.subscribe(`subscription { ticketEvents { cursor } }`, nil) // 1 + 1
	waitSubscribed(t, e, 1)
	_ = small
	if n := counter(t, e, "subscription"); n != 1 {
		t.Errorf("socdesk_rate_limited_total{operation=subscription} = %v, want 1", n)
	}
	// The small one was charged: 13 - 2 = 11 left, so a 12-point write is refused.
	r := e.doRated(e.admin, `mutation { createTag(input: {name: "y"}) { id } }`, false, "application/json")
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("after the subscription: status %d %+v", r.Status, r.Errors)
	}
}

// TestRateBudgetsAcrossReplicas: two replicas sharing Redis spend from one
// budget per user: what is spent through one is missing on the other.
func TestRateBudgetsAcrossReplicas(t *testing.T) {
	cfg := rateCfg(100)
	cfg.RedisURL = "redis://" + testdb.RedisAddr()
	cfg.RedisChannel = fmt.Sprintf("socdesk:test:%d", rand.Uint64())
	a := newEnvOn(t, dialect.Postgres, cfg, redisBroker(t, cfg.RedisChannel))
	b := replica(t, a, cfg, redisBroker(t, cfg.RedisChannel))
	tok, _ := a.user("both", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, a.site("s"))

	if r := a.doRated(tok, tenTickets, true, "application/json"); r.ok() == nil || num(r.rateLimit()["remaining"]) != 59 {
		t.Fatalf("on a: %v", r.rateLimit())
	}
	if r := b.doRated(tok, tenTickets, true, "application/json"); r.ok() == nil || num(r.rateLimit()["remaining"]) != 18 {
		t.Fatalf("on b, after a: %v", r.rateLimit())
	}
	r := a.doRated(tok, tenTickets, false, "application/json")
	if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
		t.Fatalf("on a, after b: %d %+v", r.Status, r.Errors)
	}
	r = b.doRated(tok, tenTickets, false, "application/json")
	if r.Status != http.StatusTooManyRequests || r.header.Get("RateLimit-Remaining") != "18" {
		t.Fatalf("on b: %d remaining %q", r.Status, r.header.Get("RateLimit-Remaining"))
	}
	// Each replica counts its own refusals.
	if na, nb := counter(t, a, "query"), counter(t, b, "query"); na != 1 || nb != 1 {
		t.Errorf("refusals counted %v and %v, want 1 and 1", na, nb)
	}
}
