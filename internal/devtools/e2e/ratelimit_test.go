package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"socdesk/internal/devtools/wstest"
)

// TestRateBudgetsTwoReplicas: two server processes sharing PostgreSQL and
// Redis spend one budget per user (100 points an hour here). A page of ten
// tickets costs 41: one through A, one through B, and the third, on either,
// is refused with 429, Retry-After and RATE_LIMITED; a subscription the
// real graphql-ws client starts on B is refused with a GraphQL error.
func TestRateBudgetsTwoReplicas(t *testing.T) {
	wstest.EnsureDeps(t)
	redisURL := sharedRedis(t)
	c := newCluster(t)
	if c.channel == "" {
		t.Skip("the server has no SOCDESK_REDIS_CHANNEL: budget keys would be shared with other runs")
	}
	env := map[string]string{"SOCDESK_RATE_POINTS": "100", "SOCDESK_RATE_WINDOW": "1h"}
	a, b := c.start("A", redisURL, env), c.start("B", redisURL, env)

	page := `{ tickets(first: 10) { edges { node { id title } } } }`
	post := func(s *server) (int, http.Header, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": page})
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, out
	}
	if code, h, _ := post(a); code != http.StatusOK || h.Get("RateLimit-Remaining") != "59" {
		t.Fatalf("A: %d, remaining %q", code, h.Get("RateLimit-Remaining"))
	}
	if code, h, _ := post(b); code != http.StatusOK || h.Get("RateLimit-Remaining") != "18" {
		t.Fatalf("B after A: %d, remaining %q (want 18: the budget is shared)", code, h.Get("RateLimit-Remaining"))
	}
	for _, s := range []*server{a, b} {
		code, h, out := post(s)
		var ext map[string]any
		if errs, _ := out["errors"].([]any); len(errs) > 0 {
			first, _ := errs[0].(map[string]any)
			ext, _ = first["extensions"].(map[string]any)
		}
		if ra, _ := strconv.Atoi(h.Get("Retry-After")); code != http.StatusTooManyRequests || ext["code"] != "RATE_LIMITED" || ra < 800 {
			t.Fatalf("%s, over budget: %d, Retry-After %q, %v", s.name, code, h.Get("Retry-After"), out)
		}
	}

	ws := wstest.Start(t, wstest.Options{URL: b.WS(), Protocol: wstest.TransportWS, Payload: map[string]any{"token": c.token}})
	ws.ExpectConnected()
	ws.Subscribe("ev", changeQuery, nil)
	m := ws.ExpectError("ev")
	errs := m.GraphQLErrors()
	if len(errs) == 0 {
		t.Fatalf("subscription over budget: %s", m)
	}
	if ext, _ := errs[0]["extensions"].(map[string]any); ext["code"] != "RATE_LIMITED" {
		t.Fatalf("subscription over budget: %s", m)
	}
}
