package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestShutdownClosesWebsocketsGoingAway: on SIGTERM (run's context ends)
// an open subscription's websocket is closed with 1001 (going away), not
// dropped (1006), so that its client reconnects to another replica.
func TestShutdownClosesWebsocketsGoingAway(t *testing.T) {
	token := "sdk_" + strings.Repeat("y", 40)
	addr := freeAddr(t)
	env := map[string]string{"SOCDESK_ADDR": addr, "SOCDESK_DATA_DIR": t.TempDir(), "SOCDESK_ADMIN_TOKEN": token, "SOCDESK_SHUTDOWN_TIMEOUT": "5s"}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &logs, &logs) }()
	var c *websocket.Conn
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if c, _, err = d.Dial("ws://"+addr+"/graphql", nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not up: %v\n%s", err, logs.String())
		}
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"token": token}}); err != nil {
		t.Fatal(err)
	}
	var ack struct{ Type string }
	if err := c.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	if err := c.WriteJSON(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "subscription { ticketEvents { cursor } }"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // subscribed (gqlgen says nothing)
	cancel()
	for {
		_, msg, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.CloseGoingAway {
				t.Fatalf("closed with %d %q, want 1001", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("want a close frame with 1001, got %v", err)
		}
		if !strings.Contains(string(msg), `"ping"`) {
			t.Fatalf("unexpected message %s", msg)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
}
