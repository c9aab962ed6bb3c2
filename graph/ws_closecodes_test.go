package graph_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"socdesk/internal/devtools/testdb"
	"socdesk/internal/wsguard"
)

// TestUnknownMessageTypeCloses4400: through the real server, a message
// type the connection's protocol does not have closes it with 4400 on
// graphql-transport-ws and on subscriptions-transport-ws alike.
func TestUnknownMessageTypeCloses4400(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
			c, _, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			w := &wsConn{t: t, c: c}
			w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": e.admin}})
			if m := w.next(); m.Type != "connection_ack" {
				t.Fatalf("connection_init: %s %s", m.Type, m.Payload)
			}
			w.send(map[string]any{"type": "subscribe_please", "id": "1"})
			if code := w.closeCode(); code != wsguard.CloseBadMessage {
				t.Fatalf("closed with %d, want %d", code, wsguard.CloseBadMessage)
			}
		})
	}
}
