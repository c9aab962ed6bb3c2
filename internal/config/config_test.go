package config

import (
	"flag"
	"io"
	"strings"
	"testing"
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
