package wstest_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"socdesk/internal/devtools/wstest"
	"socdesk/internal/wsguard"
)

// server is gqlgen's test server (Subscription.name, Query.find(id)) on
// socdesk's websocket transport. It accepts connection_init payloads with
// {"token":"good"} and refuses others with 4403 Forbidden.
type server struct {
	*httptest.Server
	ts    *testserver.TestServer
	inits chan transport.InitPayload // every connection_init payload
	ops   chan string                // "start" and "end" of each operation
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{
		ts:    testserver.New(),
		inits: make(chan transport.InitPayload, 16),
		ops:   make(chan string, 64),
	}
	s.ts.AddTransport(transport.Websocket{
		Implementation: wsguard.Guard{InitTimeout: 5 * time.Second, MaxOperations: 4},
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			s.inits <- p
			if p["token"] != "good" {
				ctx = transport.AppendCloseReason(ctx, "Forbidden")
				return transport.WithWebsocketCloseCode(ctx, wsguard.CloseForbidden), nil, errors.New("Forbidden")
			}
			return ctx, &transport.InitPayload{"hello": "client"}, nil
		},
	})
	s.ts.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		s.ops <- "start"
		go func() { <-ctx.Done(); s.ops <- "end" }()
		return next(ctx)
	})
	s.Server = httptest.NewServer(s.ts)
	t.Cleanup(s.Close)
	return s
}

// event waits for the next operation start or end on the server.
func (s *server) event(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-s.ops:
		if got != want {
			t.Fatalf("server: operation %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("server: no operation %s", want)
	}
}

func (s *server) init(t *testing.T) transport.InitPayload {
	t.Helper()
	select {
	case p := <-s.inits:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("server: no connection_init")
		return nil
	}
}

// next makes the running subscription deliver one result and checks the
// client gets it.
func (s *server) next(t *testing.T, c *wstest.Client, op string) {
	t.Helper()
	s.ts.SendNextSubscriptionMessage()
	m := c.ExpectNext(op)
	var data struct{ Name string }
	if err := m.Data(&data); err != nil || data.Name != "test" {
		t.Fatalf("next: %s (%v)", m, err)
	}
}

func each(t *testing.T, f func(t *testing.T, proto string)) {
	for _, p := range wstest.Protocols {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			f(t, p)
		})
	}
}

// TestSubscription: the init payload reaches InitFunc, the ack's payload
// reaches the client, a subscription delivers, unsubscribing completes it
// on both sides, a server-side completion reaches the client, and closing
// ends the connection normally.
func TestSubscription(t *testing.T) {
	each(t, func(t *testing.T, proto string) {
		s := newServer(t)
		c := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Payload: map[string]any{"token": "good", "n": 7}})

		// Subscribe before the ack: both libraries hold it until connected.
		c.Subscribe("a", "subscription { name }", nil)
		ack := c.ExpectConnected()
		if p := s.init(t); p["token"] != "good" || p["n"] != float64(7) {
			t.Fatalf("InitFunc got %v", p)
		}
		if !strings.Contains(string(ack.Payload), `"hello":"client"`) {
			t.Errorf("connected: %s, want the ack payload", ack)
		}

		s.event(t, "start")
		s.next(t, c, "a")
		s.next(t, c, "a")

		c.Unsubscribe("a")
		c.ExpectComplete("a")
		s.event(t, "end") // the server stopped it

		c.Subscribe("b", "subscription { name }", nil)
		s.event(t, "start")
		s.next(t, c, "b")
		s.ts.SendCompleteSubscriptionMessage()
		c.ExpectComplete("b")
		s.event(t, "end")

		c.Close()
		code, reason := c.WaitClosed(5 * time.Second)
		t.Logf("closed by the client: %d %q", code, reason)
		if code != 1000 && code != 1005 {
			t.Errorf("closed with %d %q, want 1000 or 1005", code, reason)
		}
		if rest := c.Pending(); len(rest) > 0 {
			t.Errorf("unexpected messages: %v", rest)
		}
		select {
		case <-c.Exited():
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not exit after the close")
		}
	})
}

// TestVariablesAndErrors: a query with variables runs over the socket and
// completes; one missing a required variable gets the validation error.
func TestVariablesAndErrors(t *testing.T) {
	each(t, func(t *testing.T, proto string) {
		s := newServer(t)
		c := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Payload: map[string]any{"token": "good"}})
		c.ExpectConnected()

		c.Subscribe("q", "query Q($id: Int!) { find(id: $id) }", map[string]any{"id": 1})
		c.ExpectNext("q")
		c.ExpectComplete("q")

		c.Subscribe("bad", "query Q($id: Int!) { find(id: $id) }", nil)
		m := c.ExpectError("bad")
		errs := m.GraphQLErrors()
		if len(errs) != 1 || errs[0]["message"] != "must be defined" {
			t.Fatalf("error: %s, want the validation error", m)
		}
		// After an error the operation is over: no complete follows.
		if m, err := c.Wait(300*time.Millisecond, func(m wstest.Message) bool { return m.Op == "bad" }); err == nil {
			t.Fatalf("after the error: %s", m)
		}
	})
}

// TestRefusedInit: a refused connection_init closes the connection with
// 4403 and the InitFunc's reason, as the client library sees it.
func TestRefusedInit(t *testing.T) {
	each(t, func(t *testing.T, proto string) {
		s := newServer(t)
		c := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Payload: map[string]any{"token": "bad"}})
		c.Subscribe("a", "subscription { name }", nil)
		if p := s.init(t); p["token"] != "bad" {
			t.Fatalf("InitFunc got %v", p)
		}
		code, reason := c.WaitClosed(5 * time.Second)
		if code != wsguard.CloseForbidden || reason != "Forbidden" {
			t.Fatalf("closed with %d %q, want %d Forbidden", code, reason, wsguard.CloseForbidden)
		}
		var types []string
		for _, m := range c.Pending() {
			types = append(types, m.Type+"/"+m.Op)
		}
		t.Logf("before the close: %v", types)
		if len(c.Pending()) > 0 && c.Pending()[0].Type == wstest.TypeConnected {
			t.Fatal("connected, though refused")
		}
	})
}

// TestOrigin: the Origin option is sent; a cross-origin upgrade is refused
// (the client sees 1006, no close frame), a same-origin one accepted.
func TestOrigin(t *testing.T) {
	each(t, func(t *testing.T, proto string) {
		s := newServer(t)
		good := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Origin: s.URL, Payload: map[string]any{"token": "good"}})
		good.ExpectConnected()

		evil := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Origin: "https://evil.example", Payload: map[string]any{"token": "good"}})
		code, _ := evil.WaitClosed(5 * time.Second)
		if code != 1006 {
			t.Fatalf("cross-origin: closed with %d, want 1006", code)
		}
		m, err := evil.Wait(time.Second, func(m wstest.Message) bool { return m.Type == wstest.TypeError })
		if err != nil || !strings.Contains(string(m.Errors), "403") {
			t.Fatalf("cross-origin: error %s (%v), want the 403", m, err)
		}
	})
}

// TestCleanup: a client left running is stopped when its test ends.
func TestCleanup(t *testing.T) {
	s := newServer(t)
	var c *wstest.Client
	t.Run("inner", func(t *testing.T) {
		c = wstest.Start(t, wstest.Options{URL: s.URL, Protocol: wstest.TransportWS, Payload: map[string]any{"token": "good"}})
		c.ExpectConnected()
	})
	select {
	case <-c.Exited():
	default:
		t.Fatal("the client process outlived its test")
	}
}

// TestServerCloseWhileSubscribed: a reused operation id (chosen with
// SubscribeWireID) makes the server close with 4409; the client sees the
// code. graphql-ws also fails its running operations with the close event;
// subscriptions-transport-ws tells them nothing.
func TestServerCloseWhileSubscribed(t *testing.T) {
	each(t, func(t *testing.T, proto string) {
		s := newServer(t)
		c := wstest.Start(t, wstest.Options{URL: s.URL, Protocol: proto, Payload: map[string]any{"token": "good"}})
		c.ExpectConnected()
		c.SubscribeWireID("a", "x", "subscription { name }", nil)
		s.event(t, "start")
		s.next(t, c, "a")
		c.SubscribeWireID("b", "x", "subscription { name }", nil)
		code, reason := c.WaitClosed(5 * time.Second)
		if code != wsguard.CloseDuplicateID {
			t.Fatalf("closed with %d %q, want %d", code, reason, wsguard.CloseDuplicateID)
		}
		errs := 0
		for _, m := range c.Pending() {
			if m.Type == wstest.TypeError && strings.Contains(string(m.Errors), `"code":4409`) {
				errs++
			}
		}
		want := map[string]int{wstest.TransportWS: 2, wstest.LegacyWS: 0}[proto]
		if errs != want {
			t.Fatalf("%d operations failed with the close, want %d: %v", errs, want, c.Pending())
		}
	})
}
