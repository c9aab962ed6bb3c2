package e2e_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"socdesk/internal/devtools/wstest"
)

// change is what the tests select of a TicketChange.
type change struct{ wstest.Change }

// titleTo is the new title of an UPDATED change of the title, "" otherwise.
// (The change's ticket is the ticket as it is when the change is sent, not
// as the change left it: the changes say what this change did.)
func (c change) titleTo() string {
	if c.Kind != "UPDATED" {
		return ""
	}
	for _, f := range c.Changes {
		if f.Field == "title" {
			s, _ := f.To.(string)
			return s
		}
	}
	return ""
}

const changeQuery = wstest.ChangeQuery

// received is a change and when it came.
type received struct {
	change
	at time.Time
}

// wsClient is a graphql-transport-ws client (gorilla/websocket) holding one
// ticketEvents subscription; a goroutine reads what the server sends and
// records it with its arrival time.
type wsClient struct {
	name string
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time

	mu       sync.Mutex
	got      []received
	problems []string      // anything but a change: errors, complete
	notify   chan struct{} // poked on every message
	done     chan struct{} // closed when the reader ends
	endErr   error         // why it ended
}

// dialSubscribe connects to ws, authenticates with token, and subscribes
// to ticketEvents with vars.
func dialSubscribe(t *testing.T, name, ws, token string, vars map[string]any) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(ws, nil)
	if err != nil {
		if resp != nil {
			t.Fatalf("%s: dial %s: %v (HTTP %d)", name, ws, err, resp.StatusCode)
		}
		t.Fatalf("%s: dial %s: %v", name, ws, err)
	}
	c := &wsClient{name: name, conn: conn, notify: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(c.close)
	if err := c.write(map[string]any{"type": "connection_init", "payload": map[string]any{"token": token}}); err != nil {
		t.Fatalf("%s: connection_init: %v", name, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ack struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("%s: connection_init: got %+v %v", name, ack, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if err := c.write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": changeQuery, "variables": vars}}); err != nil {
		t.Fatalf("%s: subscribe: %v", name, err)
	}
	go c.read()
	return c
}

func (c *wsClient) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteJSON(v)
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		var m struct {
			Type    string          `json:"type"`
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		}
		err := c.conn.ReadJSON(&m)
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.endErr = err
			c.mu.Unlock()
			c.poke()
			return
		}
		switch m.Type {
		case "ping":
			_ = c.write(map[string]any{"type": "pong"})
			continue
		case "pong":
			continue
		}
		c.mu.Lock()
		if m.Type == "next" && m.ID == "1" {
			var p struct {
				Data *struct {
					TicketEvents change `json:"ticketEvents"`
				} `json:"data"`
				Errors json.RawMessage `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data == nil || len(p.Errors) > 0 {
				c.problems = append(c.problems, fmt.Sprintf("next %s (%v)", m.Payload, err))
			} else {
				c.got = append(c.got, received{p.Data.TicketEvents, now})
			}
		} else {
			c.problems = append(c.problems, fmt.Sprintf("%s %s %s", m.Type, m.ID, m.Payload))
		}
		c.mu.Unlock()
		c.poke()
	}
}

func (c *wsClient) poke() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// snapshot returns what has been received so far, the problems, and the
// error that ended the reader (nil while it runs).
func (c *wsClient) snapshot() ([]received, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.got...), append([]string(nil), c.problems...), c.endErr
}

// waitFor waits until ok holds of the changes received, or timeout; it
// returns them. It gives up early when the connection ends or a problem
// comes.
func (c *wsClient) waitFor(timeout time.Duration, ok func([]received) bool) ([]received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		got, problems, end := c.snapshot()
		if ok(got) {
			return got, nil
		}
		if len(problems) > 0 {
			return got, fmt.Errorf("%s: unexpected messages: %s", c.name, strings.Join(problems, "; "))
		}
		if end != nil {
			return got, fmt.Errorf("%s: connection ended: %v", c.name, end)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			return got, fmt.Errorf("%s: %w after %v (received %d changes)", c.name, errTimeout, timeout, len(got))
		}
	}
}

// close closes the connection (normal closure) and waits for the reader.
func (c *wsClient) close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	c.conn.Close()
	<-c.done
}

// alive reports whether the connection is still open.
func (c *wsClient) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}
