package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestWebsocketsStopNoLaterThanHTTP: with the defaults, a token revoked in
// the database by hand (no rights wake-up) ends an open websocket within one
// re-check, which with its reads must fit inside the HTTP auth cache.
func TestWebsocketsStopNoLaterThanHTTP(t *testing.T) {
	c := Default()
	if c.WSRecheck*2 > c.AuthCache {
		t.Fatalf("ws re-check %v against an auth cache of %v: a websocket could outlive HTTP", c.WSRecheck, c.AuthCache)
	}
}

// TestRateSettings: SOCDESK_RATE_* set the budgets, 0 points disables them,
// and a negative or windowless budget is refused at start.
func TestRateSettings(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.Rate().Enabled() {
		t.Fatalf("default: %+v %v (budgets must be off)", c.Rate(), err)
	}
	c, err = load(t, map[string]string{"SOCDESK_RATE_POINTS": "5000", "SOCDESK_RATE_WINDOW": "1h", "SOCDESK_RATE_MUTATION_COST": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rate(); !r.Enabled() || r.Points != 5000 || r.Window != time.Hour || r.MutationCost != 0 || r.LocalUsers != 10000 {
		t.Fatalf("%+v", r)
	}
	for _, env := range []map[string]string{
		{"SOCDESK_RATE_POINTS": "-1"},
		{"SOCDESK_RATE_POINTS": "10", "SOCDESK_RATE_WINDOW": "0s"},
		{"SOCDESK_RATE_POINTS": "10", "SOCDESK_RATE_MUTATION_COST": "-2"},
		{"SOCDESK_RATE_POINTS": "10", "SOCDESK_RATE_LOCAL_USERS": "0"},
	} {
		if _, err := load(t, env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

// TestPersistedSettings: the allow-list mode needs its manifest, and the
// persisted-query bounds are read from the environment and checked.
func TestPersistedSettings(t *testing.T) {
	if _, err := load(t, map[string]string{"SOCDESK_PERSISTED_ONLY": "true"}); err == nil || !strings.Contains(err.Error(), "SOCDESK_PERSISTED_QUERIES") {
		t.Errorf("persisted-only without a manifest: %v", err)
	}
	if _, err := load(t, map[string]string{"SOCDESK_APQ_MAX_BYTES": "0"}); err == nil {
		t.Error("a size cap of 0 was accepted")
	}
	c, err := load(t, map[string]string{"SOCDESK_PERSISTED_ONLY": "true", "SOCDESK_PERSISTED_QUERIES": "/etc/socdesk/pq.json",
		"SOCDESK_APQ_TTL": "1h", "SOCDESK_APQ_MAX_BYTES": "4096", "SOCDESK_APQ_ENTRIES": "50"})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Persisted(); !p.Only || p.ManifestPath != "/etc/socdesk/pq.json" || p.TTL != time.Hour || p.MaxBytes != 4096 || p.Entries != 50 {
		t.Fatalf("%+v", p)
	}
}

func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	c := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs)
	return c, c.Load(fs, nil, func(k string) string { return env[k] })
}

// TestBrowserSettings: SOCDESK_CORS_ORIGINS takes origins as browsers send
// them (or *), refusing at start what would never match; the websocket
// upgrade admits them and SOCDESK_WS_ORIGINS; SOCDESK_INTROSPECTION=false
// turns introspection off.
func TestBrowserSettings(t *testing.T) {
	c, err := load(t, map[string]string{"SOCDESK_CORS_ORIGINS": "https://dash.example.com/, http://127.0.0.1:5173",
		"SOCDESK_WS_ORIGINS": "https://wall.example.com", "SOCDESK_INTROSPECTION": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CORSAllowed(); strings.Join(got, " ") != "https://dash.example.com http://127.0.0.1:5173" {
		t.Errorf("CORS origins %q", got)
	}
	if got := c.Origins(); strings.Join(got, " ") != "https://wall.example.com https://dash.example.com http://127.0.0.1:5173" {
		t.Errorf("websocket origins %q", got)
	}
	if c.Introspection {
		t.Error("SOCDESK_INTROSPECTION=false left introspection on")
	}
	if c, err := load(t, nil); err != nil || !c.Introspection || c.CORSAllowed() != nil {
		t.Errorf("defaults: introspection %v, CORS origins %q, %v", c.Introspection, c.CORSAllowed(), err)
	}
	if _, err := load(t, map[string]string{"SOCDESK_CORS_ORIGINS": "*"}); err != nil {
		t.Errorf("*: %v", err)
	}
	for _, env := range []string{"SOCDESK_CORS_ORIGINS", "SOCDESK_WS_ORIGINS"} {
		if _, err := load(t, map[string]string{env: "*, https://a.example.com/"}); err != nil {
			t.Errorf("%s: %v", env, err)
		}
		for _, bad := range []string{"bad", "dash.example.com", "https://dash.example.com/app", "https://*.example.com", "ftp://x.example.com", "https://u@x.example.com", "https://x.example.com?a=1"} {
			if _, err := load(t, map[string]string{env: bad}); err == nil || !strings.Contains(err.Error(), env+": ") || !strings.Contains(err.Error(), "not an origin") {
				t.Errorf("%s=%q: %v", env, bad, err)
			}
		}
	}
}

// TestBadValuesSayWhatIsExpected: a value that does not parse is named by
// its environment variable with what its setting takes, not the flag
// package's "parse error".
func TestBadValuesSayWhatIsExpected(t *testing.T) {
	for env, want := range map[string]string{
		"SOCDESK_PERSISTED_ONLY":   `SOCDESK_PERSISTED_ONLY: "yes" must be true or false`,
		"SOCDESK_MAX_DEPTH":        `SOCDESK_MAX_DEPTH: "yes" must be a whole number`,
		"SOCDESK_MAX_BODY_BYTES":   `SOCDESK_MAX_BODY_BYTES: "yes" must be a whole number`,
		"SOCDESK_SHUTDOWN_TIMEOUT": `SOCDESK_SHUTDOWN_TIMEOUT: "yes" must be a duration with its unit, such as 500ms, 30s, 5m or 1h`,
	} {
		_, err := load(t, map[string]string{env: "yes"})
		if err == nil || err.Error() != want || strings.Contains(err.Error(), "parse error") {
			t.Errorf("%s=yes: %v, want %q", env, err, want)
		}
	}
}

// TestRefusalsNameTheSetting: every duration, count and address refused is
// named by its environment variable, with the value given.
func TestRefusalsNameTheSetting(t *testing.T) {
	for env, v := range map[string]string{
		"SOCDESK_APQ_TTL": "-1s", "SOCDESK_SHUTDOWN_TIMEOUT": "0s", "SOCDESK_STATEMENT_TIMEOUT": "-5s",
		"SOCDESK_WS_INIT_TIMEOUT": "0s", "SOCDESK_WS_KEEPALIVE": "0s", "SOCDESK_WS_WRITE_TIMEOUT": "0s",
		"SOCDESK_LIVE_POLL": "0s", "SOCDESK_WS_RECHECK": "-1m", "SOCDESK_MAX_DEPTH": "0", "SOCDESK_LIVE_QUEUE": "-3",
	} {
		_, err := load(t, map[string]string{env: v})
		if err == nil || !strings.Contains(err.Error(), env+" must be positive, not ") {
			t.Errorf("%s=%s: %v", env, v, err)
		}
	}
	// The other checks name their setting too, and say what it takes.
	for env, c := range map[string]struct{ v, says string }{
		"SOCDESK_LOG_FORMAT":     {"xml", "must be text or json"},
		"SOCDESK_LOG_LEVEL":      {"loud", "must be debug, info, warn or error"},
		"SOCDESK_ADMIN_TOKEN":    {"short", "at least 32 characters"},
		"SOCDESK_METRICS_TOKEN":  {"short", "at least 16 characters"},
		"SOCDESK_AUTH_CACHE":     {"-1s", "must not be negative"},
		"SOCDESK_MAX_BODY_BYTES": {"10", "must be at least 1024"},
	} {
		_, err := load(t, map[string]string{env: c.v})
		if err == nil || !strings.HasPrefix(err.Error(), env) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s=%s: %v", env, c.v, err)
		}
	}
	_, err := load(t, map[string]string{"SOCDESK_APQ_TTL": "-1s", "SOCDESK_LIVE_POLL": "0s"})
	if err == nil || !strings.Contains(err.Error(), "SOCDESK_APQ_TTL") || !strings.Contains(err.Error(), "SOCDESK_LIVE_POLL") {
		t.Errorf("two bad durations: %v (both must be named)", err)
	}
}

// TestRateWindowAtLeastASecond: budgets are told in whole seconds, so a
// window under 1s is refused, saying so.
func TestRateWindowAtLeastASecond(t *testing.T) {
	for _, w := range []string{"1ns", "999ms"} {
		_, err := load(t, map[string]string{"SOCDESK_RATE_POINTS": "100", "SOCDESK_RATE_WINDOW": w})
		if err == nil || !strings.Contains(err.Error(), "SOCDESK_RATE_WINDOW must be at least 1s") {
			t.Errorf("window %s: %v", w, err)
		}
	}
	if _, err := load(t, map[string]string{"SOCDESK_RATE_POINTS": "100", "SOCDESK_RATE_WINDOW": "1s"}); err != nil {
		t.Errorf("window 1s: %v", err)
	}
}

// TestMetricsToken: a token with whitespace or control characters cannot
// travel intact in an Authorization header and is refused, saying why.
func TestMetricsToken(t *testing.T) {
	for _, tok := range []string{strings.Repeat(" ", 16), "abcdefgh ijklmnopq", "abcdefghijklmnop\t", "abcdefgh\x00ijklmnop", "abcdefgh\u00a0ijklmnop"} {
		_, err := load(t, map[string]string{"SOCDESK_METRICS_TOKEN": tok})
		if err == nil || !strings.Contains(err.Error(), "SOCDESK_METRICS_TOKEN must not contain spaces or control characters") {
			t.Errorf("token %q: %v", tok, err)
		} else if strings.Contains(err.Error(), tok) {
			t.Errorf("the message shows the token: %v", err)
		}
	}
	if _, err := load(t, map[string]string{"SOCDESK_METRICS_TOKEN": "scrape-token-0123456789"}); err != nil {
		t.Errorf("a good token: %v", err)
	}
}

// TestListenAddresses: SOCDESK_ADDR, SOCDESK_PPROF_ADDR and
// SOCDESK_METRICS_ADDR must be host:port, checked before anything starts.
func TestListenAddresses(t *testing.T) {
	for _, env := range []string{"SOCDESK_ADDR", "SOCDESK_PPROF_ADDR", "SOCDESK_METRICS_ADDR"} {
		for _, bad := range []string{"notanaddr", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:99999", "::1:80"} {
			_, err := load(t, map[string]string{env: bad})
			if err == nil || !strings.Contains(err.Error(), env+`: "`+bad+`" is not an address to listen on`) {
				t.Errorf("%s=%s: %v", env, bad, err)
			}
		}
		for _, good := range []string{"127.0.0.1:9090", ":0", "[::1]:9090", "localhost:8080"} {
			if _, err := load(t, map[string]string{env: good}); err != nil {
				t.Errorf("%s=%s: %v", env, good, err)
			}
		}
	}
}

// TestDeliverySettings: the public URL, the outbound allow-list and the job
// engine's settings are read, and refusals name them.
func TestDeliverySettings(t *testing.T) {
	c, err := load(t, map[string]string{"SOCDESK_PUBLIC_URL": "https://soc.example.com/", "SOCDESK_OUTBOUND_ALLOW": "10.1.0.0/16, 127.0.0.1",
		"SOCDESK_JOB_WORKERS": "0", "SOCDESK_JOB_POLL": "200ms", "SOCDESK_JOB_RETRY_BASE": "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Public() != "https://soc.example.com" {
		t.Errorf("public URL %q", c.Public())
	}
	if allow, _ := c.Allowed(); len(allow) != 2 || allow[0].String() != "10.1.0.0/16" || allow[1].String() != "127.0.0.1/32" {
		t.Errorf("allow-list %v", allow)
	}
	if c.JobWorkers != 0 || c.JobPoll != 200*time.Millisecond || c.JobRetryBase != 50*time.Millisecond {
		t.Errorf("job settings %d %v %v", c.JobWorkers, c.JobPoll, c.JobRetryBase)
	}
	if c, _ := load(t, nil); c.Public() != "http://127.0.0.1:8080" || c.JobWorkers != 25 {
		t.Errorf("defaults: public URL %q, %d workers", c.Public(), c.JobWorkers)
	}
	for env, bad := range map[string]struct{ v, says string }{
		"SOCDESK_PUBLIC_URL":         {"soc.example.com", "must be an http:// or https:// URL"},
		"SOCDESK_OUTBOUND_ALLOW":     {"10.1.0.0/33", "SOCDESK_OUTBOUND_ALLOW: "},
		"SOCDESK_OUTBOUND_MAX_BYTES": {"0", "must be positive"},
		"SOCDESK_JOB_WORKERS":        {"2000", "must be between 0 and 1000, not 2000"}, // River's queue would panic at start
		"SOCDESK_JOB_MAX_ATTEMPTS":   {"0", "must be at least 1"},
		"SOCDESK_JOB_POLL":           {"0s", "must be positive"},
		"SOCDESK_JOB_RETRY_BASE":     {"-1s", "must not be negative"},
		"SOCDESK_JOB_RESCUE_AFTER":   {"30s", "must be longer than SOCDESK_JOB_TIMEOUT"},
		"SOCDESK_JOB_TIMEOUT":        {"5s", "must be longer than SOCDESK_OUTBOUND_TIMEOUT"},
	} {
		_, err := load(t, map[string]string{env: bad.v})
		if err == nil || !strings.HasPrefix(err.Error(), env) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s=%s: %v", env, bad.v, err)
		}
	}
}

// TestAttachmentSettings: the blob store defaults to a directory under the
// data directory; the upload limit, the signing key and the signed URLs'
// lifetime are bounded at start.
func TestAttachmentSettings(t *testing.T) {
	c, err := load(t, map[string]string{"SOCDESK_DATA_DIR": "/var/lib/socdesk"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Blobs(); !strings.HasPrefix(got, "file:///var/lib/socdesk/blobs?") || c.MaxUploadBytes != 100<<20 || c.SignedURLTTL != 5*time.Minute {
		t.Fatalf("defaults: %s %d %v", got, c.MaxUploadBytes, c.SignedURLTTL)
	}
	c, err = load(t, map[string]string{"SOCDESK_BLOB_URL": "s3://evidence?region=eu-west-1", "SOCDESK_MAX_UPLOAD_BYTES": "1048576",
		"SOCDESK_URL_SIGNING_KEY": strings.Repeat("k", 32), "SOCDESK_SIGNED_URL_TTL": "1m"})
	if err != nil || c.Blobs() != "s3://evidence?region=eu-west-1" || c.MaxUploadBytes != 1<<20 || c.SignedURLTTL != time.Minute {
		t.Fatalf("set: %+v %v", c, err)
	}
	for env, name := range map[string]string{
		"SOCDESK_MAX_UPLOAD_BYTES": "0", "SOCDESK_URL_SIGNING_KEY": "short", "SOCDESK_SIGNED_URL_TTL": "2h", "SOCDESK_BLOB_URL": "no-scheme",
	} {
		if _, err := load(t, map[string]string{env: name}); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: %v", env, name, err)
		}
	}
}

// TestReputationTimeout: a short job timeout is refused only when lookups
// run in jobs (on ingestion, with a key); otherwise it stands.
func TestReputationTimeout(t *testing.T) {
	short := map[string]string{"SOCDESK_JOB_TIMEOUT": "2s", "SOCDESK_OUTBOUND_TIMEOUT": "1s"}
	if _, err := load(t, short); err != nil {
		t.Fatalf("a 2s job timeout without lookups on ingestion: %v", err)
	}
	short["SOCDESK_REPUTATION_KEY"] = "k"
	short["SOCDESK_REPUTATION_ON_INGEST"] = "true"
	if _, err := load(t, short); err == nil || !strings.Contains(err.Error(), "REPUTATION_TIMEOUT") {
		t.Fatalf("lookups on ingestion outliving their job: %v", err)
	}
}
