// Package live serves GraphQL subscriptions over WebSocket: gqlgen's
// websocket transport on github.com/gorilla/websocket, held to the
// graphql-transport-ws protocol's close codes, with per-connection bounds.
//
// The Hub streams the ticket history to subscribers (ticketEvents) and
// tells trend subscriptions when to recompute.
package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// The graphql-transport-ws close codes socdesk uses.
const (
	CloseUnauthorized = 4401 // an operation before the connection was acknowledged
	CloseForbidden    = 4403 // connection_init refused (no or bad token)
	CloseInitTimeout  = 4408 // connection_init never came
	CloseDuplicateID  = 4409 // a subscription id already in use
	CloseTooManyInits = 4429 // a second connection_init
	closeBadMessage   = 4400 // a message that is not one JSON object
)

// refuseOperation is check's answer to an operation over the connection's
// bound: an error for that operation alone, the connection stays.
const refuseOperation = -1

// subprotocol names.
const (
	transportWS = "graphql-transport-ws" // graphql-ws (the library)
	legacyWS    = "graphql-ws"           // subscriptions-transport-ws
)

// Gorilla is a transport.WebsocketImplementation on gorilla/websocket that
// enforces what gqlgen's transport leaves out: the protocol's close codes
// for a missing, repeated or late connection_init and for reused operation
// ids, and a bound on the operations of one connection.
type Gorilla struct {
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
func (g Gorilla) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
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
	gc := &guarded{conn: c, max: g.MaxOperations, ids: map[string]bool{}, writeTimeout: g.WriteTimeout}
	if g.InitTimeout > 0 {
		gc.initTimer = time.AfterFunc(g.InitTimeout, func() {
			gc.mu.Lock()
			late := !gc.initSeen
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
	mu        sync.Mutex
	initSeen  bool
	acked     bool
	ids       map[string]bool // operations running
	max       int
	initTimer *time.Timer
	// writeTimeout bounds each write; 0 means none.
	writeTimeout time.Duration
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
	// Exactly one JSON object, as gqlgen will read it: a message the guard
	// cannot read must not get past it.
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		_ = g.WriteClose(closeBadMessage, "Invalid message received")
		_ = g.conn.Close()
		return 0, nil, transport.ErrWebsocketClosed
	}
	{
		code, reason := g.check(env)
		if code == refuseOperation {
			// The client hears of it as of any failed operation.
			err := g.WriteJSON(map[string]any{"type": "error", "id": env.ID, "payload": []map[string]any{{
				"message": reason, "extensions": map[string]any{"code": "RATE_LIMITED"},
			}}})
			if err != nil {
				return 0, nil, err
			}
			return 0, nil, errRefused
		}
		if code != 0 {
			_ = g.WriteClose(code, reason)
			_ = g.conn.Close()
			return 0, nil, transport.ErrWebsocketClosed
		}
	}
	return mt, bytes.NewReader(b), nil
}

// check returns the close code a message calls for, or 0.
func (g *guarded) check(env envelope) (int, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch env.Type {
	case "connection_init":
		if g.initSeen {
			return CloseTooManyInits, "Too many initialisation requests"
		}
		g.initSeen = true
		if g.initTimer != nil {
			g.initTimer.Stop()
		}
	case "subscribe", "start":
		if !g.acked && g.conn.Subprotocol() == transportWS {
			return CloseUnauthorized, "Unauthorized"
		}
		if g.ids[env.ID] {
			return CloseDuplicateID, "Subscriber for " + env.ID + " already exists"
		}
		if g.max > 0 && len(g.ids) >= g.max {
			return refuseOperation, fmt.Sprintf("at most %d subscriptions on one connection", g.max)
		}
		g.ids[env.ID] = true
	}
	// A client's complete or stop frees the id only when the server answers
	// with its own complete: until then the operation still runs.
	return 0, ""
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
		switch env.Type {
		case "connection_ack":
			g.acked = true
		case "complete", "error":
			delete(g.ids, env.ID)
		}
		g.mu.Unlock()
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
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	return g.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// Close implements io.Closer.
func (g *guarded) Close() error {
	if g.initTimer != nil {
		g.initTimer.Stop()
	}
	return g.conn.Close()
}

// Subprotocol implements transport.WebsocketConn.
func (g *guarded) Subprotocol() string { return g.conn.Subprotocol() }

// SetReadDeadline lets gqlgen enforce pong timeouts.
func (g *guarded) SetReadDeadline(t time.Time) error { return g.conn.SetReadDeadline(t) }

// SetReadLimit lets gqlgen bound inbound messages.
func (g *guarded) SetReadLimit(n int64) { g.conn.SetReadLimit(n) }
