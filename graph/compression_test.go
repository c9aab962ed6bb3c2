package graph_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"socdesk/internal/devtools/testdb"
)

// rawClient does not ask for compression by itself nor undo it, so a test
// sees the Content-Encoding the server chose.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func (e *env) fetch(method, path, acceptEncoding, body string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompression: GraphQL answers and the pages are gzip-compressed for a
// client that accepts it, and only then; a websocket upgrade is left alone
// even when the client says it accepts gzip.
func TestCompression(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const big = `{"query":"{ __schema { types { name description fields { name description } } } }"}`
		resp, b := e.fetch(http.MethodPost, "/graphql", "gzip", big)
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("POST /graphql accepting gzip: %d %v", resp.StatusCode, resp.Header)
		}
		plain := gunzip(t, b)
		var r struct{ Data json.RawMessage }
		if err := json.Unmarshal(plain, &r); err != nil || !bytes.Contains(r.Data, []byte(`"Ticket"`)) {
			t.Fatalf("decompressed answer: %v %.200s", err, plain)
		}
		if len(b)*3 > len(plain) {
			t.Errorf("compressed %d bytes to %d only", len(plain), len(b))
		}

		// Not asked: not compressed. Refused by q=0: not compressed.
		for _, ae := range []string{"", "identity", "gzip;q=0"} {
			resp, b := e.fetch(http.MethodPost, "/graphql", ae, big)
			if resp.Header.Get("Content-Encoding") != "" || !json.Valid(b) {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
			}
		}

		// The pages and the schema: whatever is 1 KiB or more.
		for _, path := range []string{"/", "/schema.graphql"} {
			if _, plain := e.fetch(http.MethodGet, path, "", ""); len(plain) < 1024 {
				continue
			}
			resp, b := e.fetch(http.MethodGet, path, "gzip", "")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" || len(gunzip(t, b)) == 0 {
				t.Errorf("GET %s: %d %v", path, resp.StatusCode, resp.Header)
			}
		}
	})
}

// TestWebsocketNotCompressed: an upgrade whose request accepts gzip is
// answered 101 without Content-Encoding and speaks the protocol (the
// compression middleware lets upgrades pass untouched).
func TestWebsocketNotCompressed(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}})
	if err != nil {
		t.Fatalf("upgrade accepting gzip: %v %v", err, resp)
	}
	defer c.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	ws := &wsConn{t: t, c: c}
	ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": e.admin}})
	if m := ws.next(); m.Type != "connection_ack" {
		t.Fatalf("connection_init: %s %s", m.Type, m.Payload)
	}
	ws.send(map[string]any{"type": "ping"})
	if m := ws.next(); m.Type != "pong" {
		t.Fatalf("ping: %s %s", m.Type, m.Payload)
	}
}
