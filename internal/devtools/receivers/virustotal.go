package receivers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// VTMode is how the fake VirusTotal answers.
type VTMode int

// Modes of the fake.
const (
	VTAnswer  VTMode = iota // the reports it holds, 404 for others
	VTSlow                  // waits Delay, then answers
	VTLimited               // 429 with Retry-After
	VTFailing               // 500
	VTDown                  // drops the connection without an answer
)

// VTStats is a report's last_analysis_stats.
type VTStats struct {
	Malicious, Suspicious, Harmless, Undetected int
	Reputation                                  int
}

// VirusTotal is a local fake of the VirusTotal v3 API: GET
// /api/v3/ip_addresses/{ip}, /domains/{domain} and /files/{hash}, the key
// checked in x-apikey (401 otherwise), answering from Reports (by path
// tail, e.g. "ip_addresses/8.8.8.8") in the set Mode.
type VirusTotal struct {
	URL string
	Key string

	mu         sync.Mutex
	mode       VTMode
	delay      time.Duration
	retryAfter string
	reports    map[string]VTStats
	paths      []string // every request's path, in order
	badKeys    int
}

// NewVirusTotal starts the fake, expecting key; it stops when the test ends.
func NewVirusTotal(t testing.TB, key string) *VirusTotal {
	v := &VirusTotal{Key: key, reports: map[string]VTStats{}, delay: 5 * time.Second, retryAfter: "60"}
	srv := httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(srv.Close)
	v.URL = srv.URL
	return v
}

// Report makes the fake hold a report of the indicator at path (such as
// "ip_addresses/8.8.8.8").
func (v *VirusTotal) Report(path string, s VTStats) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reports[path] = s
}

// SetMode sets how the fake answers from now on; delay is VTSlow's wait,
// retryAfter VTLimited's header.
func (v *VirusTotal) SetMode(m VTMode, delay time.Duration, retryAfter string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.mode, v.delay, v.retryAfter = m, delay, retryAfter
}

// Requests returns the paths requested so far ("ip_addresses/8.8.8.8").
func (v *VirusTotal) Requests() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.paths...)
}

// BadKeys counts requests without the right key.
func (v *VirusTotal) BadKeys() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.badKeys
}

func (v *VirusTotal) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/api/v3/")
	v.mu.Lock()
	v.paths = append(v.paths, path)
	mode, delay, retry := v.mode, v.delay, v.retryAfter
	rep, found := v.reports[path]
	goodKey := r.Header.Get("x-apikey") == v.Key
	if !goodKey {
		v.badKeys++
	}
	v.mu.Unlock()
	switch {
	case !ok || r.Method != http.MethodGet:
		http.Error(w, `{"error":{"code":"NotFoundError"}}`, http.StatusNotFound)
		return
	case !goodKey:
		// A provider that quotes the key it refused: socdesk must not repeat it.
		http.Error(w, `{"error":{"code":"WrongCredentialsError","message":"wrong key `+r.Header.Get("x-apikey")+`"}}`, http.StatusUnauthorized)
		return
	}
	switch mode {
	case VTSlow:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	case VTLimited:
		w.Header().Set("Retry-After", retry)
		http.Error(w, `{"error":{"code":"QuotaExceededError"}}`, http.StatusTooManyRequests)
		return
	case VTFailing:
		http.Error(w, `{"error":{"code":"TransientError"}}`, http.StatusInternalServerError)
		return
	case VTDown:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NotFoundError","message":"not found"}}`))
		return
	}
	body := map[string]any{"data": map[string]any{"id": path, "type": strings.SplitN(path, "/", 2)[0], "attributes": map[string]any{
		"reputation": rep.Reputation,
		"last_analysis_stats": map[string]int{"malicious": rep.Malicious, "suspicious": rep.Suspicious,
			"harmless": rep.Harmless, "undetected": rep.Undetected, "timeout": 0},
		"last_analysis_results": map[string]any{"Engine": map[string]string{"category": "harmless"}},
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
