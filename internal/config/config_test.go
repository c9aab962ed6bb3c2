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
