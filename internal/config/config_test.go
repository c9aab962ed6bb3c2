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
	load := func(env map[string]string) (Config, error) {
		c := Default()
		fs := flag.NewFlagSet("socdesk", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Register(fs)
		return c, c.Load(fs, nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.Rate().Enabled() {
		t.Fatalf("default: %+v %v (budgets must be off)", c.Rate(), err)
	}
	c, err = load(map[string]string{"SOCDESK_RATE_POINTS": "5000", "SOCDESK_RATE_WINDOW": "1h", "SOCDESK_RATE_MUTATION_COST": "0"})
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
		if _, err := load(env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

// TestPersistedSettings: the allow-list mode needs its manifest, and the
// persisted-query bounds are read from the environment and checked.
func TestPersistedSettings(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		c := Default()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Register(fs)
		return c, c.Load(fs, nil, func(k string) string { return env[k] })
	}
	if _, err := load(map[string]string{"SOCDESK_PERSISTED_ONLY": "true"}); err == nil || !strings.Contains(err.Error(), "SOCDESK_PERSISTED_QUERIES") {
		t.Errorf("persisted-only without a manifest: %v", err)
	}
	if _, err := load(map[string]string{"SOCDESK_APQ_MAX_BYTES": "0"}); err == nil {
		t.Error("a size cap of 0 was accepted")
	}
	c, err := load(map[string]string{"SOCDESK_PERSISTED_ONLY": "true", "SOCDESK_PERSISTED_QUERIES": "/etc/socdesk/pq.json",
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
	for _, bad := range []string{"dash.example.com", "https://dash.example.com/app", "https://*.example.com", "ftp://x.example.com", "https://u@x.example.com", "https://x.example.com?a=1"} {
		if _, err := load(t, map[string]string{"SOCDESK_CORS_ORIGINS": bad}); err == nil || !strings.Contains(err.Error(), "not an origin") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
