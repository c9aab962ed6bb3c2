package server

import (
	"compress/gzip"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"

	"socdesk/internal/wsguard"
)

// withCompression compresses responses of 1 KiB or more (gzip, or zstd when
// the client accepts it) as the request's Accept-Encoding allows
// (klauspost/compress's gzhttp, which also sets Vary: Accept-Encoding and
// leaves already-compressed content types alone). gzip runs at its fastest
// level: on BenchmarkCompression's page of 50 tickets it took about a third
// of the default level's time for 2% more bytes. Websocket upgrades pass
// untouched: their connection is hijacked, and compressed, if at all, by
// the websocket protocol itself. So do attachments' downloads: their ranges
// and ETag are of the stored bytes.
func withCompression(next http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		panic("server: gzhttp options: " + err.Error()) // constant options: a programming error
	}
	gz := wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wsguard.IsUpgrade(r) || isDownload(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		gz.ServeHTTP(w, r)
	})
}

// isDownload reports whether path downloads an attachment: /attachments/{id}
// or, for a personal link's holder, /explain/{token}/attachments/{id}.
func isDownload(path string) bool {
	if strings.HasPrefix(path, "/attachments/") {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/explain/")
	if !ok {
		return false
	}
	_, file, ok := strings.Cut(rest, "/")
	return ok && strings.HasPrefix(file, "attachments/")
}
