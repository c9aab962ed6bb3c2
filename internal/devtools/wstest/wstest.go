// Package wstest drives real JavaScript GraphQL websocket clients from Go
// tests: graphql-ws's createClient (subprotocol graphql-transport-ws) and
// subscriptions-transport-ws's SubscriptionClient (the legacy subprotocol
// graphql-ws), both on the ws package, run by Node from js/client.mjs.
//
// A Client is one node process holding one connection. The test sends it
// commands (Subscribe, Unsubscribe, Close) and reads what the library
// reported, one Message at a time: "connected", "connection_error" (legacy
// protocol only), "next", "error", "complete", and last "closed" with the
// close code. Neither library retries or reconnects, so close codes reach
// the test.
//
// Apollo runs operations through Apollo Client 4 over HTTP (js/apollo.mjs),
// with its persisted-query link if asked, one node process per call.
//
// Node 20+ and npm are needed; the node dependencies are installed once per
// test process with `npm ci` from js/package-lock.json (EnsureDeps). Without
// node or npm the test is skipped, or failed when SOCDESK_REQUIRE_SERVICES=1.
//
// The Expect helpers and WaitClosed call t.Fatal: call them from the test's
// goroutine.
package wstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"socdesk/internal/devtools/testdb"
)

// The two subprotocols, and the library that speaks each.
const (
	// TransportWS is graphql-transport-ws, spoken by the graphql-ws package.
	TransportWS = "graphql-transport-ws"
	// LegacyWS is graphql-ws, spoken by subscriptions-transport-ws.
	LegacyWS = "graphql-ws"
)

// Protocols lists both subprotocols, for table tests.
var Protocols = []string{TransportWS, LegacyWS}

// Message types a Client reports.
const (
	TypeConnected       = "connected"
	TypeConnectionError = "connection_error"
	TypeNext            = "next"
	TypeError           = "error"
	TypeComplete        = "complete"
	TypeClosed          = "closed"
)

// DefaultTimeout is what the Expect helpers wait.
const DefaultTimeout = 10 * time.Second

// Options configures a Client.
type Options struct {
	// URL is the websocket URL (ws://…); an http:// or https:// URL, such as
	// an httptest.Server's, is turned into ws:// or wss://.
	URL string
	// Protocol is TransportWS or LegacyWS.
	Protocol string
	// Payload is the connection_init payload (connectionParams); nil sends {}.
	Payload map[string]any
	// Origin, if set, is sent as the upgrade request's Origin header.
	Origin string
}

// Message is one thing the client library reported.
type Message struct {
	Type string `json:"type"`
	// Op is the label of the operation, for next, error and complete.
	Op string `json:"op,omitempty"`
	// Payload is next's {data, errors}, connected's ack payload or
	// connection_error's payload.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Errors is error's list: GraphQL errors as the server sent them, or
	// {message, code, reason} for a close event or a client error.
	Errors json.RawMessage `json:"errors,omitempty"`
	// Code and Reason are closed's close code and reason; Code 0 means the
	// socket never opened or did not close in time.
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Line is the JSON line as printed.
	Line string `json:"-"`
}

func (m Message) String() string { return m.Line }

// Data decodes a next message's payload.data into v.
func (m Message) Data(v any) error {
	var p struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return fmt.Errorf("payload of %s: %w", m.Line, err)
	}
	return json.Unmarshal(p.Data, v)
}

// GraphQLErrors returns the errors of a next message's payload, or of an
// error message.
func (m Message) GraphQLErrors() []map[string]any {
	var errs []map[string]any
	if len(m.Errors) > 0 {
		_ = json.Unmarshal(m.Errors, &errs)
		return errs
	}
	var p struct {
		Errors []map[string]any `json:"errors"`
	}
	_ = json.Unmarshal(m.Payload, &p)
	return p.Errors
}

// ErrExited is returned by Next once the client has exited and every
// message has been read.
var ErrExited = errors.New("wstest: the client process has exited")

// ErrTimeout is returned by Next when no message came in time.
var ErrTimeout = errors.New("wstest: timed out waiting for a message")

// Client is one running client process.
type Client struct {
	t     testing.TB
	proto string
	cmd   *exec.Cmd

	stdinMu sync.Mutex
	stdin   io.WriteCloser

	msgs    chan Message // from stdout, closed at EOF
	pending []Message    // read, not yet consumed by a wait
	readers sync.WaitGroup
	exited  chan struct{} // closed when the process has been waited for
	stopped sync.Once
}

// Dir is the directory holding client.mjs and package.json.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("wstest: cannot locate the package source")
	}
	return filepath.Join(filepath.Dir(file), "js")
}

var deps struct {
	once sync.Once
	skip string // why node tests cannot run, if they cannot
}

// EnsureDeps makes sure node and the client's npm dependencies are there,
// running `npm ci` (once per process, under a file lock shared with other
// test processes) when node_modules is missing or older than
// package-lock.json. It skips t, or fails it when services are required,
// when node or npm is missing or the install fails.
func EnsureDeps(t testing.TB) {
	t.Helper()
	deps.once.Do(func() { deps.skip = ensureDeps() })
	if deps.skip != "" {
		testdb.SkipOrFail(t, "%s", deps.skip)
	}
}

func ensureDeps() string {
	node, err := exec.LookPath("node")
	if err != nil {
		return "node is not installed (the websocket client tests need Node 20+ and npm)"
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return fmt.Sprintf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); major < 20 {
		return fmt.Sprintf("node %s is too old (the websocket client tests need Node 20+)", v)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "npm is not installed (the websocket client tests need Node 20+ and npm)"
	}
	dir := Dir()
	if fresh(dir) {
		return ""
	}
	// Several test binaries may get here at once (go test ./...): npm ci
	// deletes node_modules first, so one at a time.
	unlock, err := lock(filepath.Join(dir, ".npm-ci.lock"))
	if err != nil {
		return fmt.Sprintf("locking %s: %v", dir, err)
	}
	defer unlock()
	if fresh(dir) {
		return ""
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Sprintf("npm ci in %s failed: %v\n%s", dir, err, buf.String())
	}
	return ""
}

// fresh reports whether node_modules was installed from the current lock
// file. npm writes node_modules/.package-lock.json at the end of an install.
func fresh(dir string) bool {
	lockFile, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false
	}
	return !installed.ModTime().Before(lockFile.ModTime())
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Start runs a client connecting to o.URL; it is stopped when the test ends.
// Start does not wait for the connection: use ExpectConnected.
func Start(t testing.TB, o Options) *Client {
	t.Helper()
	EnsureDeps(t)
	if o.Protocol != TransportWS && o.Protocol != LegacyWS {
		t.Fatalf("wstest: protocol %q: want %q or %q", o.Protocol, TransportWS, LegacyWS)
	}
	url := o.URL
	switch {
	case strings.HasPrefix(url, "http://"):
		url = "ws://" + strings.TrimPrefix(url, "http://")
	case strings.HasPrefix(url, "https://"):
		url = "wss://" + strings.TrimPrefix(url, "https://")
	}
	payload := o.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	pj, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("wstest: payload: %v", err)
	}
	args := []string{filepath.Join(Dir(), "client.mjs"),
		"--url", url, "--protocol", o.Protocol, "--payload", string(pj), "--interactive"}
	if o.Origin != "" {
		args = append(args, "--origin", o.Origin)
	}
	c := &Client{t: t, proto: o.Protocol, msgs: make(chan Message, 256), exited: make(chan struct{})}
	c.cmd = exec.Command("node", args...)
	c.cmd.Dir = Dir()
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("wstest: starting node: %v", err)
	}
	tag := fmt.Sprintf("wstest[%s pid %d]", o.Protocol, c.cmd.Process.Pid)
	c.readers.Add(2)
	go func() {
		defer c.readers.Done()
		defer close(c.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("%s < %s", tag, line)
			var m Message
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				m = Message{Type: TypeError, Errors: json.RawMessage(strconv.Quote("unparsable output: " + line))}
			}
			m.Line = line
			c.msgs <- m
		}
	}()
	go func() {
		defer c.readers.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("%s stderr: %s", tag, sc.Text())
		}
	}()
	go func() {
		// Wait (which closes the pipes) only after the readers are done.
		c.readers.Wait()
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)
	return c
}

// stop ends the process: stdin closed (the client closes its socket and
// exits), then SIGTERM, then SIGKILL; it returns once the process is gone
// and its output read.
func (c *Client) stop() {
	c.stopped.Do(func() {
		c.stdinMu.Lock()
		_ = c.stdin.Close()
		c.stdinMu.Unlock()
		// Nobody reads messages any more: drain, so the reader is not stuck.
		go func() {
			for range c.msgs {
			}
		}()
		for _, step := range []func(){
			func() {},
			func() { _ = c.cmd.Process.Signal(syscall.SIGTERM) },
			func() { _ = c.cmd.Process.Kill() },
		} {
			step()
			select {
			case <-c.exited:
				return
			case <-time.After(3 * time.Second):
			}
		}
		<-c.exited
	})
}

// send writes one command line to the client.
func (c *Client) send(cmd map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatalf("wstest: command: %v", err)
	}
	c.t.Logf("wstest[%s] > %s", c.proto, b)
	c.stdinMu.Lock()
	defer c.stdinMu.Unlock()
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Logf("wstest: writing to the client (it has probably exited): %v", err)
	}
}

// Protocol returns the client's subprotocol.
func (c *Client) Protocol() string { return c.proto }

// Subscribe starts an operation (usually a subscription) labelled label.
// vars may be nil.
func (c *Client) Subscribe(label, query string, vars map[string]any) {
	c.t.Helper()
	cmd := map[string]any{"cmd": "subscribe", "op": label, "query": query}
	if vars != nil {
		cmd["variables"] = vars
	}
	c.send(cmd)
}

// SubscribeWireID is Subscribe with the protocol-level operation id chosen
// (the libraries pick one otherwise), for tests of id reuse.
func (c *Client) SubscribeWireID(label, wireID, query string, vars map[string]any) {
	c.t.Helper()
	cmd := map[string]any{"cmd": "subscribe", "op": label, "query": query, "wireId": wireID}
	if vars != nil {
		cmd["variables"] = vars
	}
	c.send(cmd)
}

// Unsubscribe stops the operation labelled label; the client reports
// "complete" for it.
func (c *Client) Unsubscribe(label string) {
	c.t.Helper()
	c.send(map[string]any{"cmd": "unsubscribe", "op": label})
}

// Close closes the connection as the library does when its user closes it
// (graphql-ws: dispose, close code 1000; subscriptions-transport-ws: stop
// each operation, connection_terminate, close). The client reports
// "closed" and exits.
func (c *Client) Close() {
	c.t.Helper()
	c.send(map[string]any{"cmd": "close"})
}

// CloseWith closes the socket itself with a code and reason.
func (c *Client) CloseWith(code int, reason string) {
	c.t.Helper()
	c.send(map[string]any{"cmd": "close", "code": code, "reason": reason})
}

// Next returns the next message, waiting at most timeout; ErrTimeout if
// none came, ErrExited if the process has exited and all was read.
func (c *Client) Next(timeout time.Duration) (Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return c.receive(time.After(timeout))
}

func (c *Client) receive(deadline <-chan time.Time) (Message, error) {
	select {
	case m, ok := <-c.msgs:
		if !ok {
			return Message{}, ErrExited
		}
		return m, nil
	case <-deadline:
		return Message{}, ErrTimeout
	}
}

// Wait returns the first message, read or pending, for which match is
// true, leaving the others to later calls. It stops early, with an error,
// at a "closed" message match does not accept (left pending).
func (c *Client) Wait(timeout time.Duration, match func(Message) bool) (Message, error) {
	for i, m := range c.pending {
		if match(m) {
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			return m, nil
		}
		if m.Type == TypeClosed {
			return m, fmt.Errorf("wstest: the connection closed first: %s (earlier: %s)", m.Line, c.pendingLines())
		}
	}
	deadline := time.After(timeout)
	for {
		m, err := c.receive(deadline)
		if err != nil {
			return m, fmt.Errorf("%w (unconsumed: %s)", err, c.pendingLines())
		}
		if match(m) {
			return m, nil
		}
		c.pending = append(c.pending, m)
		if m.Type == TypeClosed {
			return m, fmt.Errorf("wstest: the connection closed first: %s (earlier: %s)", m.Line, c.pendingLines())
		}
	}
}

// Pending returns the messages read by Wait but not consumed.
func (c *Client) Pending() []Message { return append([]Message(nil), c.pending...) }

func (c *Client) pendingLines() string {
	if len(c.pending) == 0 {
		return "none"
	}
	var ls []string
	for _, m := range c.pending {
		ls = append(ls, m.Line)
	}
	return strings.Join(ls, " ")
}

func (c *Client) expect(typ, op string, timeout time.Duration) Message {
	c.t.Helper()
	m, err := c.Wait(timeout, func(m Message) bool { return m.Type == typ && (op == "" || m.Op == op) })
	if err != nil {
		what := typ
		if op != "" {
			what += " for op " + op
		}
		c.t.Fatalf("wstest[%s]: waiting for %s: %v", c.proto, what, err)
	}
	return m
}

func timeoutOf(timeout []time.Duration) time.Duration {
	if len(timeout) > 0 {
		return timeout[0]
	}
	return DefaultTimeout
}

// ExpectConnected waits for connection_ack and returns its message.
func (c *Client) ExpectConnected(timeout ...time.Duration) Message {
	c.t.Helper()
	return c.expect(TypeConnected, "", timeoutOf(timeout))
}

// ExpectNext waits for a result of op.
func (c *Client) ExpectNext(op string, timeout ...time.Duration) Message {
	c.t.Helper()
	return c.expect(TypeNext, op, timeoutOf(timeout))
}

// ExpectError waits for an error of op.
func (c *Client) ExpectError(op string, timeout ...time.Duration) Message {
	c.t.Helper()
	return c.expect(TypeError, op, timeoutOf(timeout))
}

// ExpectComplete waits for op to complete.
func (c *Client) ExpectComplete(op string, timeout ...time.Duration) Message {
	c.t.Helper()
	return c.expect(TypeComplete, op, timeoutOf(timeout))
}

// WaitClosed waits for the connection to close and returns the close code
// and reason the client saw (messages before it stay pending). It fails the
// test if the connection is still open after timeout.
func (c *Client) WaitClosed(timeout time.Duration) (code int, reason string) {
	c.t.Helper()
	m, err := c.Wait(timeout, func(m Message) bool { return m.Type == TypeClosed })
	if err != nil {
		c.t.Fatalf("wstest[%s]: waiting for the connection to close: %v", c.proto, err)
	}
	return m.Code, m.Reason
}

// Exited is closed once the client process has exited.
func (c *Client) Exited() <-chan struct{} { return c.exited }
