package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// raw sends a request and returns its status and JSON body as members.
func (e *env) raw(req *http.Request) (int, map[string]json.RawMessage, string) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		e.t.Fatalf("status %d: not a JSON object: %q", resp.StatusCode, body)
	}
	return resp.StatusCode, m, string(body)
}

func (e *env) post(body, accept string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	return req
}

// TestMalformedBody: a body that is not a GraphQL request gets 400,
// BAD_USER_INPUT and a short message naming the member at fault: never
// the body itself, nor Go's names for things; and nothing runs.
func TestMalformedBody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const mark = "zq9<script>alert(1)</script>"
		mutation := `mutation { createTag(input: {name: \"` + mark + `\"}) { id } }`
		for _, c := range []struct {
			name, body, field, says string
		}{
			{"query a number", `{"query": 5, "operationName": "` + mark + `"}`, "query", "must be a string, not a number"},
			{"variables a string", `{"query": "` + mutation + `", "variables": "` + mark + `"}`, "variables", "must be a JSON object, not a string"},
			{"extensions an array", `{"query": "` + mutation + `", "extensions": ["` + mark + `"]}`, "extensions", "must be a JSON object, not an array"},
			{"operationName an object", `{"query": "` + mutation + `", "operationName": {"x": "` + mark + `"}}`, "operationName", "must be a string, not an object"},
			{"not JSON", `query=` + mark, "", "not valid JSON"},
			{"broken JSON", `{"query": "` + mutation + `", ` + mark + `}`, "", "not valid JSON (at byte"},
			{"cut short", `{"query": "` + mutation + `"`, "", "not valid JSON (it ends early)"},
			{"a string", `"` + mark + `"`, "", "must be a JSON object"},
			{"a batch", `[{"query": "` + mutation + `"}]`, "", "batched requests are not supported"},
			{"two objects", `{"query": "` + mutation + `"} {"query": "` + mark + `"}`, "", "send one object"},
			{"empty", ``, "", "the request body is empty"},
		} {
			for _, accept := range []string{"application/graphql-response+json", "application/json"} {
				status, m, body := e.raw(e.post(c.body, accept))
				var errsOut []gqlError
				_ = json.Unmarshal(m["errors"], &errsOut)
				switch {
				case status != http.StatusBadRequest || len(errsOut) != 1:
					t.Errorf("%s (%s): %d %s", c.name, accept, status, body)
				case errsOut[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(errsOut[0].Message, c.says):
					t.Errorf("%s (%s): %s, want a message with %q", c.name, accept, body, c.says)
				case c.field != "" && errsOut[0].Extensions["field"] != c.field:
					t.Errorf("%s (%s): field %v, want %s", c.name, accept, errsOut[0].Extensions["field"], c.field)
				}
				for _, leak := range []string{"zq9", "script", "json:", "unmarshal", "Go ", "RawParams", "map[", "interface"} {
					if strings.Contains(body, leak) {
						t.Errorf("%s (%s): the answer shows %q: %s", c.name, accept, leak, body)
					}
				}
				if _, ok := m["data"]; ok && accept == "application/graphql-response+json" {
					t.Errorf("%s: a data entry under %s: %s", c.name, accept, body)
				}
			}
		}
		if n := e.client.Tag.Query().CountX(sys()); n != 0 {
			t.Fatalf("%d tags created by malformed requests", n)
		}

		// GET: variables and extensions that are not JSON objects.
		for _, p := range []string{"variables", "extensions"} {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(`{ viewer { login } }`)+"&"+p+"="+url.QueryEscape(mark), nil)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Accept", "application/graphql-response+json")
			status, m, body := e.raw(req)
			var errsOut []gqlError
			_ = json.Unmarshal(m["errors"], &errsOut)
			if status != http.StatusBadRequest || len(errsOut) != 1 || errsOut[0].Extensions["code"] != "BAD_USER_INPUT" ||
				errsOut[0].Extensions["field"] != p || strings.Contains(body, "zq9") {
				t.Errorf("GET with %s not JSON: %d %s", p, status, body)
			}
		}
	})
}

// TestRequestErrorsHaveNoData: under application/graphql-response+json a
// request that fails before execution (parse, validation, variables,
// limits) is answered 4xx with no data entry at all (GraphQL over HTTP); an
// execution error keeps its data entry and 200; under application/json the
// same request failures are answered 200.
func TestRequestErrorsHaveNoData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		body := func(query string, vars map[string]any, op string) string {
			b, _ := json.Marshal(map[string]any{"query": query, "variables": vars, "operationName": op})
			return string(b)
		}
		for _, c := range []struct{ name, body string }{
			{"parse", body(`{ viewer { login `, nil, "")},
			{"validation", body(`{ nope }`, nil, "")},
			{"variable type", body(`query($n: Int!) { ticket(number: $n) { id } }`, map[string]any{"n": "x"}, "")},
			{"missing variable", body(`query($n: Int!) { ticket(number: $n) { id } }`, nil, "")},
			{"unknown operation", body(`query A { viewer { login } }`, nil, "B")},
			{"limits", body(`{ tickets { totalCount } }`, nil, "")},
			{"no query", `{"variables": {}}`},
		} {
			status, m, raw := e.raw(e.post(c.body, "application/graphql-response+json"))
			if _, ok := m["data"]; ok || status != http.StatusBadRequest || len(m["errors"]) == 0 {
				t.Errorf("%s under graphql-response+json: %d %s", c.name, status, raw)
			}
			if status, m, raw := e.raw(e.post(c.body, "application/json")); status != http.StatusOK || len(m["errors"]) == 0 {
				t.Errorf("%s under application/json: %d %s", c.name, status, raw)
			}
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(`{ nope }`), nil)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Accept", "application/graphql-response+json")
			if status, m, raw := e.raw(req); status != http.StatusBadRequest || m["data"] != nil {
				t.Errorf("GET validation error: %d %s", status, raw)
			}
		}
		// An error during execution is not a request error: data stays.
		status, m, raw := e.raw(e.post(body(`{ ticket(number: 999999) { id } viewer { login } }`, nil, ""), "application/graphql-response+json"))
		if _, ok := m["data"]; !ok || status != http.StatusOK {
			t.Errorf("execution error: %d %s", status, raw)
		}
	})
}
