package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/syncbuf"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitReady waits until the server at addr answers /readyz, failing t if
// it stops first (done) or is not ready within the time given.
// serveReady runs `socdesk serve` with env (a data directory of its own
// unless env gives one) until it is ready, and returns its log and the stop
// that ends it, failing the test if serve did not end cleanly.
func serveReady(t *testing.T, env map[string]string) (*syncBuffer, func()) {
	t.Helper()
	if env["SOCDESK_DATA_DIR"] == "" { // on PostgreSQL too: attachments' contents are stored under it
		env["SOCDESK_DATA_DIR"] = t.TempDir()
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, logs, logs) }()
	waitReady(t, env["SOCDESK_ADDR"], done, 30*time.Second, logs)
	return logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}
}

func waitReady(t *testing.T, addr string, done <-chan error, within time.Duration, logs fmt.Stringer) {
	t.Helper()
	for deadline := time.Now().Add(within); ; {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the server stopped before it was ready: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server was not ready within %v:\n%s", within, logs.String())
		}
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer = syncbuf.Buffer

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestFirstStart is what a new user does: serve on the embedded database
// with demo data, take the printed token, list tickets, stop with SIGTERM.
func TestFirstStart(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	env := map[string]string{"SOCDESK_DATA_DIR": dir, "SOCDESK_ADDR": addr, "SOCDESK_DEMO": "true"}
	getenv := func(k string) string { return env[k] }

	start := func() (*syncBuffer, context.CancelFunc, chan error) {
		var logs syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, getenv, &logs, &logs) }()
		waitReady(t, addr, done, 30*time.Second, &logs)
		return &logs, cancel, done
	}
	stop := func(cancel context.CancelFunc, done chan error) {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
		}
	}

	logs, cancel, done := start()
	// The startup line says which build is serving.
	if !regexp.MustCompile(`msg=serving .*version=\S+ commit=\S+ built=\S+ go=go1\.`).MatchString(logs.String()) {
		t.Fatalf("the startup line does not name the build:\n%s", logs.String())
	}
	tok := regexp.MustCompile(`token=(sdk_[A-Za-z0-9_-]+)`).FindStringSubmatch(logs.String())
	if tok == nil {
		t.Fatalf("no token in the log:\n%s", logs.String())
	}
	count := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ tickets(first: 1) { totalCount } }"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Data struct{ Tickets struct{ TotalCount int } }
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		return r.Data.Tickets.TotalCount
	}
	demo := count(tok[1])
	if demo < 100 {
		t.Fatalf("demo data: %d tickets", demo)
	}
	stop(cancel, done)

	// A second start prints no token and loads nothing twice; a CLI token works.
	var out syncBuffer
	if err := run(context.Background(), []string{"token", "create", "--user", "admin"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	cliToken := strings.TrimSpace(out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:])
	logs, cancel, done = start()
	if strings.Contains(logs.String(), "token=") {
		t.Fatalf("second start printed a token:\n%s", logs.String())
	}
	if n := count(cliToken); n != demo {
		t.Fatalf("second start: %d tickets, want %d", n, demo)
	}
	stop(cancel, done)

	if err := run(context.Background(), []string{"token", "create", "--user", "nobody"}, getenv, &out, &out); err == nil {
		t.Fatal("a token for an unknown user")
	}
}

// TestServeOnPostgresAndRedis: the production configuration migrates,
// bootstraps the admin from SOCDESK_ADMIN_TOKEN and reports ready.
func TestServeOnPostgresAndRedis(t *testing.T) {
	token := "sdk_" + strings.Repeat("x", 40)
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL": testdb.PostgresURL(t), "REDIS_URL": "redis://" + testdb.RedisAddr(),
		"SOCDESK_ADDR": addr, "SOCDESK_ADMIN_TOKEN": token, "SOCDESK_DATA_DIR": t.TempDir(), // attachments' contents
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &logs, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var r struct {
				Data struct{ Viewer struct{ Login string } }
			}
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Data.Viewer.Login != "admin" {
				t.Fatalf("viewer %+v (status %d)\n%s", r, resp.StatusCode, logs.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not up:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), "dialect=postgres") || strings.Contains(logs.String(), token) {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

func TestServeHelpDocumentsEverySetting(t *testing.T) {
	var out bytes.Buffer
	secrets := map[string]string{"SOCDESK_ADMIN_TOKEN": "sdk_supersecret_supersecret_supersecret", "DATABASE_URL": "postgres://u:hunter2@h/db"}
	err := run(context.Background(), []string{"serve", "--help"}, func(k string) string { return secrets[k] }, &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if strings.Contains(out.String(), "supersecret") || strings.Contains(out.String(), "hunter2") {
		t.Fatalf("--help shows secrets from the environment:\n%s", out.String())
	}
	for _, v := range []string{"SOCDESK_ADDR", "SOCDESK_DATA_DIR", "DATABASE_URL", "REDIS_URL", "SOCDESK_ADMIN_TOKEN", "SOCDESK_DEMO",
		"SOCDESK_MAX_DEPTH", "SOCDESK_MAX_COST", "SOCDESK_MAX_TOKENS", "SOCDESK_MAX_BODY_BYTES", "SOCDESK_SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("serve --help does not mention %s", v)
		}
	}
}

func TestBadSettingsAreRefused(t *testing.T) {
	for _, env := range []map[string]string{
		{"SOCDESK_MAX_DEPTH": "deep"},
		{"SOCDESK_ADMIN_TOKEN": "short"},
		{"SOCDESK_LOG_FORMAT": "xml"},
		{"DATABASE_URL": "mysql://root@localhost/x"},
		{"SOCDESK_DEMO": "maybe"},
		{"SOCDESK_SHUTDOWN_TIMEOUT": "soon"},
	} {
		var out bytes.Buffer
		env["SOCDESK_DATA_DIR"] = t.TempDir()
		if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out, &out); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

// TestGrantAdmin: a deployment left without an administrator (the database
// edited by hand) does not start; `socdesk user grant-admin` brings it back
// while it is stopped, and makes a user an administrator while it runs.
func TestGrantAdmin(t *testing.T) {
	t.Run("stopped", func(t *testing.T) {
		dir := t.TempDir()
		env := map[string]string{"SOCDESK_DATA_DIR": dir, "SOCDESK_ADDR": freeAddr(t), "SOCDESK_ADMIN_TOKEN": "sdk_" + strings.Repeat("g", 40)}
		getenv := func(k string) string { return env[k] }
		var out syncBuffer
		if err := run(context.Background(), []string{"migrate"}, getenv, &out, &out); err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(dir, "socdesk.db")})
		if err != nil {
			t.Fatal(err)
		}
		st.Client.User.Create().SetLogin("admin").SetDisplayName("Administrator").SetRole(user.RoleANALYST).ExecX(authz.System(context.Background()))
		st.Close()
		err = run(context.Background(), []string{"serve"}, getenv, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "socdesk user grant-admin --user admin") {
			t.Fatalf("serve without an administrator: %v, want the way back named", err)
		}

		out = syncBuffer{}
		if err := run(context.Background(), []string{"user", "grant-admin", "--user", "admin"}, getenv, &out, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "admin is now an administrator") {
			t.Fatalf("output %q", out.String())
		}
		out = syncBuffer{}
		if err := run(context.Background(), []string{"user", "grant-admin", "--user", "Admin"}, getenv, &out, &out); err != nil ||
			!strings.Contains(out.String(), "admin is an administrator already") {
			t.Fatalf("again: %v %q", err, out.String())
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, getenv, &out, &out) }()
		waitReady(t, env["SOCDESK_ADDR"], done, 30*time.Second, &out)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		for _, args := range [][]string{{"user", "grant-admin", "--user", "nobody"}, {"user", "grant-admin"}, {"user"}} {
			if err := run(context.Background(), args, getenv, &out, &out); err == nil {
				t.Errorf("%v: no error", args)
			}
		}
	})

	t.Run("running", func(t *testing.T) {
		addr := freeAddr(t)
		env := map[string]string{"DATABASE_URL": testdb.PostgresURL(t), "SOCDESK_ADDR": addr, "SOCDESK_ADMIN_TOKEN": "sdk_" + strings.Repeat("r", 40), "SOCDESK_AUTH_CACHE": "1s",
			"SOCDESK_DATA_DIR": t.TempDir()}
		getenv := func(k string) string { return env[k] }
		var logs, out syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, getenv, &logs, &logs) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, logs.String())
			}
		}()
		createTag := func(token, name string) string {
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				body := `{"query":"mutation { createTag(input: {name: \"` + name + `\"}) { name } }"}`
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					if time.Now().After(deadline) {
						t.Fatalf("server not up:\n%s", logs.String())
					}
					continue
				}
				var r struct {
					Errors []struct{ Extensions struct{ Code string } }
				}
				_ = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if len(r.Errors) > 0 {
					return r.Errors[0].Extensions.Code
				}
				return ""
			}
		}
		if code := createTag(env["SOCDESK_ADMIN_TOKEN"], "ready"); code != "" {
			t.Fatalf("admin: %s", code)
		}
		st, err := store.Open(context.Background(), store.Options{DatabaseURL: env["DATABASE_URL"]})
		if err != nil {
			t.Fatal(err)
		}
		st.Client.User.Create().SetLogin("bob").SetDisplayName("Bob").ExecX(authz.System(context.Background()))
		st.Close()
		if err := run(context.Background(), []string{"token", "create", "--user", "bob"}, getenv, &out, &out); err != nil {
			t.Fatal(err)
		}
		bob := strings.TrimSpace(out.String())
		if code := createTag(bob, "by an analyst"); code != "FORBIDDEN" {
			t.Fatalf("bob before: %q, want FORBIDDEN", code)
		}
		if err := run(context.Background(), []string{"user", "grant-admin", "--user", "bob"}, getenv, &out, &out); err != nil {
			t.Fatal(err)
		}
		// The running server reads bob's rights again within its auth cache.
		for deadline := time.Now().Add(15 * time.Second); createTag(bob, "by bob") != ""; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("bob is no administrator for the running server")
			}
		}
	})
}
