package graph_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/internal/devtools/syncbuf"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/devtools/wstest"
)

// readmeBlock returns the README's fenced code block of lang whose text
// contains marker.
func readmeBlock(t *testing.T, lang, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], marker) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no %s block with %q", lang, marker)
	return ""
}

// TestReadmeCurlExample: the README's first request, run as written with
// the server's address in SOCDESK_ADDR and a real token for the "sdk_…"
// runShellExample runs a README shell example (name tells which) with bash
// and curl against e's server, given as SOCDESK_ADDR with env besides, and
// returns what it printed.
func runShellExample(t *testing.T, e *env, name, script string, env ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testdb.SkipOrFail(t, "curl is not installed")
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(append(os.Environ(), "SOCDESK_ADDR="+strings.TrimPrefix(e.srv.URL, "http://")), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the README's %s example: %v\n%s", name, err, out)
	}
	return out
}

// placeholder, lists tickets.
func TestReadmeCurlExample(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	script := strings.Replace(readmeBlock(t, "sh", "curl -s --compressed"), "TOKEN=sdk_…", "TOKEN="+e.admin, 1)
	out := runShellExample(t, e, "curl", script)
	var r struct {
		Data struct {
			Tickets *struct{ TotalCount int }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Data.Tickets == nil || len(r.Errors) > 0 {
		t.Fatalf("the README's curl example printed %q (%v)", out, err)
	}
}

// TestReadmeWebsocketExample: the README's subscription example runs on
// Node as written (with the packages it names installed) and prints the
// change a mutation makes.
func TestReadmeWebsocketExample(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	wstest.EnsureDeps(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "live.mjs"), []byte(readmeBlock(t, "js", "// live.mjs")), 0o644); err != nil {
		t.Fatal(err)
	}
	// graphql, graphql-ws and ws, as `npm install graphql graphql-ws ws` would put them.
	if err := os.Symlink(filepath.Join(wstest.Dir(), "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "live.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOKEN="+e.admin, "SOCDESK_ADDR="+strings.TrimPrefix(e.srv.URL, "http://"))
	var stderr syncWriter
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitSubscribed(t, e, 1)
	site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
	e.liveCreate(e.admin, site, cat, "Beaconing from a kiosk")
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("the example ended without printing:\n%s", stderr.String())
		}
		var d struct {
			TicketEvents struct {
				Cursor string
				Kind   string
				Ticket struct{ Title, Status string }
			}
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil || d.TicketEvents.Ticket.Title != "Beaconing from a kiosk" || d.TicketEvents.Cursor == "" {
			t.Fatalf("the example printed %q (%v)\n%s", line, err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the example printed nothing within 10s:\n%s", stderr.String())
	}
}

// syncWriter collects a process's output while the test reads it.
type syncWriter = syncbuf.Buffer

// TestReadmeRateLimitExample: the README's request asking for its charge,
// run as written against the server in SOCDESK_ADDR, is told the cost.
func TestReadmeRateLimitExample(t *testing.T) {
	e := newEnv(t, testdb.Backends[0])
	script := readmeBlock(t, "sh", `"extensions":{"rateLimit":true}`)
	if strings.Contains(script, "localhost") || strings.Contains(script, "127.0.0.1:8080/") {
		t.Fatalf("the example hard-codes an address:\n%s", script)
	}
	out := runShellExample(t, e, "rateLimit", script, "TOKEN="+e.admin, "ADDR=")
	var r struct {
		Extensions struct {
			RateLimit *struct{ Cost int }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Extensions.RateLimit == nil || r.Extensions.RateLimit.Cost != 41 || len(r.Errors) > 0 {
		t.Fatalf("the README's rateLimit example printed %q (%v)", out, err)
	}
}
