package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"socdesk/ent"
	"socdesk/ent/apitoken"
	"socdesk/ent/user"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/devtools/wstest"
)

// TestRealClients: the graphql-ws library (graphql-transport-ws) and
// subscriptions-transport-ws (the older protocol), driven through node,
// subscribe with the token in connection_init, receive changes as they
// commit, and are refused with 4403 without a valid token.
func TestRealClients(t *testing.T) {
	wstest.EnsureDeps(t)
	e := newEnv(t, testdb.Backends[0])
	f := liveSetup(e)
	for _, proto := range wstest.Protocols {
		t.Run(proto, func(t *testing.T) {
			c := wstest.Start(t, wstest.Options{URL: e.srv.URL + "/graphql", Protocol: proto, Payload: map[string]any{"token": e.admin}})
			c.ExpectConnected()
			before := e.hub.Stats().Subscribers
			c.Subscribe("events", `subscription($f: TicketFilter) { ticketEvents(filter: $f) { cursor kind previousStatus ticket { title status site { name } } actor { login } } }`,
				map[string]any{"f": map[string]any{"sites": []string{gid(f.site)}}})
			waitSubscribed(t, e, before+1)
			id := e.liveCreate(e.admin, f.site, f.cat, "Phishing wave "+proto)
			e.liveMove(e.admin, id, "ANALYSIS")
			type ev struct {
				TicketEvents struct {
					Cursor, Kind   string
					PreviousStatus *string
					Ticket         struct {
						Title, Status string
						Site          struct{ Name string }
					}
					Actor struct{ Login string }
				}
			}
			var a, b ev
			if err := c.ExpectNext("events").Data(&a); err != nil {
				t.Fatal(err)
			}
			if err := c.ExpectNext("events").Data(&b); err != nil {
				t.Fatal(err)
			}
			if a.TicketEvents.Kind != "CREATED" || a.TicketEvents.Ticket.Title != "Phishing wave "+proto || a.TicketEvents.Ticket.Site.Name != "HQ" || a.TicketEvents.Actor.Login != "admin" {
				t.Fatalf("first event: %+v", a)
			}
			if b.TicketEvents.Kind != "TRANSITIONED" || *b.TicketEvents.PreviousStatus != "TRIAGE" || b.TicketEvents.Ticket.Status != "ANALYSIS" || b.TicketEvents.Cursor == a.TicketEvents.Cursor {
				t.Fatalf("second event: %+v", b)
			}
			c.Unsubscribe("events")
			c.ExpectComplete("events")
		})
		t.Run(proto+" refused", func(t *testing.T) {
			c := wstest.Start(t, wstest.Options{URL: e.srv.URL + "/graphql", Protocol: proto, Payload: map[string]any{"token": "sdk_nope"}})
			if code, reason := c.WaitClosed(10 * time.Second); code != 4403 {
				t.Fatalf("closed with %d %q, want 4403", code, reason)
			}
		})
	}
}

// TestProtocolCloseCodes: the server holds clients to graphql-transport-ws:
// 4408 when connection_init never comes, 4429 for a second one, 4401 for a
// subscription before the acknowledgement, 4409 for an id in use.
func TestProtocolCloseCodes(t *testing.T) {
	cfg := config.Default()
	cfg.WSInitTimeout = 300 * time.Millisecond
	e := newEnvWith(t, testdb.Backends[0], cfg)
	sub := map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": `subscription { ticketEvents { cursor } }`}}
	init := map[string]any{"type": "connection_init", "payload": map[string]any{"token": e.admin}}
	for _, c := range []struct {
		name string
		msgs []any
		want int
	}{
		{"no connection_init", nil, 4408},
		{"second connection_init", []any{init, init}, 4429},
		{"subscribe before the ack", []any{sub}, 4401},
		{"id in use", []any{init, sub, sub}, 4409},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := e.dialWS(t, "", nil)
			for _, m := range c.msgs {
				ws.send(m)
			}
			if code := ws.closeCode(); code != c.want {
				t.Fatalf("closed with %d, want %d", code, c.want)
			}
		})
	}
	t.Run("the real client hears 4409", func(t *testing.T) {
		wstest.EnsureDeps(t)
		c := wstest.Start(t, wstest.Options{URL: e.srv.URL + "/graphql", Protocol: wstest.TransportWS, Payload: map[string]any{"token": e.admin}})
		c.ExpectConnected()
		c.SubscribeWireID("a", "same", `subscription { ticketEvents { cursor } }`, nil)
		c.SubscribeWireID("b", "same", `subscription { ticketEvents { cursor } }`, nil)
		if code, _ := c.WaitClosed(10 * time.Second); code != 4409 {
			t.Fatalf("closed with %d, want 4409", code)
		}
	})
}

// TestKeepAlive: an idle connection gets the server's pings.
func TestKeepAlive(t *testing.T) {
	cfg := config.Default()
	cfg.WSKeepAlive = time.Second
	e := newEnvWith(t, testdb.Backends[0], cfg)
	ws := e.dialWS(t, e.admin, nil)
	_ = ws.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m wsMsg
	if err := ws.c.ReadJSON(&m); err != nil || m.Type != "ping" {
		t.Fatalf("want a ping, got %+v %v", m, err)
	}
	legacy := websocket.Dialer{Subprotocols: []string{"graphql-ws"}}
	c, _, err := legacy.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"token": e.admin}})
	kas := 0
	for kas < 2 {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("legacy keep-alive: %v", err)
		}
		if m.Type == "ka" {
			kas++
		}
	}
}

// TestTicketTrendSubscription: the series comes at once, then again after
// a change that affects it, at most once a second however many changes
// come; a change outside the filter pushes nothing.
func TestTicketTrendSubscription(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		id := e.liveCreate(e.admin, f.site, f.cat, "t")
		today := time.Now().UTC().Format(time.DateOnly)
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(`subscription($f: TicketFilter, $d: Date!) { ticketTrend(filter: $f, from: $d, to: $d) { days { date total counts { status count } } } }`,
			map[string]any{"d": today, "f": map[string]any{"sites": []string{gid(f.site)}, "statuses": []string{"TRIAGE", "ANALYSIS"}}})
		counts := func() (map[string]int, time.Time) {
			t.Helper()
			m := ws.nextOfOr(op, func(err error) { t.Fatalf("no trend push: %v\n%s", err, e.liveDiagnosis()) })
			at := time.Now()
			var p struct {
				Data struct {
					TicketTrend struct {
						Days []struct {
							Date   string
							Total  int
							Counts []struct {
								Status string
								Count  int
							}
						}
					}
				}
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Data.TicketTrend.Days) != 1 {
				t.Fatalf("trend: %s %s", m.Type, m.Payload)
			}
			out := map[string]int{"total": p.Data.TicketTrend.Days[0].Total}
			for _, c := range p.Data.TicketTrend.Days[0].Counts {
				out[c.Status] = c.Count
			}
			return out, at
		}
		if c, _ := counts(); c["TRIAGE"] != 1 || c["ANALYSIS"] != 0 || c["total"] != 1 {
			t.Fatalf("first series: %v", c)
		}
		waitWatched(t, e, 1)
		e.liveMove(e.admin, id, "ANALYSIS")
		c, first := counts()
		if c["TRIAGE"] != 0 || c["ANALYSIS"] != 1 {
			t.Fatalf("after the move: %v", c)
		}
		// A burst of changes: coalesced into pushes a second apart, the last
		// one showing the end state.
		e.liveCreate(e.admin, f.site, f.cat, "u")
		e.liveRename(e.admin, id, "t, renamed") // changes no bar
		e.liveMove(e.admin, id, "REMEDIATION")
		prev := first
		for {
			c, at := counts()
			if gap := at.Sub(prev); gap < 900*time.Millisecond {
				t.Fatalf("two pushes %v apart", gap)
			}
			prev = at
			if c["ANALYSIS"] == 0 && c["TRIAGE"] == 1 && c["total"] == 1 {
				break
			}
		}
		e.liveCreate(e.admin, f.other, f.cat, "elsewhere") // not in the filter's sites
		ws.quiet(1500 * time.Millisecond)
	})
}

// TestRevokedTokenEndsStream: a connection authenticates once, but its
// token is checked again: revoked, or its user's sites changed, the
// connection ends (the client reconnects and is refused, or gets its new
// scope).
func TestRevokedTokenEndsStream(t *testing.T) {
	cfg := config.Default()
	cfg.WSRecheck = 100 * time.Millisecond
	e := newEnvWith(t, testdb.Backends[0], cfg)
	hq := e.site("HQ")
	for _, c := range []struct {
		name   string
		header bool // the token came with the upgrade request
		change func(u *ent.User)
	}{
		{"token of the upgrade header revoked", true, func(u *ent.User) {
			e.client.APIToken.Delete().Where(apitoken.HasUserWith(user.ID(u.ID))).ExecX(sys())
		}},
		{"token revoked", false, func(u *ent.User) {
			e.client.APIToken.Delete().Where(apitoken.HasUserWith(user.ID(u.ID))).ExecX(sys())
		}},
		{"site taken away", false, func(u *ent.User) { e.client.User.UpdateOne(u).ClearSites().ExecX(sys()) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, u := e.user("u."+strings.ReplaceAll(c.name, " ", "."), user.RoleANALYST, view, hq)
			var ws *wsConn
			if c.header {
				ws = e.dialWS(t, "", http.Header{"Authorization": {"Bearer " + tok}})
				ws.send(map[string]any{"type": "connection_init"})
				if m := ws.next(); m.Type != "connection_ack" {
					t.Fatalf("header token: %s", m.Type)
				}
			} else {
				ws = e.dialWS(t, tok, nil)
			}
			ws.subscribe(changeQuery, nil)
			time.Sleep(300 * time.Millisecond) // checked again, still good
			c.change(u)
			if code := ws.closeCode(); code != websocket.CloseNormalClosure {
				t.Fatalf("closed with %d", code)
			}
			if c.name == "token revoked" {
				ws := e.dialWS(t, "", nil)
				ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": tok}})
				if code := ws.closeCode(); code != 4403 {
					t.Fatalf("reconnecting: closed with %d, want 4403", code)
				}
			}
		})
	}
}
