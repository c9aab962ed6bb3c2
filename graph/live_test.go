package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/devtools/wstest"
	"socdesk/internal/live"
	"socdesk/internal/metrics"
	"socdesk/internal/tickets"
)

// wsConn is a graphql-transport-ws client connection to the test server.
type wsConn struct {
	t       *testing.T
	c       *websocket.Conn
	id      int
	pending []wsMsg // read while waiting for another operation's
}

// wsMsg is one server message.
type wsMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// dialWS opens a connection and, with a token, initializes it.
func (e *env) dialWS(t *testing.T, token string, header http.Header) *wsConn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", header)
	if err != nil {
		if resp != nil {
			t.Fatalf("dial: %v (HTTP %d)", err, resp.StatusCode)
		}
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	w := &wsConn{t: t, c: c}
	if token != "" {
		w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"token": token}})
		if m := w.next(); m.Type != "connection_ack" {
			t.Fatalf("connection_init: got %s %s", m.Type, m.Payload)
		}
	}
	return w
}

func (w *wsConn) send(v any) {
	w.t.Helper()
	if err := w.c.WriteJSON(v); err != nil {
		w.t.Fatalf("send: %v", err)
	}
}

// subscribe starts an operation and returns its id.
func (w *wsConn) subscribe(query string, vars map[string]any) string {
	w.t.Helper()
	w.id++
	id := fmt.Sprint(w.id)
	w.send(map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{"query": query, "variables": vars}})
	return id
}

// next returns the next message other than a ping (answered).
func (w *wsConn) next() wsMsg {
	w.t.Helper()
	m, err := w.read(10 * time.Second)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return m
}

// nextOfOr is nextOf, calling fail instead when nothing comes in time.
func (w *wsConn) nextOfOr(id string, fail func(error)) wsMsg {
	w.t.Helper()
	for i, m := range w.pending {
		if m.ID == id {
			w.pending = append(w.pending[:i:i], w.pending[i+1:]...)
			return m
		}
	}
	for {
		m, err := w.read(10 * time.Second)
		if err != nil {
			fail(err)
			return m
		}
		if m.ID == id {
			return m
		}
		w.pending = append(w.pending, m)
	}
}

// liveDiagnosis says what the hub and the database were doing, for a test
// that waited in vain for a live message: the hub's load and counts, the
// newest history entries and, on PostgreSQL, the transactions open in the
// test database (a history writer holding the hub's horizon back).
func (e *env) liveDiagnosis() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hub: %+v %+v\n", e.hub.Stats(), e.hub.Counts())
	ctx := context.Background()
	if rows, err := e.st.DB.QueryContext(ctx, `SELECT id, tx, kind, ticket_number FROM ticket_events ORDER BY id DESC LIMIT 5`); err == nil {
		for rows.Next() {
			var id, n int
			var tx int64
			var kind string
			_ = rows.Scan(&id, &tx, &kind, &n)
			fmt.Fprintf(&b, "entry %d tx %d %s #%d\n", id, tx, kind, n)
		}
		rows.Close()
	}
	if e.st.Dialect == dialect.Postgres {
		var xmax int64
		_ = e.st.DB.QueryRowContext(ctx, `SELECT (pg_snapshot_xmax(pg_current_snapshot())::text)::bigint`).Scan(&xmax)
		fmt.Fprintf(&b, "snapshot xmax %d\n", xmax)
	}
	if e.st.Dialect == dialect.Postgres {
		rows, err := e.st.DB.QueryContext(ctx, `SELECT pid, state, coalesce(backend_xid::text, ''), coalesce(extract(epoch FROM now() - xact_start)::text, ''), left(query, 200)
			FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`)
		if err == nil {
			for rows.Next() {
				var pid int
				var state, xid, age, q string
				_ = rows.Scan(&pid, &state, &xid, &age, &q)
				fmt.Fprintf(&b, "open transaction: pid %d %s xid %s for %ss: %s\n", pid, state, xid, age, q)
			}
			rows.Close()
		}
	}
	return b.String()
}

func (w *wsConn) read(timeout time.Duration) (wsMsg, error) {
	for {
		_ = w.c.SetReadDeadline(time.Now().Add(timeout))
		var m wsMsg
		if err := w.c.ReadJSON(&m); err != nil {
			return m, err
		}
		if m.Type == "ping" {
			_ = w.c.WriteJSON(map[string]any{"type": "pong"})
			continue
		}
		return m, nil
	}
}

// quiet fails if a message is pending or comes within d.
func (w *wsConn) quiet(d time.Duration) {
	w.t.Helper()
	if len(w.pending) > 0 {
		w.t.Fatalf("unexpected message: %s %s", w.pending[0].Type, w.pending[0].Payload)
	}
	if m, err := w.read(d); err == nil {
		w.t.Fatalf("unexpected message: %s %s", m.Type, m.Payload)
	}
}

// closeCode waits for the server to close the connection and returns its code.
func (w *wsConn) closeCode() int {
	w.t.Helper()
	for {
		_, err := w.read(10 * time.Second)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			w.t.Fatalf("waiting for close: %v", err)
		}
	}
}

// change is what the tests select of a TicketChange.
type change = wstest.Change

const changeQuery = wstest.ChangeQuery

// nextOf returns the next message of operation id, keeping the others'.
func (w *wsConn) nextOf(id string) wsMsg {
	w.t.Helper()
	return w.nextOfOr(id, func(err error) { w.t.Helper(); w.t.Fatalf("read: %v", err) })
}

// change reads the next event of operation id.
func (w *wsConn) change(id string) change {
	w.t.Helper()
	m := w.nextOf(id)
	if m.Type != "next" || m.ID != id {
		w.t.Fatalf("want the next event of %s, got %s %s %s", id, m.Type, m.ID, m.Payload)
	}
	var p struct {
		Data struct {
			TicketEvents change `json:"ticketEvents"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		w.t.Fatalf("event: %v %s", err, m.Payload)
	}
	return p.Data.TicketEvents
}

// liveFix is a site with an incident category, for live tests.
type liveFix struct {
	site, other, cat int
}

func liveSetup(e *env) liveFix {
	return liveFix{site: e.site("HQ"), other: e.site("Branch"), cat: e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)}
}

// create opens a ticket through the API and returns its GraphQL id.
func (e *env) liveCreate(token string, site, cat int, title string) string {
	e.t.Helper()
	var out struct {
		CreateTicket struct {
			ID string `json:"id"`
		} `json:"createTicket"`
	}
	e.do(token, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"kind": "ANALYSIS", "title": title, "body": "Seen by the proxy.", "categoryID": gid(cat), "siteID": gid(site), "priority": "HIGH",
	}}).ok().into(&out)
	return out.CreateTicket.ID
}

func (e *env) liveRename(token, id, title string) {
	e.t.Helper()
	e.do(token, `mutation($id: ID!, $t: String!) { updateTicket(id: $id, input: {title: $t}) { id } }`,
		map[string]any{"id": id, "t": title}).ok()
}

func (e *env) liveMove(token, id, to string) {
	e.t.Helper()
	e.do(token, `mutation($id: ID!, $to: TicketStatus!) { transitionTicket(id: $id, action: MOVE, toStatus: $to) { id } }`,
		map[string]any{"id": id, "to": to}).ok()
}

// TestTicketEventsStream: a subscriber sees every kind of change, in
// order, with the previous status, the actor, a cursor and the fields of
// the ticket it selected; a deleted ticket comes as null.
func TestTicketEventsStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)

		id := e.liveCreate(e.admin, f.site, f.cat, "Beacon to rare domain")
		c := ws.change(op)
		if c.Kind != "CREATED" || c.Ticket == nil || c.Ticket.ID != id || c.Ticket.Status != "TRIAGE" ||
			c.Ticket.Category.Name != "Incidents" || c.Actor == nil || c.Actor.Login != "admin" || c.Cursor == "" || c.PreviousStatus != nil {
			t.Fatalf("CREATED: %+v", c)
		}
		e.liveRename(e.admin, id, "Beacon to rare domain (2 hosts)")
		c = ws.change(op)
		if c.Kind != "UPDATED" || c.Ticket.Title != "Beacon to rare domain (2 hosts)" || len(c.Changes) != 1 || c.Changes[0].Field != "title" || c.Changes[0].From != "Beacon to rare domain" {
			t.Fatalf("UPDATED: %+v", c)
		}
		e.liveMove(e.admin, id, "ANALYSIS")
		c = ws.change(op)
		if c.Kind != "TRANSITIONED" || c.PreviousStatus == nil || *c.PreviousStatus != "TRIAGE" || c.Ticket.Status != "ANALYSIS" {
			t.Fatalf("TRANSITIONED: %+v", c)
		}
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": id}).ok()
		c = ws.change(op)
		if c.Kind != "DELETED" || c.Ticket != nil || c.TicketID != id {
			t.Fatalf("DELETED: %+v", c)
		}
		ws.quiet(200 * time.Millisecond)
	})
}

// waitSubscribed waits until the hub has n live subscribers (gqlgen says
// nothing when a subscription starts).
func waitSubscribed(t *testing.T, e *env, n int) {
	t.Helper()
	waitHub(t, e, fmt.Sprintf("%d subscribers", n), func(s live.Stats) bool { return s.Subscribers >= n })
}

// waitWatched waits until the hub has n trend subscribers.
func waitWatched(t *testing.T, e *env, n int) {
	t.Helper()
	waitHub(t, e, fmt.Sprintf("%d trend subscribers", n), func(s live.Stats) bool { return s.Watchers >= n })
}

func waitHub(t *testing.T, e *env, what string, ok func(live.Stats) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok(e.hub.Stats()) {
			return
		}
	}
	t.Fatalf("never %s: %+v", what, e.hub.Stats())
}

// TestTicketEventsFilterAndSites: a subscriber gets the changes of tickets
// that match its filter before or after the change (a ticket leaving the
// filtered list is news too), and only of its own sites.
func TestTicketEventsFilterAndSites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		tok, _ := e.user("hq.analyst", user.RoleANALYST, view, f.site)
		ws := e.dialWS(t, tok, nil)
		op := ws.subscribe(changeQuery, map[string]any{"f": map[string]any{"statuses": []string{"ANALYSIS"}}})
		all := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 2)

		elsewhere := e.liveCreate(e.admin, f.other, f.cat, "Other site")
		e.liveMove(e.admin, elsewhere, "ANALYSIS")
		here := e.liveCreate(e.admin, f.site, f.cat, "Here")
		if c := ws.change(all); c.Kind != "CREATED" || c.TicketID != here {
			t.Fatalf("the unfiltered subscription got %+v, want the creation of %s only", c, here)
		}
		e.liveMove(e.admin, here, "ANALYSIS") // enters the filter
		if c := ws.change(all); c.Kind != "TRANSITIONED" {
			t.Fatalf("%+v", c)
		}
		if c := ws.change(op); c.Kind != "TRANSITIONED" || c.TicketID != here || *c.PreviousStatus != "TRIAGE" {
			t.Fatalf("entering the filter: %+v", c)
		}
		e.liveMove(e.admin, here, "REMEDIATION") // leaves it
		if c := ws.change(all); c.Kind != "TRANSITIONED" {
			t.Fatalf("%+v", c)
		}
		if c := ws.change(op); c.Kind != "TRANSITIONED" || c.Ticket.Status != "REMEDIATION" || *c.PreviousStatus != "ANALYSIS" {
			t.Fatalf("leaving the filter: %+v", c)
		}
		e.liveRename(e.admin, here, "Here, renamed") // outside the filter before and after
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("%+v", c)
		}
		ws.quiet(300 * time.Millisecond) // nothing on op, nothing of the other site
	})
}

// TestTicketEventsRefusals: bad input and missing permissions are refused
// with their codes before anything streams.
func TestTicketEventsRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		noView, _ := e.user("no.view", user.RoleANALYST, []schematype.Permission{}, e.site("S"))
		f := liveSetup(e)
		e.liveCreate(e.admin, f.site, f.cat, "t0") // the head is past the start
		e.liveCreate(e.admin, f.site, f.cat, "t1")
		ahead := live.EncodeCursor(live.Position{Tx: 1 << 40, ID: 1 << 30})
		// A made-up position below the head that no entry has: the first
		// entry's transaction with an id it never had (on SQLite, where every
		// transaction id is 0 and ids are dense, the next free id: beyond the head).
		first := e.client.TicketEvent.Query().Order(ent.Asc(ticketevent.FieldID)).FirstX(sys())
		between := live.EncodeCursor(live.Position{Tx: first.Tx, ID: first.ID + 1<<30})
		for _, c := range []struct {
			name, token, code, field string
			vars                     map[string]any
			message                  string
		}{
			{"cursor of no entry", e.admin, "BAD_USER_INPUT", "after", map[string]any{"after": between}, "after: invalid cursor"},
			{"bad cursor", e.admin, "BAD_USER_INPUT", "after", map[string]any{"after": "nonsense"}, "after: invalid cursor"},
			{"cursor with trailing bytes", e.admin, "BAD_USER_INPUT", "after", map[string]any{"after": live.EncodeCursor(live.Position{}) + "AA"}, "after: invalid cursor"},
			{"cursor beyond the head", e.admin, "BAD_USER_INPUT", "after", map[string]any{"after": ahead}, "after: invalid cursor"},
			{"bad filter", e.admin, "BAD_USER_INPUT", "filter.keyword", map[string]any{"f": map[string]any{"keyword": ""}}, ""},
			{"no permission", noView, "FORBIDDEN", "", nil, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				ws := e.dialWS(t, c.token, nil)
				op := ws.subscribe(changeQuery, c.vars)
				m := ws.next()
				var p struct {
					Errors []gqlError `json:"errors"`
				}
				_ = json.Unmarshal(m.Payload, &p)
				if m.Type != "next" || m.ID != op || len(p.Errors) == 0 || p.Errors[0].Extensions["code"] != c.code ||
					(c.field != "" && p.Errors[0].Extensions["field"] != c.field) {
					t.Fatalf("got %s %s, want an error %s %s", m.Type, m.Payload, c.code, c.field)
				}
				if c.message != "" && p.Errors[0].Message != c.message {
					t.Fatalf("message %q, want %q", p.Errors[0].Message, c.message)
				}
				if m := ws.next(); m.Type != "complete" || m.ID != op {
					t.Fatalf("after the error: %s %s", m.Type, m.Payload)
				}
			})
		}
	})
}

// TestTicketEventsResume: a subscriber that comes back with the cursor of
// the last change it received gets every change since, from the history,
// exactly once and in order, then the live ones.
func TestTicketEventsResume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)
		id := e.liveCreate(e.admin, f.site, f.cat, "t0")
		e.liveRename(e.admin, id, "t1")
		_ = ws.change(op)
		last := ws.change(op)
		ws.c.Close()
		for i := 2; i <= 6; i++ { // while it is away
			e.liveRename(e.admin, id, fmt.Sprintf("t%d", i))
		}
		ws = e.dialWS(t, e.admin, nil)
		op = ws.subscribe(changeQuery, map[string]any{"after": last.Cursor})
		for i := 2; i <= 6; i++ {
			c := ws.change(op)
			if c.Changes[0].To != fmt.Sprintf("t%d", i) {
				t.Fatalf("replay %d: %+v", i, c.Changes)
			}
		}
		waitSubscribed(t, e, 1)
		e.liveRename(e.admin, id, "t7")
		if c := ws.change(op); c.Changes[0].To != "t7" {
			t.Fatalf("live after the replay: %+v", c.Changes)
		}
		ws.quiet(200 * time.Millisecond)
	})
}

// TestTicketEventsSlowSubscriber: a subscriber that stops reading does not
// make the server buffer without bound: once its queue is full it gets
// RESUME_REQUIRED with the cursor to resume from, and resuming from it
// yields the rest, none twice.
func TestTicketEventsSlowSubscriber(t *testing.T) {
	cfg := config.Default()
	cfg.LiveQueue = 4
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, cfg)
			f := liveSetup(e)
			id := e.liveCreate(e.admin, f.site, f.cat, "t0")
			big := strings.Repeat("x", 60_000)
			e.do(e.admin, `mutation($id: ID!, $b: String!) { updateTicket(id: $id, input: {body: $b}) { id } }`, map[string]any{"id": id, "b": big}).ok()
			ws := e.dialWS(t, e.admin, nil)
			op := ws.subscribe(`subscription { ticketEvents { cursor changes { field to } ticket { body } } }`, nil)
			waitSubscribed(t, e, 1)
			const n = 200 // 200 × 60 kB: far more than the socket buffers hold
			for i := 1; i <= n; i++ {
				e.liveRename(e.admin, id, fmt.Sprintf("t%d", i))
			}
			var got []string
			var cursor string
			for {
				m := ws.next()
				if m.Type == "complete" {
					break
				}
				var p struct {
					Data *struct {
						TicketEvents struct {
							Cursor  string `json:"cursor"`
							Changes []struct {
								Field string `json:"field"`
								To    any    `json:"to"`
							} `json:"changes"`
						} `json:"ticketEvents"`
					} `json:"data"`
					Errors []gqlError `json:"errors"`
				}
				if err := json.Unmarshal(m.Payload, &p); err != nil {
					t.Fatal(err)
				}
				if len(p.Errors) > 0 {
					if p.Errors[0].Extensions["code"] != "RESUME_REQUIRED" {
						t.Fatalf("error %+v", p.Errors)
					}
					cursor, _ = p.Errors[0].Extensions["cursor"].(string)
					continue
				}
				if ch := p.Data.TicketEvents.Changes[0]; ch.Field == "title" { // not the body set before it subscribed
					got = append(got, ch.To.(string))
				}
			}
			if cursor == "" || len(got) >= n {
				t.Fatalf("received %d of %d changes and cursor %q: the subscriber was not dropped", len(got), n, cursor)
			}
			// Operators see it: the drop, and the error it was told.
			if d, c := counterValue(t, e.metrics, "socdesk_live_subscribers_dropped_total", "", ""), counterValue(t, e.metrics, "socdesk_graphql_errors_total", "code", "RESUME_REQUIRED"); d != 1 || c != 1 {
				t.Fatalf("metrics: %v subscribers dropped and %v RESUME_REQUIRED errors, want 1 and 1", d, c)
			}
			ws = e.dialWS(t, e.admin, nil)
			resumedAt := len(got)
			op = ws.subscribe(`subscription($a: String) { ticketEvents(after: $a) { changes { to } } }`, map[string]any{"a": cursor})
			for len(got) < n {
				m := ws.next()
				var p struct {
					Data struct {
						TicketEvents struct {
							Changes []struct {
								To string `json:"to"`
							} `json:"changes"`
						} `json:"ticketEvents"`
					} `json:"data"`
				}
				if m.Type != "next" || m.ID != op || json.Unmarshal(m.Payload, &p) != nil {
					t.Fatalf("resumed: %s %s", m.Type, m.Payload)
				}
				got = append(got, p.Data.TicketEvents.Changes[0].To)
			}
			for i, title := range got {
				if title != fmt.Sprintf("t%d", i+1) {
					t.Fatalf("change %d is %q: lost or repeated (resumed after %d)", i+1, title, resumedAt)
				}
			}
			t.Logf("dropped after %d of %d changes, resumed from its cursor", resumedAt, n)
			ws.quiet(200 * time.Millisecond)
		})
	}
}

// TestSubscriptionLimits: one user's subscriptions are bounded over all
// their connections; a refused one gets RATE_LIMITED and the others run on.
func TestSubscriptionLimits(t *testing.T) {
	cfg := config.Default()
	cfg.LiveMaxPerUser = 2
	e := newEnvWith(t, testdb.Backends[0], cfg)
	a, b := e.dialWS(t, e.admin, nil), e.dialWS(t, e.admin, nil)
	a.subscribe(changeQuery, nil)
	b.subscribe(changeQuery, nil)
	waitSubscribed(t, e, 2)
	op := b.subscribe(changeQuery, nil)
	m := b.next()
	if m.Type != "next" || m.ID != op || !strings.Contains(string(m.Payload), "RATE_LIMITED") {
		t.Fatalf("third subscription: %s %s", m.Type, m.Payload)
	}
	a.c.Close()
	for deadline := time.Now().Add(5 * time.Second); e.hub.Stats().Subscribers > 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's subscription stays counted")
		}
	}
	b.subscribe(changeQuery, nil)
	waitSubscribed(t, e, 2)
}

// TestWebsocketAuthentication: the token comes in connection_init; without
// a valid one the connection closes with 4403. Browsers' cross-origin
// upgrades are refused unless the origin is configured.
func TestWebsocketAuthentication(t *testing.T) {
	cfg := config.Default()
	cfg.WSOrigins = "https://wallboard.example.com"
	e := newEnvWith(t, testdb.Backends[0], cfg)
	for name, payload := range map[string]map[string]any{
		"no token":  {},
		"bad token": {"token": "sdk_" + strings.Repeat("0", 40)},
	} {
		t.Run(name, func(t *testing.T) {
			ws := e.dialWS(t, "", nil)
			ws.send(map[string]any{"type": "connection_init", "payload": payload})
			if code := ws.closeCode(); code != 4403 {
				t.Fatalf("closed with %d, want 4403", code)
			}
		})
	}
	t.Run("Authorization in the payload", func(t *testing.T) {
		ws := e.dialWS(t, "", nil)
		ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + e.admin}})
		if m := ws.next(); m.Type != "connection_ack" {
			t.Fatalf("got %s", m.Type)
		}
	})
	t.Run("allowed origin", func(t *testing.T) {
		e.dialWS(t, e.admin, http.Header{"Origin": {"https://wallboard.example.com"}})
	})
	t.Run("other origin", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
		_, resp, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", http.Header{"Origin": {"https://evil.example.com"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin upgrade: %v %v", err, resp)
		}
	})
}

// TestNoGoroutinesLeftBehind: connections that subscribe and go away,
// politely or not, leave no goroutine behind.
func TestNoGoroutinesLeftBehind(t *testing.T) {
	cfg := config.Default()
	cfg.LiveMaxPerUser = 100
	e := newEnvWith(t, testdb.Backends[0], cfg)
	f := liveSetup(e)
	id := e.liveCreate(e.admin, f.site, f.cat, "t0")
	settle := func() int {
		n := connectionGoroutines()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			if m := connectionGoroutines(); m == n {
				return n
			} else {
				n = m
			}
		}
		return n
	}
	before := settle()
	var conns []*wsConn
	for i := range 40 {
		ws := e.dialWS(t, e.admin, nil)
		ws.subscribe(changeQuery, nil)
		if i%2 == 0 {
			ws.subscribe(`subscription { ticketTrend(from: "2026-01-01", to: "2026-01-31") { days { total } } }`, nil)
		}
		conns = append(conns, ws)
	}
	waitSubscribed(t, e, 40)
	e.liveRename(e.admin, id, "t1")
	for _, ws := range conns {
		ws.change("1")
	}
	during := connectionGoroutines()
	for i, ws := range conns {
		if i%2 == 0 {
			_ = ws.c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		}
		ws.c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := settle()
		if after <= before+2 && e.hub.Stats() == (live.Stats{}) {
			t.Logf("goroutines: %d before, %d with 40 connections, %d after", before, during, after)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after the clients left; hub %+v\n%s", before, after, e.hub.Stats(), buf[:runtime.Stack(buf, true)])
		}
	}
}

// connectionGoroutines counts the goroutines that may belong to a
// connection: the job engine's own (River's maintenance services start when
// its leader is elected, which may come at any time during the test) and
// database/sql's pool goroutines are left out, since no connection owns them.
func connectionGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/riverqueue/") || strings.Contains(g, "database/sql.") {
			continue
		}
		n++
	}
	return n
}

// TestUnpublishedChangesAreRelayed: a change committed but never published
// (its process died between commit and publish, or the broker was down)
// still reaches subscribers, in order, through the relay reading the
// history.
func TestUnpublishedChangesAreRelayed(t *testing.T) {
	cfg := config.Default()
	cfg.LivePoll = 200 * time.Millisecond
	forEachBackend(t, func(t *testing.T, e *env) {
		e = newEnvWith(t, e.backend, cfg)
		f := liveSetup(e)
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)
		id := e.liveCreate(e.admin, f.site, f.cat, "t0")
		ws.change(op)
		silent := &tickets.Service{Client: e.client, Dialect: e.st.Dialect} // publishes nothing
		num, _ := scalar.DecodeID(id)
		for i := 1; i <= 3; i++ {
			title := fmt.Sprintf("t%d", i)
			if _, err := silent.Update(e.viewerContext(t, "admin"), num, tickets.UpdateInput{Title: &title}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 3; i++ {
			if c := ws.change(op); c.Changes[0].To != fmt.Sprintf("t%d", i) {
				t.Fatalf("relayed change %d: %+v", i, c.Changes)
			}
		}
		ws.quiet(300 * time.Millisecond)
	})
}

// TestMovedTicketIsNotShown: a subscriber learns that a ticket left its
// sites, but never sees the ticket as it is in a site it may not see, live
// or in a replay: the move comes closed (id, number, kind), without the
// changes or the history entry, whose title and body are the new site's.
func TestMovedTicketIsNotShown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		tok, _ := e.user("hq.only", user.RoleANALYST, view, f.site)
		id := e.liveCreate(e.admin, f.site, f.cat, "t0")
		ws := e.dialWS(t, tok, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)
		e.liveRename(e.admin, id, "t1")
		start := ws.change(op).Cursor
		e.do(e.admin, `mutation($id: ID!, $s: ID!, $t: String!, $b: String!) { updateTicket(id: $id, input: {siteID: $s, title: $t, body: $b}) { id } }`,
			map[string]any{"id": id, "s": gid(f.other), "t": "SECRET title", "b": "SECRET body"}).ok()
		e.liveRename(e.admin, id, "SECRET of the branch")
		check := func(ws *wsConn, op string) {
			t.Helper()
			m := ws.nextOf(op)
			if strings.Contains(string(m.Payload), "SECRET") {
				t.Fatalf("the move shows what it wrote: %s", m.Payload)
			}
			ws.pending = append([]wsMsg{m}, ws.pending...)
			c := ws.change(op)
			if c.Kind != "UPDATED" || len(c.Changes) != 0 || c.Ticket != nil || c.Event != nil || c.Actor != nil || c.InView ||
				c.TicketID != id || c.Cursor == "" {
				t.Fatalf("the move: %+v", c)
			}
			ws.quiet(300 * time.Millisecond)
		}
		check(ws, op)
		ws = e.dialWS(t, tok, nil)
		op = ws.subscribe(changeQuery, map[string]any{"after": start})
		check(ws, op)
	})
}

// TestReplayMatchesEachChangeAsItWas: a filtered replay judges each change
// by the ticket as that change left it, however much happened since (here
// more than one read's worth).
func TestReplayMatchesEachChangeAsItWas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		other := e.liveCreate(e.admin, f.site, f.cat, "other")
		e.liveMove(e.admin, other, "REMEDIATION") // out of the filter below
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 1)
		e.liveRename(e.admin, other, "other, renamed")
		start := ws.change(op).Cursor
		ws.c.Close()
		id := e.liveCreate(e.admin, f.site, f.cat, "watched")
		svc := &tickets.Service{Client: e.client, Dialect: e.st.Dialect}
		otherID, _ := scalar.DecodeID(other)
		ctx := e.viewerContext(t, "admin")
		for i := range 520 {
			title := fmt.Sprintf("other %d", i)
			if _, err := svc.Update(ctx, otherID, tickets.UpdateInput{Title: &title}, nil); err != nil {
				t.Fatal(err)
			}
		}
		e.liveMove(e.admin, id, "ANALYSIS")
		ws = e.dialWS(t, e.admin, nil)
		op = ws.subscribe(changeQuery, map[string]any{"after": start, "f": map[string]any{"statuses": []string{"TRIAGE"}}})
		if c := ws.change(op); c.Kind != "CREATED" || c.TicketID != id {
			t.Fatalf("first: %+v", c)
		}
		if c := ws.change(op); c.Kind != "TRANSITIONED" || c.TicketID != id {
			t.Fatalf("second: %+v", c)
		}
		ws.quiet(300 * time.Millisecond)
	})
}

// counterValue reads a counter of the replica's registry: the series of
// name with label=value (label "": the only series).
func counterValue(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if label == "" || (l.GetName() == label && l.GetValue() == value) {
					return s.GetCounter().GetValue()
				}
			}
			if label == "" {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}
