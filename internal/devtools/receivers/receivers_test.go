package receivers

import (
	"crypto/tls"
	"net/http"
	"net/smtp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func post(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/p?q=1", strings.NewReader("body-"+key))
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHTTPBehaviour: FailNext fails exactly n requests, Fail all until
// Reset; every request is recorded with its key, failed or not.
func TestHTTPBehaviour(t *testing.T) {
	h := StartHTTP(t)
	h.FailNext(2, 503)
	var got []int
	for _, k := range []string{"a", "a", "a", "b"} {
		got = append(got, post(t, h.URL, k))
	}
	if want := []int{503, 503, 200, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if keys := h.Keys(); keys["a"] != 3 || keys["b"] != 1 || len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	r := h.Requests()[3]
	if r.Method != "POST" || r.Path != "/p" || r.RawQuery != "q=1" || string(r.Body) != "body-b" || r.Key != "b" || r.Status != 200 {
		t.Fatalf("recorded %+v", r)
	}
	h.Fail(400)
	h.FailBody("nope")
	if post(t, h.URL, "c") != 400 || post(t, h.URL, "c") != 400 {
		t.Fatal("Fail is not permanent")
	}
	h.Reset()
	if post(t, h.URL, "d") != 200 || len(h.Requests()) != 1 {
		t.Fatalf("Reset: %d requests", len(h.Requests()))
	}
}

// TestHTTPWaitForConcurrent: WaitFor returns once n requests arrived from
// concurrent senders.
func TestHTTPWaitForConcurrent(t *testing.T) {
	h := StartHTTP(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post(t, h.URL, string(rune('a'+i)))
		}()
	}
	if n := len(h.WaitFor(t, 8, 10*time.Second)); n < 8 {
		t.Fatalf("%d requests", n)
	}
	wg.Wait()
}

// TestHTTPDelay: the request is recorded before the delayed answer.
func TestHTTPDelay(t *testing.T) {
	h := StartHTTP(t)
	h.Delay(time.Minute)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := c.Post(h.URL, "text/plain", strings.NewReader("x")); err == nil {
		t.Fatal("delayed answer came in time")
	}
	h.WaitFor(t, 1, 10*time.Second)
}

// TestSMTPAuthAndParts: AUTH is required when configured; the message's
// parts are decoded.
func TestSMTPAuthAndParts(t *testing.T) {
	s := StartSMTP(t, SMTPOptions{Username: "u", Password: "p"})
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nX-Socdesk-Idempotency-Key: k1\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHall=C3=B6\r\n" +
		"--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n--XX--\r\n"
	if err := smtp.SendMail(s.Addr, nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("without AUTH: %v, want 530", err)
	}
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "u", "wrong", s.Host), "a@example.com", []string{"b@example.com"}, []byte(msg)); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := smtp.SendMail(s.Addr, smtp.PlainAuth("", "u", "p", s.Host), "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	m := s.WaitFor(t, 1, 10*time.Second)[0]
	if m.Subject != "Grüße" || strings.TrimSpace(m.Text) != "Hallö" || m.HTML != "<b>hi</b>" || m.User != "u" || m.TLS {
		t.Fatalf("mail %+v", m)
	}
	if s.Keys()["k1"] != 1 {
		t.Fatalf("keys %v", s.Keys())
	}
}

// TestSMTPStartTLSCert: STARTTLS is offered and its certificate is
// trusted through CertPool.
func TestSMTPStartTLSCert(t *testing.T) {
	s := StartSMTP(t, SMTPOptions{TLS: SMTPStartTLS})
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(&tls.Config{ServerName: s.Host, RootCAs: s.CertPool()}); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPOverlaps: a request arriving while another with its key is still
// being answered is an overlap; one after it is not.
func TestHTTPOverlaps(t *testing.T) {
	h := StartHTTP(t)
	h.Delay(300 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); post(t, h.URL, "k") }()
	}
	wg.Wait()
	h.Delay(0)
	post(t, h.URL, "k")
	post(t, h.URL, "other")
	if got := h.Overlaps(); len(got) != 1 || got[0] != "k" {
		t.Fatalf("overlaps %v, want [k]", got)
	}
	if r := h.Requests(); r[0].At.IsZero() || r[3].At.Before(r[0].At) {
		t.Fatalf("arrival times %v, %v", r[0].At, r[3].At)
	}
}
