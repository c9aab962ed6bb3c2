package receivers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// maxRequestBytes bounds one recorded request body.
const maxRequestBytes = 4 << 20

// Request is one request the HTTP receiver got.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	Key      string // the Idempotency-Key header
	Status   int    // what the receiver answered
	At       time.Time
}

// HTTP is a running HTTP receiver on 127.0.0.1. By default it answers
// 200 "ok"; FailNext, Fail and Delay change that.
type HTTP struct {
	URL string

	srv *httptest.Server
	log log[Request]

	mu       sync.Mutex
	failNext int    // answer failStatus to this many more requests
	nextCode int    // the status for failNext
	failCode int    // when non-zero, answer it to every request (after failNext)
	failBody string // body of failing answers
	delay    time.Duration
	inFlight map[string]int // requests being answered, by key
	overlaps []string       // keys that arrived while one of theirs was being answered
}

// StartHTTP starts an HTTP receiver stopped when t ends.
func StartHTTP(t testing.TB) *HTTP {
	t.Helper()
	h := &HTTP{}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	h.URL = h.srv.URL
	t.Cleanup(h.srv.Close)
	return h
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	h.mu.Lock()
	status, text, delay := http.StatusOK, "ok", h.delay
	switch {
	case h.failNext > 0:
		h.failNext--
		status, text = h.nextCode, h.failBody
	case h.failCode != 0:
		status, text = h.failCode, h.failBody
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if h.inFlight == nil {
			h.inFlight = map[string]int{}
		}
		if h.inFlight[key] > 0 {
			h.overlaps = append(h.overlaps, key)
		}
		h.inFlight[key]++
		defer func() {
			h.mu.Lock()
			h.inFlight[key]--
			h.mu.Unlock()
		}()
	}
	h.mu.Unlock()
	if text == "" {
		text = http.StatusText(status)
	}
	h.log.add(Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Key: key, Status: status, At: time.Now(),
	})
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// FailNext answers status to the next n requests, then behaves as before.
func (h *HTTP) FailNext(n, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failNext, h.nextCode = n, status
}

// Fail answers status to every request from now on (until Reset).
func (h *HTTP) Fail(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failCode = status
}

// FailBody sets the body of failing answers (default: the status text).
func (h *HTTP) FailBody(body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failBody = body
}

// Delay holds every answer for d (the request is recorded on arrival).
func (h *HTTP) Delay(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delay = d
}

// Reset restores the default behaviour and forgets the requests.
func (h *HTTP) Reset() {
	h.mu.Lock()
	h.failNext, h.nextCode, h.failCode, h.failBody, h.delay = 0, 0, 0, "", 0
	h.overlaps = nil
	h.mu.Unlock()
	h.log.reset()
}

// Requests returns the requests received so far.
func (h *HTTP) Requests() []Request { return h.log.all() }

// WaitFor returns the requests once at least n arrived, failing t after timeout.
func (h *HTTP) WaitFor(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	return h.log.wait(t, n, timeout, "requests")
}

// Overlaps returns the keys that arrived while another request with the
// same key was still being answered (two senders of one delivery at once),
// once per such arrival.
func (h *HTTP) Overlaps() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.overlaps...)
}

// Keys counts the requests per Idempotency-Key ("" for requests without one).
func (h *HTTP) Keys() map[string]int {
	out := map[string]int{}
	for _, r := range h.Requests() {
		out[r.Key]++
	}
	return out
}
