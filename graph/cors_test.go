package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
)

const dashboard = "https://dash.example.com"

// preflight sends the OPTIONS request a browser sends before a
// cross-origin POST with a token and a JSON body.
func (e *env) preflight(path, origin string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// crossOrigin posts a query as a page of origin would (fetch with a bearer
// token, no credentials).
func (e *env) crossOrigin(origin, token string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestCORS: a dashboard on an allowed origin gets its preflight answered
// without a token (not 401), may send Authorization and a JSON body, reads
// the answer and the rate-limit headers, and is never granted credentials;
// other origins get nothing that lets a browser read the answer.
func TestCORS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		cfg := config.Default()
		cfg.CORSOrigins = "https://other.example.org, " + dashboard + "/"
		e = newEnvWith(t, e.backend, cfg)

		resp := e.preflight("/graphql", dashboard)
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != dashboard {
			t.Fatalf("preflight: %d %v", resp.StatusCode, h)
		}
		allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		if !strings.Contains(allowed, "authorization") || !strings.Contains(allowed, "content-type") {
			t.Fatalf("preflight allows headers %q", allowed)
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Max-Age") == "" {
			t.Fatalf("preflight: methods %q max age %q", h.Get("Access-Control-Allow-Methods"), h.Get("Access-Control-Max-Age"))
		}
		if c := h.Get("Access-Control-Allow-Credentials"); c != "" {
			t.Fatalf("preflight allows credentials: %q", c)
		}
		if !strings.Contains(h.Get("Vary"), "Origin") {
			t.Fatalf("preflight: Vary %q", h.Get("Vary"))
		}

		resp = e.crossOrigin(dashboard, e.admin)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != dashboard {
			t.Fatalf("cross-origin POST: %d %v", resp.StatusCode, resp.Header)
		}
		exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
		for _, name := range []string{"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-request-id"} {
			if !strings.Contains(exposed, name) {
				t.Errorf("%s not exposed: %q", name, exposed)
			}
		}
		if c := resp.Header.Get("Access-Control-Allow-Credentials"); c != "" {
			t.Fatalf("credentials allowed: %q", c)
		}
		// The page can read a refusal too.
		if resp := e.crossOrigin(dashboard, ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != dashboard {
			t.Fatalf("cross-origin POST without a token: %d %v", resp.StatusCode, resp.Header)
		}
		// Every API route: the schema too.
		if resp := e.preflight("/schema.graphql", dashboard); resp.Header.Get("Access-Control-Allow-Origin") != dashboard {
			t.Fatalf("schema preflight: %d %v", resp.StatusCode, resp.Header)
		}

		// Another origin: nothing a browser would let a page read.
		for _, origin := range []string{"https://evil.example.com", "https://dash.example.com.evil.example.com", "http://dash.example.com"} {
			if resp := e.preflight("/graphql", origin); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight from %s: %v", origin, resp.Header)
			}
			if resp := e.crossOrigin(origin, e.admin); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("POST from %s: %v", origin, resp.Header)
			}
		}
	})
}

// TestCORSNoneByDefault: with no origins configured nothing cross-origin is
// allowed, and a preflight is not answered as one.
func TestCORSNoneByDefault(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	resp := e.preflight("/graphql", dashboard)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == http.StatusNoContent {
		t.Fatalf("preflight without configured origins: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := e.crossOrigin(dashboard, e.admin); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("cross-origin POST: %v", resp.Header)
	}
}

// TestCORSAnyOrigin: "*" lets any page call the API, still without
// credentials (a wildcard with credentials is what browsers forbid, and
// what would let any site act with a user's cookies).
func TestCORSAnyOrigin(t *testing.T) {
	cfg := config.Default()
	cfg.CORSOrigins = "*"
	e := newEnvWith(t, testdb.Backends[0], cfg)
	resp := e.preflight("/graphql", "https://anywhere.example.net")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = e.crossOrigin("https://anywhere.example.net", e.admin)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestCORSOriginsOpenWebsockets: a page allowed to query may subscribe: the
// websocket upgrade admits SOCDESK_CORS_ORIGINS as well as
// SOCDESK_WS_ORIGINS, and still refuses any other.
func TestCORSOriginsOpenWebsockets(t *testing.T) {
	cfg := config.Default()
	cfg.CORSOrigins = dashboard
	cfg.WSOrigins = "https://wallboard.example.com"
	e := newEnvWith(t, testdb.Backends[0], cfg)
	e.dialWS(t, e.admin, http.Header{"Origin": {dashboard}})
	e.dialWS(t, e.admin, http.Header{"Origin": {"https://wallboard.example.com"}})
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", http.Header{"Origin": {"https://evil.example.com"}})
	if err == nil {
		c.Close()
	}
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("upgrade from another origin: %v %v", err, resp)
	}
}
