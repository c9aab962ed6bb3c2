package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var loop4 = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func get(t *testing.T, g *Guard, url string) (*Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g.Do(context.Background(), req)
}

// serverOn starts an HTTP server on the given loopback address ("127.0.0.1"
// or "[::1]") counting its requests.
func serverOn(t *testing.T, host string, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	var n atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }

// TestLoopbackRefusedWithoutAllow: with no allow-list, a server on
// 127.0.0.1 is never reached, whether named by IP or by a host name that
// resolves to it (the check is on the dialled address, not the URL).
func TestLoopbackRefusedWithoutAllow(t *testing.T) {
	s, n := serverOn(t, "127.0.0.1", ok)
	port := s.Listener.Addr().(*net.TCPAddr).Port
	g := &Guard{}
	for _, url := range []string{s.URL, "http://localhost:" + strconv.Itoa(port) + "/"} {
		_, err := get(t, g, url)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("%s: err = %v, want ErrRefused", url, err)
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("error %q does not say why", err)
		}
	}
	if n.Load() != 0 {
		t.Fatalf("refused server got %d requests", n.Load())
	}
}

// TestAllowAdmits: an allow-listed loopback server is reached and its
// answer returned.
func TestAllowAdmits(t *testing.T) {
	s, _ := serverOn(t, "127.0.0.1", ok)
	resp, err := get(t, &Guard{Allow: loop4}, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != "hello" || resp.Truncated {
		t.Fatalf("resp = %d %q truncated=%v", resp.Status, resp.Body, resp.Truncated)
	}
}

// TestAllowIsPerFamily: allowing 127.0.0.0/8 does not admit ::1.
func TestAllowIsPerFamily(t *testing.T) {
	s, n := serverOn(t, "[::1]", ok)
	if _, err := get(t, &Guard{Allow: loop4}, s.URL); !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if n.Load() != 0 {
		t.Fatal("refused server was reached")
	}
}

// TestRedirectNotFollowed: an allowed host redirecting to a refused one
// (::1 while only 127.0.0.0/8 is allowed) does not get the request
// through: the redirect comes back as the response, the target sees
// nothing.
func TestRedirectNotFollowed(t *testing.T) {
	target, hits := serverOn(t, "[::1]", ok)
	origin, _ := serverOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/x", http.StatusTemporaryRedirect)
	})
	resp, err := get(t, &Guard{Allow: loop4}, origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTemporaryRedirect {
		t.Fatalf("status = %d, want 307 returned as is", resp.Status)
	}
	if hits.Load() != 0 {
		t.Fatal("redirect target was reached")
	}
	// Even with the target allowed, the redirect is not followed: headers
	// would go along to it.
	resp, err = get(t, &Guard{Allow: append(loop4, netip.MustParsePrefix("::1/128"))}, origin.URL)
	if err != nil || resp.Status != http.StatusTemporaryRedirect || hits.Load() != 0 {
		t.Fatalf("allowed target: status %v err %v hits %d", resp, err, hits.Load())
	}
}

// TestTimeout: a server that does not answer in time gives an error (a
// deadline, not a refusal) once Timeout has passed.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	s, _ := serverOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	_, err := get(t, &Guard{Allow: loop4, Timeout: 100 * time.Millisecond}, s.URL)
	if err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v is not a timeout", err)
		}
	}
}

// TestBodyCut: a body longer than the limit is cut there, flagged, not an
// error.
func TestBodyCut(t *testing.T) {
	big := strings.Repeat("a", 10000)
	s, _ := serverOn(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(big)) })
	resp, err := get(t, &Guard{Allow: loop4, MaxResponseBytes: 100}, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 100 || !resp.Truncated {
		t.Fatalf("len %d truncated %v, want 100 true", len(resp.Body), resp.Truncated)
	}
	resp, err = get(t, &Guard{Allow: loop4, MaxResponseBytes: 10000}, s.URL)
	if err != nil || len(resp.Body) != 10000 || resp.Truncated {
		t.Fatalf("exact limit: len %d truncated %v err %v", len(resp.Body), resp.Truncated, err)
	}
}

// TestNoProxyFromEnvironment: HTTP_PROXY is ignored (a proxy would dial
// for us and bypass the check).
func TestNoProxyFromEnvironment(t *testing.T) {
	proxy, proxied := serverOn(t, "127.0.0.1", ok)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	s, _ := serverOn(t, "127.0.0.1", ok)
	if _, err := get(t, &Guard{Allow: loop4}, s.URL); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 0 {
		t.Fatal("request went through the environment's proxy")
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true},
		{"192.168.1.1", true}, {"fd00::1", true}, {"169.254.169.254", true}, {"fe80::1", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true},
		{"100.64.0.1", true}, {"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true},
		{"64:ff9b::a00:1", true}, {"255.255.255.255", true},
		{"93.184.215.14", false}, {"2606:4700::1111", false}, {"100.128.0.1", false}, {"::ffff:8.8.8.8", false},
	} {
		err := Check(nil, netip.MustParseAddr(tc.ip))
		if got := errors.Is(err, ErrRefused); got != tc.refused {
			t.Errorf("Check(%s) = %v, want refused=%v", tc.ip, err, tc.refused)
		}
	}
	if err := Check(loop4, netip.MustParseAddr("::ffff:127.0.0.1")); err != nil {
		t.Errorf("mapped loopback with 127/8 allowed: %v", err)
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow(" 127.0.0.0/8, 10.1.2.3 ,::1,,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.0/8", "10.1.2.3/32", "::1/128", "fd00::/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	if p, _ := ParseAllow("10.1.2.3/8"); p[0].String() != "10.0.0.0/8" {
		t.Errorf("not masked: %v", p)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0", "fe80::1%eth0"} {
		_, err := ParseAllow("127.0.0.1," + bad)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseAllow(%q) = %v, want an error naming it", bad, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url, wantErr string
	}{
		{"https://hooks.example.com/services/T0/B0/x?y=1", ""},
		{"http://10.0.0.1:8080/", ""},
		{"http://[::1]:80/x", ""},
		{"", "required"},
		{"ftp://example.com/", "http or https"},
		{"javascript:alert(1)", "http or https"},
		{"example.com/path", "http or https"},
		{"https:///path", "host"},
		{"https://user:pw@example.com/", "user name"},
		{"https://example.com/#frag", "fragment"},
		{"https://example.com/#", "fragment"},
		{"https://exa mple.com/", "spaces"},
		{"https://example.com/\n", "control"},
		{"https://example.com:99999/", "port"},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength), "longer"},
	} {
		err := CheckURL(tc.url)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tc.url, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckURL(%q) = %v, want error containing %q", tc.url, err, tc.wantErr)
		}
	}
}

// TestErrorHidesPathAndQuery: errors name method and host only; a
// webhook URL's path or query may be its token.
func TestErrorHidesPathAndQuery(t *testing.T) {
	s, _ := serverOn(t, "127.0.0.1", ok)
	_, err := get(t, &Guard{}, s.URL+"/services/T0/SECRETPATH?token=SECRETQ")
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), s.Listener.Addr().String()) {
		t.Fatalf("err = %v", err)
	}
}

// TestRedact: the secret, each part of it of MinSecretPart characters or
// more, and (RedactStart) a start of one cut off at the end are hidden;
// short words of a secret are not.
func TestRedact(t *testing.T) {
	const secret = "Bearer tok-98765"
	cases := []struct{ in, want, wantStart string }{
		{"auth " + secret + " bad", "auth [secret] bad", "auth [secret] bad"},
		{`token "tok-98765" unknown`, `token "[secret]" unknown`, `token "[secret]" unknown`},
		{"scheme Basic ok", "scheme Basic ok", "scheme Basic ok"},
		{"cut: Bearer tok-9", "cut: Bearer tok-9", "cut: [secret]"}, // the scheme word alone is no secret; a cut start of the secret is
		{"missing Bearer token", "missing Bearer token", "missing Bearer token"},
		{"cut: tok-98", "cut: tok-98", "cut: [secret]"},
		{"cut: tok-9", "cut: tok-9", "cut: tok-9"}, // 5 characters: too short to say
	}
	for _, c := range cases {
		if got := Redact(c.in, secret, ""); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := RedactStart(c.in, secret); got != c.wantStart {
			t.Errorf("RedactStart(%q) = %q, want %q", c.in, got, c.wantStart)
		}
	}
	if got := Redact("x k y", "k"); got != "x [secret] y" {
		t.Errorf("a short secret is hidden whole: %q", got)
	}
}

// TestHeaderTimeoutIsTheGuards: the wait for the response headers is
// bounded by the guard's Timeout, not DefaultTimeout, so a guard allowing
// 30 s (a slow playbook endpoint) does not give up after 10. Read from the
// transport: proving it by waiting would take over 10 s.
func TestHeaderTimeoutIsTheGuards(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 3 * DefaultTimeout} {
		g := &Guard{Timeout: d}
		g.once.Do(g.init)
		want := d
		if d == 0 {
			want = DefaultTimeout
		}
		if got := g.client.Transport.(*http.Transport).ResponseHeaderTimeout; got != want {
			t.Errorf("Timeout %v: the response headers are awaited %v, want %v", d, got, want)
		}
	}
}
