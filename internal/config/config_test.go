package config

import "testing"

// TestWebsocketsStopNoLaterThanHTTP: with the defaults, a token revoked in
// the database by hand (no rights wake-up) ends an open websocket within one
// re-check, which with its reads must fit inside the HTTP auth cache.
func TestWebsocketsStopNoLaterThanHTTP(t *testing.T) {
	c := Default()
	if c.WSRecheck*2 > c.AuthCache {
		t.Fatalf("ws re-check %v against an auth cache of %v: a websocket could outlive HTTP", c.WSRecheck, c.AuthCache)
	}
}
