// Package e2e_test runs the real socdesk binary: several `socdesk serve`
// processes sharing one PostgreSQL database and one Redis server, driven
// over HTTP and websockets as clients in production would drive them.
//
// The binary is built once per test process from ./cmd/socdesk. Every test
// gets its own database (created, migrated with `socdesk migrate`, dropped
// at the end) and its own Redis pub/sub channel when the server supports
// SOCDESK_REDIS_CHANNEL. Server processes are stopped when their test ends
// (SIGTERM, then SIGKILL); their logs are shown only when the test fails or
// with -v.
//
// The browser tests (browser_test.go) drive Debian's headless chromium.
//
// Without PostgreSQL, Redis, redis-server, node or chromium the tests are
// skipped, or failed under SOCDESK_REQUIRE_SERVICES=1.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
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

	"github.com/redis/go-redis/v9"

	"socdesk/internal/devtools/syncbuf"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	testdb.Cleanup()
	os.Exit(code)
}

// build is the socdesk binary, built once per test process.
var build struct {
	once    sync.Once
	dir     string
	path    string
	took    time.Duration
	err     error
	channel bool // whether it supports SOCDESK_REDIS_CHANNEL
}

// moduleRoot is the directory of go.mod, found from this file's path.
func moduleRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("e2e: cannot locate the package source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// binary returns the path of the socdesk binary, building it on first use.
func binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		start := time.Now()
		build.dir, build.err = os.MkdirTemp("", "socdesk-e2e-")
		if build.err != nil {
			return
		}
		path := filepath.Join(build.dir, "socdesk")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/socdesk")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/socdesk: %v\n%s", err, out)
			return
		}
		build.path, build.took = path, time.Since(start)
		// Does this server let replicas be put on a channel of their own?
		help, _ := exec.Command(path, "serve", "--help").CombinedOutput()
		build.channel = bytes.Contains(help, []byte("SOCDESK_REDIS_CHANNEL"))
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	t.Logf("socdesk binary: %s (built in %v; SOCDESK_REDIS_CHANNEL supported: %v)", build.path, build.took.Round(time.Millisecond), build.channel)
	return build.path
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer = syncbuf.Buffer

// childEnv is this process's environment without any socdesk setting (so
// a developer's shell cannot change what the test runs), plus env.
func childEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SOCDESK_") || k == "DATABASE_URL" || k == "REDIS_URL" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// proc is a child process that is stopped when the test ends.
type proc struct {
	name   string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startProc starts cmd, collecting its output; it is stopped (SIGTERM,
// then SIGKILL after grace) when t ends, and its output logged if t failed
// or with -v.
func startProc(t testing.TB, name string, cmd *exec.Cmd, grace time.Duration) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.stop(grace); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("--- output of %s (pid %d) ---\n%s--- end of %s ---", name, cmd.Process.Pid, p.logs.String(), name)
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to grace, then SIGKILL. It returns an
// error if the process had to be killed or did not exit cleanly on
// SIGTERM; a process that was already gone is no error (whoever ended it
// has checked that).
func (p *proc) stop(grace time.Duration) error {
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("exit on SIGTERM: %v", p.err)
		}
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("still running %v after SIGTERM: killed", grace)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// cluster is one test's database and settings, shared by its servers.
type cluster struct {
	t           testing.TB
	bin         string
	databaseURL string
	token       string // the admin's API token
	channel     string // the Redis channel, "" for the server's default
}

// newCluster builds the binary, creates a database of the test's own and
// migrates it with `socdesk migrate`.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u, drop, err := store.CreateDatabase(ctx, testdb.AdminURL(), "socdesk_e2e_"+randomHex(6))
	if err != nil {
		testdb.SkipOrFail(t, "PostgreSQL is not usable at %s: %v", testdb.AdminURL(), err)
	}
	t.Cleanup(drop) // runs after the servers' cleanups (registered later)
	c := &cluster{t: t, bin: bin, databaseURL: u, token: "sdk_e2e_" + randomHex(20)}
	if build.channel {
		c.channel = "socdesk:e2e:" + randomHex(8)
	}
	start := time.Now()
	cmd := exec.Command(bin, "migrate")
	cmd.Env = childEnv(map[string]string{"DATABASE_URL": u})
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "schema is up to date") {
		t.Fatalf("socdesk migrate: %v\n%s", err, out)
	}
	t.Logf("socdesk migrate: %v", time.Since(start).Round(time.Millisecond))
	return c
}

// Channel is the Redis channel the servers use.
func (c *cluster) Channel() string {
	if c.channel == "" {
		return "socdesk:ticket-events" // events.DefaultChannel
	}
	return c.channel
}

// server is one `socdesk serve` process.
type server struct {
	*proc
	URL string // http://127.0.0.1:port
}

// WS is the server's websocket endpoint.
func (s *server) WS() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/graphql" }

// start runs `socdesk serve` on a free port with the cluster's database and
// admin token, redisURL and env, and waits until /readyz says it is ready.
func (c *cluster) start(name, redisURL string, env map[string]string) *server {
	c.t.Helper()
	return c.startAt(name, freePort(c.t), redisURL, env)
}

// startAt is start on a given port: a server restarted there is found
// again by the clients of the one before.
func (c *cluster) startAt(name string, port int, redisURL string, env map[string]string) *server {
	c.t.Helper()
	s := c.launch(name, port, redisURL, env)
	if err := s.waitReady(30 * time.Second); err != nil {
		c.t.Fatalf("%s: %v", s.name, err)
	}
	return s
}

// launch starts `socdesk serve` as startAt does without waiting for it to
// be ready: replicas launched together start working jobs together.
func (c *cluster) launch(name string, port int, redisURL string, env map[string]string) *server {
	t := c.t
	t.Helper()
	all := map[string]string{
		"DATABASE_URL":             c.databaseURL,
		"REDIS_URL":                redisURL,
		"SOCDESK_ADDR":             "127.0.0.1:" + strconv.Itoa(port),
		"SOCDESK_ADMIN_TOKEN":      c.token,
		"SOCDESK_SHUTDOWN_TIMEOUT": "3s",
	}
	if c.channel != "" {
		all["SOCDESK_REDIS_CHANNEL"] = c.channel
	}
	for k, v := range env {
		all[k] = v
	}
	cmd := exec.Command(c.bin, "serve")
	cmd.Env = childEnv(all)
	return &server{proc: startProc(t, "socdesk serve "+name, cmd, 5*time.Second), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// waitReady polls /readyz until it answers 200.
func (s *server) waitReady(timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !s.running() {
			return fmt.Errorf("exited before it was ready: %v", s.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v (last: %v)", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// gql runs a GraphQL operation over HTTP with token and decodes its data
// into out; GraphQL errors are returned as an error. Safe from any
// goroutine.
func (s *server) gql(token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage  `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("HTTP %d: GraphQL errors: %v", resp.StatusCode, r.Errors)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// The mutations the tests make.
const (
	createTicketMutation = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id number title } }`
	renameMutation       = `mutation($id: ID!, $t: String!) { updateTicket(id: $id, input: {title: $t}) { id } }`
	moveMutation         = `mutation($id: ID!, $to: TicketStatus!) { transitionTicket(id: $id, action: MOVE, toStatus: $to) { id status } }`
)

// fixture is a site and an incident-response category made through the API.
type fixture struct {
	site, category string // GraphQL ids
	categoryName   string
}

func (c *cluster) fixture(s *server) fixture {
	t := c.t
	t.Helper()
	var site struct {
		CreateSite struct{ ID string } `json:"createSite"`
	}
	if err := s.gql(c.token, `mutation($in: CreateSiteInput!) { createSite(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "HQ"}}, &site); err != nil {
		t.Fatalf("createSite: %v", err)
	}
	var cat struct {
		CreateCategory struct{ ID string } `json:"createCategory"`
	}
	if err := s.gql(c.token, `mutation($in: CreateCategoryInput!) { createCategory(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Incidents", "workflow": "INCIDENT_RESPONSE"}}, &cat); err != nil {
		t.Fatalf("createCategory: %v", err)
	}
	return fixture{site: site.CreateSite.ID, category: cat.CreateCategory.ID, categoryName: "Incidents"}
}

// createdTicket is what createTicket returns.
type createdTicket struct {
	ID     string `json:"id"`
	Number int    `json:"number"`
	Title  string `json:"title"`
}

// createTicket opens an ANALYSIS ticket through s.
func (c *cluster) createTicket(s *server, f fixture, title string) (createdTicket, error) {
	var out struct {
		CreateTicket createdTicket `json:"createTicket"`
	}
	err := s.gql(c.token, createTicketMutation, map[string]any{"in": map[string]any{
		"kind": "ANALYSIS", "title": title, "body": "Seen by the proxy.", "categoryID": f.category, "siteID": f.site, "priority": "HIGH",
	}}, &out)
	return out.CreateTicket, err
}

func (c *cluster) rename(s *server, id, title string) error {
	return s.gql(c.token, renameMutation, map[string]any{"id": id, "t": title}, nil)
}

// --- Redis -------------------------------------------------------------

// sharedRedis returns the URL of the shared Redis server, skipping (or
// failing, when services are required) if it does not answer.
func sharedRedis(t *testing.T) string {
	t.Helper()
	u := "redis://" + testdb.RedisAddr()
	if err := pingRedis(u); err != nil {
		testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
	}
	return u
}

func pingRedis(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// numSub returns how many clients of the Redis server at url are
// subscribed to channel.
func numSub(url, channel string) (int64, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return 0, err
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := c.PubSubNumSub(ctx, channel).Result()
	return m[channel], err
}

// waitNumSub waits until at least n clients are subscribed to channel and
// returns how long that took.
func waitNumSub(t *testing.T, url, channel string, n int64, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got int64
	var err error
	for time.Since(start) < timeout {
		if got, err = numSub(url, channel); err == nil && got >= n {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Redis channel %s: %d subscribers after %v, want %d (last error: %v)", channel, got, timeout, n, err)
	return 0
}

// redisServer is a redis-server of the test's own on a free port.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	p    *proc
}

// startRedisServer starts a redis-server of the test's own; it is killed
// when the test ends. The shared server on 6379 is never touched.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testdb.SkipOrFail(t, "redis-server is not installed: %v", err)
	}
	r := &redisServer{t: t, port: freePort(t), dir: t.TempDir()}
	r.restart()
	return r
}

// URL is the server's redis:// URL.
func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.port) }

// restart starts redis-server on the same port and waits until it answers.
func (r *redisServer) restart() {
	r.t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	r.p = startProc(r.t, fmt.Sprintf("redis-server :%d", r.port), cmd, 3*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pingRedis(r.URL())
		if err == nil {
			return
		}
		if !r.p.running() {
			r.t.Fatalf("redis-server on port %d exited: %v\n%s", r.port, r.p.err, r.p.logs.String())
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on port %d does not answer: %v", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends redis-server with SIGKILL.
func (r *redisServer) kill() { r.p.kill() }

var errTimeout = errors.New("timed out")
