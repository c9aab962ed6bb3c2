package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"strings"
	"testing"
)

// page is a response of the size and shape of a ticket list page (50
// tickets with their people and tags, about 20 KB of JSON).
var page = func() []byte {
	var b strings.Builder
	b.WriteString(`{"data":{"tickets":{"edges":[`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"cursor":"Y3Vyc29yOnYyOpKjMjAyNi0xMS0zMFQxMDoyMjo%dwMFqzE","node":{"id":"VGlja2V0OjEyMz%d","number":%d,"title":"Outbound beaconing from host WS-%04d to a newly registered domain","status":"IN_PROGRESS","priority":"HIGH","createdAt":"2026-11-30T10:22:%02dZ","site":{"name":"Headquarters"},"category":{"name":"Network alerts"},"assignees":[{"login":"ana"},{"login":"bob"}],"tags":[{"name":"c2","color":"#d33"},{"name":"dns","color":"#36c"}]}}`, i, i, 1000+i, i*7, i)
	}
	b.WriteString(`],"pageInfo":{"hasNextPage":true,"endCursor":"Y3Vyc29yOnYyOpKjMjAyNi0xMS0zMFQ"}}}}`)
	return []byte(b.String())
}()

// BenchmarkCompression: what compressing a list page costs per response,
// by the client's Accept-Encoding ("" is no compression: the baseline;
// "gzip" is what Go's and most HTTP clients send; browsers add zstd).
func BenchmarkCompression(b *testing.B) {
	h := withCompression(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	for _, enc := range []string{"", "gzip", "gzip, deflate, br, zstd"} {
		b.Run(fmt.Sprintf("accept=%q", enc), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if enc != "" {
				req.Header.Set("Accept-Encoding", enc)
			}
			var size int
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes-sent")
		})
	}
}
