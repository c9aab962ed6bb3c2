// Package wsguard carries GraphQL subscriptions over WebSocket: gqlgen's
// websocket transport on github.com/gorilla/websocket, with every client
// message checked against the protocol before gqlgen reads it (the
// graphql-transport-ws close codes, per-connection bounds), and open
// connections closed with 1001 when the server goes away.
package wsguard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"socdesk/internal/errs"
)

// The graphql-transport-ws close codes socdesk uses.
const (
	CloseUnauthorized = 4401 // an operation before the connection was acknowledged
	CloseForbidden    = 4403 // connection_init refused (no or bad token)
	CloseInitTimeout  = 4408 // connection_init never came
	CloseDuplicateID  = 4409 // a subscription id already in use
	CloseTooManyInits = 4429 // a second connection_init
	CloseBadMessage   = 4400 // not one JSON object, or a type the protocol does not have
)

// CloseCodes are every code the guard closes a connection with.
var CloseCodes = []int{CloseBadMessage, CloseUnauthorized, CloseForbidden, CloseInitTimeout, CloseDuplicateID, CloseTooManyInits}

// refuseOperation is check's answer to an operation over the connection's
// bound: an error for that operation alone, the connection stays.
const refuseOperation = -1

// subprotocol names.
const (
	transportWS = "graphql-transport-ws" // graphql-ws (the library)
	legacyWS    = "graphql-ws"           // subscriptions-transport-ws
)

// clientTypes are the message types a client may send, per subprotocol
// (gqlgen serves a connection without one as graphql-ws).
var clientTypes = map[string][]string{
	transportWS: {"connection_init", "ping", "pong", "subscribe", "complete"},
	legacyWS:    {"connection_init", "start", "stop", "connection_terminate"},
	"":          {"connection_init", "start", "stop", "connection_terminate"},
}

// Guard is a transport.WebsocketImplementation on gorilla/websocket that
// enforces what gqlgen's transport leaves out: the protocol's close codes
// for a missing, repeated or late connection_init, for reused operation
// ids and unknown message types, and a bound on the operations of one
// connection.
type Guard struct {
	// CheckOrigin decides cross-origin upgrades; nil allows same-origin only.
	CheckOrigin func(*http.Request) bool
	// InitTimeout is how long a client has to send connection_init.
	InitTimeout time.Duration
	// MaxOperations bounds the subscriptions running on one connection.
	MaxOperations int
	// ReadLimit bounds one inbound message.
	ReadLimit int64
	// WriteTimeout bounds one write to the client: a client that stops
	// reading is disconnected instead of holding the server's buffers.
	WriteTimeout time.Duration
	// Open, if set, holds the open connections, to close them when the
	// server goes away.
	Open *Conns
}

// bufferPool shares write buffers between connections: an idle connection
// holds none.
var bufferPool = &sync.Pool{}

// IsUpgrade reports whether r asks for a WebSocket (the routes send it to
// the websocket transport, which authenticates in connection_init).
func IsUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Accept implements transport.WebsocketImplementation.
func (g Guard) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := websocket.Upgrader{
		Subprotocols:    o.Subprotocols,
		CheckOrigin:     g.CheckOrigin,
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: bufferPool,
	}
	// Middleware wraps the writer; the upgrade needs the one that hijacks.
	for {
		if _, ok := w.(http.Hijacker); ok {
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	c, err := up.Upgrade(w, r, o.ResponseHeader)
	if err != nil {
		return nil, err
	}
	if g.ReadLimit > 0 {
		c.SetReadLimit(g.ReadLimit)
	}
	gc := &guarded{conn: c, protocol: protocol{subprotocol: c.Subprotocol(), max: g.MaxOperations, ids: map[string]bool{}}, writeTimeout: g.WriteTimeout, open: g.Open}
	if g.Open != nil && !g.Open.add(gc) {
		_ = gc.WriteClose(websocket.CloseGoingAway, "server shutting down")
		_ = c.Close()
		return nil, errors.New("the server is shutting down")
	}
	if g.InitTimeout > 0 {
		gc.initTimer = time.AfterFunc(g.InitTimeout, func() {
			gc.mu.Lock()
			late := !gc.protocol.initSeen
			gc.mu.Unlock()
			if late {
				_ = gc.WriteClose(CloseInitTimeout, "Connection initialisation timeout")
				_ = gc.conn.Close()
			}
		})
	}
	return gc, nil
}

// guarded is one connection, watching the protocol as messages pass.
type guarded struct {
	conn      *websocket.Conn
	writeMu   sync.Mutex // gorilla allows one writer at a time
	mu        sync.Mutex // guards protocol
	protocol  protocol
	initTimer *time.Timer
	// writeTimeout bounds each write; 0 means none.
	writeTimeout time.Duration
	open         *Conns
}

// protocol is what the guard knows of one connection's protocol state.
type protocol struct {
	subprotocol string
	initSeen    bool
	acked       bool
	ids         map[string]bool // operations running
	max         int
	// errored are operations ended by an error: on graphql-transport-ws
	// nothing may follow it, but gqlgen sends a complete after it.
	errored map[string]bool
}

// envelope is what the guard reads of a protocol message.
type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader implements transport.WebsocketConn: it reads one message,
// checks it against the protocol, and hands it on.
func (g *guarded) NextReader() (int, io.Reader, error) {
	for {
		mt, r, err := g.nextReader()
		if err != errRefused {
			return mt, r, err
		}
	}
}

var errRefused = errors.New("operation refused")

func (g *guarded) nextReader() (int, io.Reader, error) {
	mt, r, err := g.conn.NextReader()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return 0, nil, transport.ErrWebsocketClosed
		}
		return 0, nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, nil, err
	}
	g.mu.Lock()
	code, reason := g.protocol.admit(b)
	initSeen := g.protocol.initSeen
	g.mu.Unlock()
	if initSeen && g.initTimer != nil {
		g.initTimer.Stop()
	}
	switch code {
	case 0:
	case refuseOperation:
		// The client hears of it as of any failed operation.
		var env envelope
		_ = json.Unmarshal(b, &env)
		err := g.WriteJSON(map[string]any{"type": "error", "id": env.ID, "payload": []map[string]any{{
			"message": reason, "extensions": map[string]any{"code": string(errs.RateLimited)},
		}}})
		if err != nil {
			return 0, nil, err
		}
		return 0, nil, errRefused
	default:
		_ = g.WriteClose(code, reason)
		_ = g.conn.Close()
		return 0, nil, transport.ErrWebsocketClosed
	}
	return mt, bytes.NewReader(b), nil
}

// admit checks one client message against the protocol and records its
// effect: it returns 0 to pass it on to gqlgen, refuseOperation to refuse
// that operation alone, or the code to close the connection with.
func (p *protocol) admit(msg []byte) (int, string) {
	// Exactly one JSON object, as gqlgen will read it: a message the guard
	// cannot read must not get past it.
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(msg))
	if err := dec.Decode(&env); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return CloseBadMessage, "Invalid message received"
	}
	if !slices.Contains(clientTypes[p.subprotocol], env.Type) {
		return CloseBadMessage, "Invalid message received"
	}
	switch env.Type {
	case "connection_init":
		if p.initSeen {
			return CloseTooManyInits, "Too many initialisation requests"
		}
		p.initSeen = true
	case "subscribe", "start":
		if !p.acked && p.subprotocol == transportWS {
			return CloseUnauthorized, "Unauthorized"
		}
		if p.ids[env.ID] {
			return CloseDuplicateID, "Subscriber for " + limit(env.ID) + " already exists"
		}
		if p.max > 0 && len(p.ids) >= p.max {
			return refuseOperation, fmt.Sprintf("at most %d subscriptions on one connection", p.max)
		}
		p.ids[env.ID] = true
	}
	// A client's complete or stop frees the id only when the server answers
	// with its own complete: until then the operation still runs.
	return 0, ""
}

// limit caps what a close reason quotes of the client (a close frame holds
// at most 123 bytes of reason).
func limit(s string) string {
	if len(s) <= 40 {
		return s
	}
	return strings.ToValidUTF8(s[:40], "") + "…"
}

// sent records what the server says of the protocol: the acknowledgement,
// and operations it completes.
// sent notes a server message; it reports false for one that must not be
// written (the complete gqlgen sends after an error on graphql-transport-ws).
func (p *protocol) sent(env envelope) bool {
	switch env.Type {
	case "connection_ack":
		p.acked = true
	case "error":
		delete(p.ids, env.ID)
		if p.subprotocol == transportWS && env.ID != "" {
			if p.errored == nil {
				p.errored = map[string]bool{}
			}
			p.errored[env.ID] = true
		}
	case "complete":
		if p.errored[env.ID] {
			delete(p.errored, env.ID) // the id may be running again: leave ids alone
			return false
		}
		delete(p.ids, env.ID)
	}
	return true
}

// WriteJSON implements transport.WebsocketConn, noting what the server says
// of the protocol: the acknowledgement, and operations it completes.
func (g *guarded) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var env envelope
	if json.Unmarshal(b, &env) == nil {
		g.mu.Lock()
		write := g.protocol.sent(env)
		g.mu.Unlock()
		if !write {
			return nil
		}
	}
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	if g.writeTimeout > 0 {
		_ = g.conn.SetWriteDeadline(time.Now().Add(g.writeTimeout))
	}
	return g.conn.WriteMessage(websocket.TextMessage, b)
}

// WriteClose implements transport.WebsocketConn.
func (g *guarded) WriteClose(code int, reason string) error {
	return g.writeClose(context.Background(), code, reason)
}

// writeClose writes a close frame within ctx's deadline or a second. A
// control frame may be written alongside another write (gorilla allows it):
// a client that stops reading does not hold the close up.
func (g *guarded) writeClose(ctx context.Context, code int, reason string) error {
	deadline := time.Now().Add(time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return g.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

// Close implements io.Closer.
func (g *guarded) Close() error {
	if g.initTimer != nil {
		g.initTimer.Stop()
	}
	if g.open != nil {
		g.open.remove(g)
	}
	return g.conn.Close()
}

// Subprotocol implements transport.WebsocketConn.
func (g *guarded) Subprotocol() string { return g.conn.Subprotocol() }

// SetReadDeadline lets gqlgen enforce pong timeouts.
func (g *guarded) SetReadDeadline(t time.Time) error { return g.conn.SetReadDeadline(t) }

// SetReadLimit lets gqlgen bound inbound messages.
func (g *guarded) SetReadLimit(n int64) { g.conn.SetReadLimit(n) }
