package e2e_test

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"socdesk/internal/devtools/receivers"
	"socdesk/internal/notify"
)

// The durability proofs of the delivery side, through the whole server:
// each test runs `socdesk serve` processes on a PostgreSQL database of its
// own, sending to a real HTTP receiver on 127.0.0.1 through a WEBHOOK
// channel made over GraphQL. A created ticket is one webhook delivery (the
// channel hears every change once, whoever its people are).

// jobEnv is the servers' settings for delivery tests: the receivers on
// loopback admitted, jobs polled every 50 ms, an attempt cut after 2 s and a
// job whose replica died worked again after 3 s, retries 100 ms apart.
func jobEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"SOCDESK_OUTBOUND_ALLOW":   "127.0.0.0/8",
		"SOCDESK_JOB_WORKERS":      "10",
		"SOCDESK_JOB_POLL":         "50ms",
		"SOCDESK_JOB_TIMEOUT":      "2s",
		"SOCDESK_OUTBOUND_TIMEOUT": "1500ms", // below the job timeout; the receivers hold answers at most 1s
		"SOCDESK_JOB_RESCUE_AFTER": "3s",
		"SOCDESK_JOB_RETRY_BASE":   "100ms",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// webhookChannel makes a WEBHOOK channel to url through s.
func (c *cluster) webhookChannel(s *server, url string) {
	c.t.Helper()
	in := map[string]any{"name": "SOC webhook " + randomHex(4), "type": "WEBHOOK", "secret": "hmac-" + randomHex(8),
		"settings": map[string]any{"webhook": map[string]any{"url": url}}}
	if err := s.gql(c.token, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { id } }`, map[string]any{"in": in}, nil); err != nil {
		c.t.Fatalf("createChannel: %v", err)
	}
}

// burst creates n tickets, par at a time, spread over servers in turn;
// each is one webhook delivery.
func (c *cluster) burst(servers []*server, f fixture, n, par int) error {
	var next atomic.Int64
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := c.createTicket(servers[i%len(servers)], f, fmt.Sprintf("Burst ticket %d", i)); err != nil {
					errs <- fmt.Errorf("ticket %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// db opens the cluster's database, closed when the test ends.
func (c *cluster) db() *sql.DB {
	c.t.Helper()
	db, err := sql.Open("postgres", c.databaseURL)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// counts runs a query of (string, count) rows into a map.
func counts(t testing.TB, db *sql.DB, query string, args ...any) map[string]int {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k sql.NullString
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k.String] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deliveryKeys are the idempotency keys of every delivery row.
func deliveryKeys(t testing.TB, db *sql.DB) map[string]bool {
	t.Helper()
	rows, err := db.Query(`SELECT id FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[notify.IdempotencyKey(id)] = true
	}
	return out
}

// waitUntil polls cond every 50 ms until it holds, failing t after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// seenKeys is how many distinct idempotency keys r got.
func seenKeys(r *receivers.HTTP) int {
	n := 0
	for k := range r.Keys() {
		if k != "" {
			n++
		}
	}
	return n
}

// checkAllSent fails t unless the database has exactly n deliveries, all
// SENT, and r got every one's key (at least once) and no other; it returns
// the keys r got more than once.
func checkAllSent(t *testing.T, db *sql.DB, r *receivers.HTTP, n int) (dups map[string]int) {
	t.Helper()
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d SENT deliveries", n), func() bool {
		return counts(t, db, `SELECT status, count(*) FROM deliveries GROUP BY status`)["SENT"] == n
	})
	if st := counts(t, db, `SELECT status, count(*) FROM deliveries GROUP BY status`); len(st) != 1 {
		t.Errorf("deliveries by status: %v, want all %d SENT", st, n)
	}
	want := deliveryKeys(t, db)
	got := r.Keys()
	dups = map[string]int{}
	for k := range want {
		if got[k] == 0 {
			t.Errorf("delivery %s never reached the receiver", k)
		}
		if got[k] > 1 {
			dups[k] = got[k]
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("the receiver got key %q, which is no delivery's", k)
		}
	}
	// River records a job's end a little after its work (its completer
	// writes in batches).
	waitUntil(t, 60*time.Second, "every delivery job completed", func() bool {
		left := counts(t, db, `SELECT state, count(*) FROM river_job WHERE kind = 'notify.deliver' AND state <> 'completed' GROUP BY state`)
		return len(left) == 0
	})
	return dups
}

// TestKillDuringDeliveries: the server is killed (SIGKILL) in the middle
// of a burst of 200 deliveries, some sent, some in flight, most still to
// do; a server started again on the same database sends every one of them
// (at least once: the ones in flight at the kill arrive twice, with the
// same idempotency key) and every delivery ends SENT. River's rescuer,
// which finds the jobs the killed replica was running, runs on the leading
// replica once the killed leader's lease (about 15 s) has lapsed.
func TestKillDuringDeliveries(t *testing.T) {
	const n = 200
	c := newCluster(t)
	db := c.db()
	rcv := receivers.StartHTTP(t)
	rcv.Delay(time.Second) // 10 workers at 1 s each: 200 take 20 s, the kill comes long before
	a := c.start("A", "", jobEnv(nil))
	f := c.fixture(a)
	c.webhookChannel(a, rcv.URL)

	start := time.Now()
	if err := c.burst([]*server{a}, f, n, 8); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tickets created in %v", n, time.Since(start).Round(time.Millisecond))
	waitUntil(t, 30*time.Second, "the receiver to get 20 deliveries", func() bool { return seenKeys(rcv) >= 20 })
	a.kill()
	killed := time.Now()
	seen := seenKeys(rcv)
	st := counts(t, db, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	jobs := counts(t, db, `SELECT kind || ' ' || state, count(*) FROM river_job GROUP BY 1`)
	t.Logf("killed A: the receiver had %d keys; deliveries by status %v; jobs %v", seen, st, jobs)
	if seen >= n {
		t.Fatalf("every delivery had arrived before the kill: the test proves nothing")
	}
	if jobs["notify.deliver running"] == 0 && jobs["notify.fanout running"] == 0 {
		t.Fatalf("no job was running at the kill: the test proves nothing")
	}

	rcv.Delay(0)
	c.start("B (after the kill)", "", jobEnv(nil))
	took := waitUntil(t, 90*time.Second, fmt.Sprintf("the receiver to get all %d keys", n), func() bool { return seenKeys(rcv) >= n })
	t.Logf("B ready %v after the kill; all %d keys at the receiver %v after the kill", (time.Since(killed) - took).Round(time.Millisecond), n, time.Since(killed).Round(time.Millisecond))
	// The jobs A was running stay "running" until B's rescuer finds them
	// (B leads once A's lease has lapsed).
	dups := checkAllSent(t, db, rcv, n)
	t.Logf("every delivery SENT and every job completed %v after the kill", time.Since(killed).Round(time.Millisecond))
	t.Logf("lost: 0 of %d; delivered more than once: %d %v; requests in all: %d", n, len(dups), sortedKeys(dups), len(rcv.Requests()))
	// The request that made the receiver reach 20 was still being answered
	// (1 s) at the kill: its job, left running, must have been rescued and
	// sent again.
	if len(dups) == 0 {
		t.Errorf("no delivery in flight at the kill was sent again: the rescue went unproven")
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestReplicasShareDeliveries: two servers with workers on one database
// send 240 deliveries made through both; no delivery is ever being sent by
// both at once (the receiver notes a key arriving while a request with it
// is still being answered), every one arrives, every one ends SENT, and
// both replicas sent some (the replica that completed each delivery job
// is the last entry of its attempted_by, River's client id).
func TestReplicasShareDeliveries(t *testing.T) {
	const n = 240
	c := newCluster(t)
	db := c.db()
	rcv := receivers.StartHTTP(t)
	rcv.Delay(20 * time.Millisecond) // each request long enough to overlap, were a job worked twice
	a := c.start("A", "", jobEnv(nil))
	b := c.start("B", "", jobEnv(nil))
	f := c.fixture(a)
	c.webhookChannel(b, rcv.URL)

	start := time.Now()
	if err := c.burst([]*server{a, b}, f, n, 8); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, fmt.Sprintf("the receiver to get all %d keys", n), func() bool { return seenKeys(rcv) >= n })
	t.Logf("%d tickets through both replicas, all %d deliveries at the receiver %v after the burst began", n, n, time.Since(start).Round(time.Millisecond))
	dups := checkAllSent(t, db, rcv, n)
	if o := rcv.Overlaps(); len(o) > 0 {
		t.Errorf("deliveries sent by two workers at once: %v", o)
	}
	if len(dups) > 0 {
		t.Logf("delivered more than once (allowed, not expected without a crash): %v", dups)
	}
	by := counts(t, db, `SELECT attempted_by[array_length(attempted_by, 1)], count(*) FROM river_job
		WHERE kind = 'notify.deliver' AND state = 'completed' GROUP BY 1`)
	t.Logf("delivery jobs completed by River client: %v (A started first: its id has the earlier time)", by)
	if len(by) != 2 {
		t.Errorf("delivery jobs were completed by %d replicas, want both: %v", len(by), by)
	}
	for id, k := range by {
		if k == 0 || id == "" {
			t.Errorf("replica %q completed %d", id, k)
		}
	}
}

// TestJobMetrics: /metrics (with the metrics token) shows the job queue by
// state, and a delivery whose receiver keeps failing ends FAILED with its
// job discarded: socdesk_jobs{state="discarded"} and
// socdesk_jobs_failed_total count it.
func TestJobMetrics(t *testing.T) {
	c := newCluster(t)
	db := c.db()
	rcv := receivers.StartHTTP(t)
	rcv.Fail(http.StatusServiceUnavailable) // retried, then discarded
	gone := receivers.StartHTTP(t)
	gone.Fail(http.StatusNotFound) // permanent: cancelled at once
	token := "metrics-" + randomHex(12)
	s := c.start("A", "", jobEnv(map[string]string{"SOCDESK_METRICS_TOKEN": token, "SOCDESK_JOB_MAX_ATTEMPTS": "2", "SOCDESK_JOB_RETRY_BASE": "50ms"}))
	f := c.fixture(s)
	c.webhookChannel(s, rcv.URL)
	c.webhookChannel(s, gone.URL)

	scrape := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		return resp.StatusCode, string(body)
	}
	if code, _ := scrape("wrong-" + token); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Fatalf("/metrics with a wrong token: HTTP %d", code)
	}
	if _, err := c.createTicket(s, f, "Fails to deliver"); err != nil {
		t.Fatal(err)
	}
	var metrics string
	// The worker counts the failure before River records the job's state
	// (its completer writes in batches): wait for both.
	took := waitUntil(t, 60*time.Second, "socdesk_jobs_failed_total and the discarded job", func() bool {
		code, body := scrape(token)
		metrics = body
		return code == http.StatusOK && hasSample(body, `socdesk_jobs_failed_total{kind="notify.deliver"}`, "2") &&
			hasSample(body, `socdesk_jobs{queue="default",state="discarded"}`, "1") &&
			hasSample(body, `socdesk_jobs{queue="default",state="cancelled"}`, "1")
	})
	t.Logf("one delivery's job discarded, the other's cancelled, after %v", took.Round(time.Millisecond))
	for _, want := range []struct{ series, value string }{
		{`socdesk_jobs{queue="default",state="discarded"}`, "1"},
		{`socdesk_jobs{queue="default",state="cancelled"}`, "1"},
		{`socdesk_jobs{queue="default",state="available"}`, "0"},
		{`socdesk_jobs{queue="default",state="running"}`, "0"},
	} {
		if !hasSample(metrics, want.series, want.value) {
			t.Errorf("/metrics: want %s %s; the job series:\n%s", want.series, want.value, grepLines(metrics, "socdesk_job"))
		}
	}
	// Completed: the fan-out, and the schedules' generation, which runs as
	// soon as the leader starts (and again each minute).
	if !hasSample(metrics, `socdesk_jobs{queue="default",state="completed"}`, "2") && !hasSample(metrics, `socdesk_jobs{queue="default",state="completed"}`, "1") {
		t.Errorf("/metrics: want socdesk_jobs{queue=\"default\",state=\"completed\"} 1 or 2 (the fan-out, the generation at start); the job series:\n%s", grepLines(metrics, "socdesk_job"))
	}
	if got := len(rcv.Requests()); got != 2 {
		t.Errorf("the failing receiver got %d requests, want 2 (SOCDESK_JOB_MAX_ATTEMPTS)", got)
	}
	if got := len(gone.Requests()); got != 1 {
		t.Errorf("the 404 receiver got %d requests, want 1 (a permanent failure is not retried)", got)
	}
	rows, err := db.Query(`SELECT status, coalesce(last_error, '') FROM deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for _, want := range []string{"503", "404"} {
		var status, lastErr string
		if !rows.Next() {
			t.Fatalf("no delivery failing with %s", want)
		}
		if err := rows.Scan(&status, &lastErr); err != nil {
			t.Fatal(err)
		}
		if status != "FAILED" || !strings.Contains(lastErr, want) {
			t.Errorf("delivery %s (%q), want FAILED with the %s", status, lastErr, want)
		}
	}
}

// hasSample reports whether the exposition text has the line "series value".
func hasSample(text, series, value string) bool {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok && rest == value {
			return true
		}
	}
	return false
}

func grepLines(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
