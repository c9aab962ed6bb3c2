package server

import (
	"net/http"

	"github.com/klauspost/compress/gzhttp"

	"socdesk/internal/wsguard"
)

// withCompression compresses responses of 1 KiB or more (gzip, or zstd when
// the client prefers it) as the request's Accept-Encoding allows
// (klauspost/compress's gzhttp, which also sets Vary: Accept-Encoding).
// Websocket upgrades pass untouched: their connection is hijacked and
// compressed, if at all, by the websocket protocol itself.
func withCompression(next http.Handler) http.Handler {
	gz := gzhttp.GzipHandler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wsguard.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		gz.ServeHTTP(w, r)
	})
}
