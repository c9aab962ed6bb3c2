package wsguard

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

const goodToken = "good"

func server(t *testing.T, g Guard) (*httptest.Server, *testserver.TestServer) {
	t.Helper()
	ts := testserver.New()
	ts.AddTransport(transport.Websocket{
		Implementation: g,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if p.Authorization() != "Bearer "+goodToken {
				return transport.WithWebsocketCloseCode(ctx, CloseForbidden), nil, errors.New("Forbidden")
			}
			return ctx, nil, nil
		},
	})
	s := httptest.NewServer(ts)
	t.Cleanup(s.Close)
	return s, ts
}

func dial(t *testing.T, s *httptest.Server, proto string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	if c.Subprotocol() != proto {
		t.Fatalf("subprotocol %q, want %q", c.Subprotocol(), proto)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message's type, or the close code that ended the
// connection (and "").
func read(t *testing.T, c *websocket.Conn) (string, int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "", ce.Code
	}
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	s := string(b)
	i := strings.Index(s, `"type":"`)
	if i < 0 {
		return s, 0
	}
	s = s[i+8:]
	return s[:strings.Index(s, `"`)], 0
}

// closedWith reads until the connection closes and returns the close code.
func closedWith(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	for range 10 {
		if typ, code := read(t, c); typ == "" {
			return code
		}
	}
	t.Fatal("the connection did not close")
	return 0
}

const initGood = `{"type":"connection_init","payload":{"Authorization":"Bearer good"}}`

func TestCloseCodes(t *testing.T) {
	s, _ := server(t, Guard{InitTimeout: 200 * time.Millisecond, MaxOperations: 2})
	for _, c := range []struct {
		name string
		msgs []string
		want int
	}{
		{"no connection_init in time", nil, CloseInitTimeout},
		{"a bad token", []string{`{"type":"connection_init","payload":{"Authorization":"Bearer bad"}}`}, CloseForbidden},
		{"no token", []string{`{"type":"connection_init"}`}, CloseForbidden},
		{"a second connection_init", []string{initGood, initGood}, CloseTooManyInits},
		{"subscribe before the ack", []string{`{"type":"subscribe","id":"1","payload":{"query":"subscription { name }"}}`}, CloseUnauthorized},
		{"a reused id", []string{initGood, `{"type":"subscribe","id":"1","payload":{"query":"subscription { name }"}}`, `{"type":"subscribe","id":"1","payload":{"query":"subscription { name }"}}`}, CloseDuplicateID},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := dial(t, s, transportWS)
			for i, m := range c.msgs {
				send(t, ws, m)
				if i == 0 && strings.Contains(m, "Bearer good") {
					if typ, _ := read(t, ws); typ != "connection_ack" {
						t.Fatalf("first reply %q", typ)
					}
				}
			}
			if got := closedWith(t, ws); got != c.want {
				t.Fatalf("closed with %d, want %d", got, c.want)
			}
		})
	}
}

// TestTooManyOperations: an operation past the connection's bound gets an
// error of its own; the connection and its other operations stay, and a
// freed slot can be used again.
func TestTooManyOperations(t *testing.T) {
	s, ts := server(t, Guard{InitTimeout: time.Second, MaxOperations: 2})
	ws := dial(t, s, transportWS)
	send(t, ws, initGood)
	if typ, _ := read(t, ws); typ != "connection_ack" {
		t.Fatalf("ack: %q", typ)
	}
	subscribe := func(id string) {
		send(t, ws, `{"type":"subscribe","id":"`+id+`","payload":{"query":"subscription { name }"}}`)
	}
	subscribe("1")
	subscribe("2")
	subscribe("3")
	if msg := readRaw(t, ws); !strings.Contains(msg, `"type":"error"`) || !strings.Contains(msg, `"id":"3"`) || !strings.Contains(msg, "RATE_LIMITED") {
		t.Fatalf("want an error for operation 3, got %s", msg)
	}
	send(t, ws, `{"type":"complete","id":"1"}`)
	// The slot is free once the server has completed the operation.
	if msg := readRaw(t, ws); !strings.Contains(msg, `"type":"complete"`) || !strings.Contains(msg, `"id":"1"`) {
		t.Fatalf("want operation 1 completed, got %s", msg)
	}
	subscribe("4")
	time.Sleep(100 * time.Millisecond) // gqlgen says nothing when a subscription starts
	for range 20 {
		ts.SendNextSubscriptionMessage()
		msg := readRaw(t, ws)
		switch {
		case !strings.Contains(msg, `"type":"next"`):
			t.Fatalf("want next messages, got %s", msg)
		case strings.Contains(msg, `"id":"1"`), strings.Contains(msg, `"id":"3"`):
			t.Fatalf("a message for an operation that is not running: %s", msg)
		case strings.Contains(msg, `"id":"4"`):
			return
		}
	}
	t.Fatal("operation 4 never got a message")
}

func readRaw(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// TestBothProtocols: a subscription runs, delivers and completes over
// graphql-transport-ws and over the older subscriptions-transport-ws; an id
// may be reused once its operation is complete.
func TestBothProtocols(t *testing.T) {
	s, ts := server(t, Guard{InitTimeout: time.Second, MaxOperations: 1})
	for _, p := range []struct{ proto, start, data, stop string }{
		{transportWS, "subscribe", "next", "complete"},
		{legacyWS, "start", "data", "stop"},
	} {
		t.Run(p.proto, func(t *testing.T) {
			ws := dial(t, s, p.proto)
			send(t, ws, initGood)
			if typ, _ := read(t, ws); typ != "connection_ack" {
				t.Fatalf("ack: %q", typ)
			}
			for round := range 2 { // the same id, after it completes
				send(t, ws, `{"type":"`+p.start+`","id":"a","payload":{"query":"subscription { name }"}}`)
				time.Sleep(50 * time.Millisecond)
				ts.SendNextSubscriptionMessage()
				for {
					typ, code := read(t, ws)
					if code != 0 {
						t.Fatalf("round %d: closed with %d", round, code)
					}
					if typ == p.data {
						break
					}
				}
				send(t, ws, `{"type":"`+p.stop+`","id":"a"}`)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestCrossOriginRefused(t *testing.T) {
	s, _ := server(t, Guard{})
	d := websocket.Dialer{Subprotocols: []string{transportWS}}
	h := map[string][]string{"Origin": {"https://evil.example"}}
	if c, _, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http"), h); err == nil {
		c.Close()
		t.Fatal("a cross-origin upgrade was accepted")
	}
}

// TestMessagesMustBeOneJSONObject: what the guard cannot read (trailing
// data, not JSON) closes the connection instead of slipping past its checks.
func TestMessagesMustBeOneJSONObject(t *testing.T) {
	s, _ := server(t, Guard{InitTimeout: time.Second, MaxOperations: 1})
	for name, msg := range map[string]string{
		"trailing object": `{"type":"subscribe","id":"1","payload":{"query":"subscription { name }"}}{}`,
		"not JSON":        `subscribe please`,
	} {
		t.Run(name, func(t *testing.T) {
			ws := dial(t, s, transportWS)
			send(t, ws, initGood)
			if typ, _ := read(t, ws); typ != "connection_ack" {
				t.Fatalf("ack: %q", typ)
			}
			send(t, ws, msg)
			if got := closedWith(t, ws); got != CloseBadMessage {
				t.Fatalf("closed with %d, want %d", got, CloseBadMessage)
			}
		})
	}
}

// TestUnknownMessageTypes: a message type the connection's protocol does
// not have closes it with 4400, before or after connection_init and on
// both protocols (gqlgen alone closes with 1000 or 1002).
func TestUnknownMessageTypes(t *testing.T) {
	s, _ := server(t, Guard{InitTimeout: time.Second, MaxOperations: 2})
	for _, c := range []struct {
		proto, msg string
		init       bool
	}{
		{transportWS, `{"type":"bogus"}`, true},
		{transportWS, `{"type":"bogus"}`, false},
		{transportWS, `{"id":"1"}`, true},
		{transportWS, `{"type":"start","id":"1","payload":{"query":"subscription { name }"}}`, true}, // the other protocol's
		{transportWS, `{"type":"next","id":"1"}`, true},                                              // the server's
		{legacyWS, `{"type":"bogus"}`, true},
		{legacyWS, `{"type":"bogus"}`, false},
		{legacyWS, `{"type":"subscribe","id":"1","payload":{"query":"subscription { name }"}}`, true},
		{legacyWS, `{"type":"ka"}`, true},
	} {
		t.Run(c.proto+" "+c.msg, func(t *testing.T) {
			ws := dial(t, s, c.proto)
			if c.init {
				send(t, ws, initGood)
				if typ, _ := read(t, ws); typ != "connection_ack" {
					t.Fatalf("ack: %q", typ)
				}
			}
			send(t, ws, c.msg)
			if got := closedWith(t, ws); got != CloseBadMessage {
				t.Fatalf("closed with %d, want %d", got, CloseBadMessage)
			}
		})
	}
}
