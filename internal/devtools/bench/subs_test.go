package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeServer speaks just enough of socdesk's API for the scenario: the
// reference queries, createTicket, updateTicket (which pushes a TicketChange
// to every subscriber) and ticketEvents over either websocket protocol.
type fakeServer struct {
	t        *testing.T
	skip     int // drop the deliveries to this many subscribers (to test missed counting)
	cap      int // refuse subscriptions past this many with an error message (0: none)
	mu       sync.Mutex
	subs     []*fakeSub
	seq      int
	sawToken string
}

type fakeSub struct {
	mu    sync.Mutex
	c     *websocket.Conn
	id    string
	proto string
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		f.ws(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"message":"missing or invalid API token"}]}`))
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.Contains(req.Query, "categories"):
		_, _ = w.Write([]byte(`{"data":{"categories":[{"id":"C1","workflow":"INCIDENT_RESPONSE"},{"id":"C2","workflow":"APPROVAL"}],"sites":[{"id":"S1"}]}}`))
	case strings.Contains(req.Query, "createTicket"):
		in := req.Variables["in"].(map[string]any)
		if in["categoryID"] != "C2" || in["siteID"] != "S1" || in["kind"] != "ANALYSIS" {
			f.t.Errorf("createTicket input %v", in)
		}
		_, _ = w.Write([]byte(`{"data":{"createTicket":{"id":"T1"}}}`))
	case strings.Contains(req.Query, "updateTicket"):
		at := time.Now()
		f.mu.Lock()
		f.seq++
		seq := f.seq
		subs := append([]*fakeSub(nil), f.subs...)
		f.mu.Unlock()
		title, _ := req.Variables["t"].(string)
		for i, s := range subs {
			if i < f.skip && strings.Contains(title, " m") {
				continue
			}
			s.send(seq, at, title)
		}
		_, _ = w.Write([]byte(`{"data":{"updateTicket":{"id":"T1"}}}`))
	default:
		f.t.Errorf("unexpected query %s", req.Query)
	}
}

func (s *fakeSub) send(seq int, at time.Time, title string) {
	typ := "next"
	if s.proto == "graphql-ws" {
		typ = "data"
	}
	msg := map[string]any{"id": s.id, "type": typ, "payload": map[string]any{"data": map[string]any{"ticketEvents": map[string]any{
		"cursor": "c" + string(rune('0'+seq%10)), "kind": "UPDATED", "at": at.Format(time.RFC3339Nano), "ticketNumber": 1,
		"ticket":  map[string]any{"id": "T1", "status": "NEW"},
		"changes": []any{map[string]any{"field": "updatedAt", "to": "x"}, map[string]any{"field": "title", "from": "old", "to": title}},
	}}}}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.WriteJSON(msg)
}

func (f *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"graphql-transport-ws", "graphql-ws"}}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	s := &fakeSub{c: c, proto: c.Subprotocol()}
	for {
		var m struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "connection_init":
			var p struct{ Token string }
			_ = json.Unmarshal(m.Payload, &p)
			f.mu.Lock()
			f.sawToken = p.Token
			f.mu.Unlock()
			s.mu.Lock()
			if s.proto == "graphql-transport-ws" {
				_ = c.WriteJSON(map[string]string{"type": "ping"})
			} else {
				_ = c.WriteJSON(map[string]string{"type": "ka"})
			}
			_ = c.WriteJSON(map[string]string{"type": "connection_ack"})
			s.mu.Unlock()
		case "subscribe", "start":
			var p struct{ Query string }
			_ = json.Unmarshal(m.Payload, &p)
			if !strings.Contains(p.Query, "ticketEvents") {
				f.t.Errorf("subscription %q", p.Query)
			}
			s.id = m.ID
			f.mu.Lock()
			refuse := f.cap > 0 && len(f.subs) >= f.cap
			if !refuse {
				f.subs = append(f.subs, s)
			}
			f.mu.Unlock()
			if refuse {
				s.mu.Lock()
				_ = c.WriteJSON(map[string]any{"id": m.ID, "type": "error", "payload": []any{map[string]any{
					"message": "at most 20 live subscriptions per user", "extensions": map[string]any{"code": "RATE_LIMITED"}}}})
				s.mu.Unlock()
			}
		case "pong":
		}
	}
}

func runFake(t *testing.T, f *fakeServer, proto string) *SubsResult {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	var log strings.Builder
	res, err := RunSubscriptions(context.Background(), SubsConfig{
		URL: srv.URL, Token: "tok", Subscribers: 30, Mutations: 5, Rate: 50, Protocol: proto,
		ServerPID: os.Getpid(), Concurrency: 7, Settle: 10 * time.Millisecond, DrainTimeout: 300 * time.Millisecond,
		Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if f.sawToken != "tok" {
		t.Errorf("connection_init token %q", f.sawToken)
	}
	return res
}

func TestRunSubscriptionsAgainstFake(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			res := runFake(t, &fakeServer{t: t}, proto)
			if !res.OK() || res.Connected != 30 || res.Expected != 150 || res.Delivered != 150 || res.Missed != 0 ||
				res.Duplicates != 0 || res.Unmatched != 0 || res.MutationsOK != 5 || res.WarmupMutations < 1 {
				t.Errorf("%+v", res)
			}
			if res.AllReceived.Count != 5 || res.Deliveries.Count != 150 || res.MutationLatency.Count != 5 {
				t.Errorf("summaries %+v %+v %+v", res.AllReceived, res.Deliveries, res.MutationLatency)
			}
			if res.AllReceived.P99MS < res.Deliveries.P50MS || res.NegativeDelays != 0 {
				t.Errorf("delays %+v %+v", res.AllReceived, res.Deliveries)
			}
			if res.Server == nil || res.Server.Before == nil || res.Server.Idle == nil || res.Client.Idle == nil {
				t.Errorf("memory %+v %+v", res.Server, res.Client)
			}
			var b strings.Builder
			res.Print(&b)
			if !regexp.MustCompile(`(?m)^result +OK$`).MatchString(b.String()) {
				t.Errorf("report:\n%s", b.String())
			}
		})
	}
}

func TestRunSubscriptionsCountsMissed(t *testing.T) {
	res := runFake(t, &fakeServer{t: t, skip: 3}, "graphql-transport-ws")
	if res.OK() || res.Missed != 15 || res.Delivered != 135 {
		t.Errorf("missed %d delivered %d", res.Missed, res.Delivered)
	}
}

func TestRunSubscriptionsRefusedUpgrade(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"message":"missing or invalid API token"}]}`))
			return
		}
		(&fakeServer{t: t}).ServeHTTP(w, r)
	}))
	defer srv.Close()
	res, err := RunSubscriptions(context.Background(), SubsConfig{URL: srv.URL, Token: "tok", Subscribers: 3, Mutations: 1, Rate: 1})
	if err == nil || res == nil || res.ConnectFailures != 3 || len(res.ConnectErrors) != 1 ||
		!strings.Contains(res.ConnectErrors[0], "HTTP 401") {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestMutationOf(t *testing.T) {
	r := &run{prefix: "socdesk-bench ab12 "}
	for title, want := range map[string]int32{
		"socdesk-bench ab12 m0": 0, "socdesk-bench ab12 m59": 59, "socdesk-bench ab12 w3": -1,
		"socdesk-bench ab12 mx": -2, "socdesk-bench ff m1": -2, "other": -2, "socdesk-bench ab12 ": -2,
	} {
		if got := r.mutationOf(title); got != want {
			t.Errorf("%q: %d, want %d", title, got, want)
		}
	}
}

func TestWebsocketURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080": "ws://127.0.0.1:8080/graphql", "http://h:1/": "ws://h:1/graphql",
		"https://h/graphql": "wss://h/graphql", "ws://h:2": "ws://h:2/graphql",
	} {
		if got, err := websocketURL(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	if _, err := websocketURL("ftp://h"); err == nil {
		t.Error("ftp accepted")
	}
}

func TestErrKeyAndTopErrors(t *testing.T) {
	k := errKey(errors.New("dial tcp 127.0.0.1:41234->127.0.0.1:8080: connection reset by peer"))
	if k != "dial tcp 127.0.0.1:8080: connection reset by peer" {
		t.Errorf("%q", k)
	}
	got := topErrors(map[string]int{"a": 1, "b": 3, "c": 3, "d": 1, "e": 1, "f": 1})
	if len(got) != 5 || got[0] != "3× b" || got[1] != "3× c" || got[2] != "1× a" {
		t.Errorf("%q", got)
	}
}

func TestReadProc(t *testing.T) {
	ps, err := ReadProc(os.Getpid())
	if err != nil || ps.RSSKiB <= 0 || ps.HWMKiB < ps.RSSKiB || ps.Threads < 1 || ps.FDs < 1 {
		t.Fatalf("%+v %v", ps, err)
	}
	if lim, err := FileLimit(os.Getpid()); err != nil || lim == 0 {
		t.Fatalf("%d %v", lim, err)
	}
}

func TestRunSubscriptionsRefusedSubscriptions(t *testing.T) {
	start := time.Now()
	res := runFake(t, &fakeServer{t: t, cap: 20}, "graphql-transport-ws")
	if res.OK() || res.Dropped != 10 || res.SubscriptionErrors != 10 || res.Missed != 50 || res.Delivered != 100 ||
		len(res.DropErrors) != 1 || !strings.Contains(res.DropErrors[0], "RATE_LIMITED") {
		t.Errorf("%+v", res)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("waited %s for subscribers that were refused", time.Since(start))
	}
}

func TestRunSubscriptionsTargets(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{t: t})
	defer srv.Close()
	res, err := RunSubscriptions(context.Background(), SubsConfig{
		URL: srv.URL, Token: "tok", Subscribers: 5, Mutations: 2, Rate: 50, Settle: time.Millisecond,
		MaxP99: time.Nanosecond, MaxKiBPerConn: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || len(res.Violations) != 2 || !strings.Contains(res.Violations[0], "p99") ||
		!strings.Contains(res.Violations[1], "not measured") {
		t.Errorf("%q", res.Violations)
	}
}
