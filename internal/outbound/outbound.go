// Package outbound is the one HTTP client for every request socdesk sends
// to an address an administrator configured: webhooks, SMS gateways,
// playbook endpoints. It refuses destinations inside the network socdesk
// runs in (loopback, private, link-local, CGNAT, …) unless allow-listed,
// bounds the whole request in time and the response in size, and uses no
// proxy from the environment.
//
// The destination check runs at dial time on the resolved IP (net.Dialer
// Control), so neither a host name that resolves to 127.0.0.1 nor DNS
// rebinding between a check and the connection can get past it.
//
// Redirects are never followed: a 3xx is returned to the caller as the
// response. Following one would resend the request's headers — a webhook
// signature, an SMS gateway's secret auth header under any name — to
// wherever the redirect points, and Go strips only Authorization and
// Cookie on a change of host.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Limits.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	// MaxURLLength bounds a configured URL (CheckURL).
	MaxURLLength = 2048
	// dialTimeout bounds the TCP connect within the whole request's timeout.
	dialTimeout = 5 * time.Second
)

// ErrRefused: the destination is not one socdesk may send to. Errors from
// Do wrap it with the IP and the reason.
var ErrRefused = errors.New("outbound: destination refused")

// Guard sends requests to destinations outside socdesk's own network.
// Set its fields before the first Do; a Guard is safe for concurrent use.
type Guard struct {
	// Allow admits addresses even when loopback or private (tests:
	// 127.0.0.0/8, ::1/128; an intranet gateway in production).
	Allow []netip.Prefix
	// Timeout bounds the whole request, response body included;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// MaxResponseBytes bounds the response body kept; longer bodies are
	// cut (Response.Truncated), not errors. DefaultMaxResponseBytes when zero.
	MaxResponseBytes int64

	once   sync.Once
	client *http.Client
}

// Response is what came back, the body bounded.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte // at most MaxResponseBytes
	Truncated bool   // the body was longer than Body
	Duration  time.Duration
}

// Do sends req and reads its response, bounded in time and size. The
// error of a refused destination wraps ErrRefused. Errors name the method
// and host but not the URL's path or query, which may carry a token
// (Slack's webhook URLs do).
func (g *Guard) Do(ctx context.Context, req *http.Request) (*Response, error) {
	g.once.Do(g.init)
	timeout := g.timeout()
	limit := g.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := g.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, requestError(req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, requestError(req, fmt.Errorf("reading response: %w", err))
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, Duration: time.Since(start)}
	if int64(len(body)) > limit {
		out.Body, out.Truncated = body[:limit], true
	}
	return out, nil
}

// requestError drops *url.Error's URL (path and query may be secret).
func requestError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s://%s: %w", req.Method, req.URL.Scheme, req.URL.Host, err)
}

// timeout is the bound of a whole request.
func (g *Guard) timeout() time.Duration {
	if g.Timeout > 0 {
		return g.Timeout
	}
	return DefaultTimeout
}

func (g *Guard) init() {
	allow := append([]netip.Prefix(nil), g.Allow...)
	dialer := &net.Dialer{
		Timeout: dialTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDial(allow, address)
		},
	}
	g.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // never HTTP(S)_PROXY: the proxy would dial, not us
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   dialTimeout,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: g.timeout(), // the guard's, not DefaultTimeout: a 30 s playbook waits 30 s
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkDial refuses the resolved address unless it is public or allowed.
func checkDial(allow []netip.Prefix, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrRefused, address)
	}
	return Check(allow, ap.Addr())
}

// Check reports whether ip may be dialled: nil when public or inside one
// of allow's prefixes, an error wrapping ErrRefused saying why otherwise.
func Check(allow []netip.Prefix, ip netip.Addr) error {
	ip = ip.WithZone("")
	plain := ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) || p.Contains(plain) {
			return nil
		}
	}
	if why := special(plain); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrRefused, ip, why)
	}
	return nil
}

// refusedRanges are the non-public ranges not covered by netip's own
// predicates.
var refusedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

// nat64 maps IPv4 into IPv6 (RFC 6052); the embedded IPv4 is checked.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// special names why ip is not public, or returns "".
func special(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "not an address"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast(), ip.IsMulticast():
		return "multicast"
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.why
		}
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		if why := special(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return "a NAT64 address of a " + why + " IPv4 address"
		}
	}
	return ""
}

// MinSecretPart is the shortest whitespace-separated part of a secret that
// Redact hides on its own: the token of "Bearer <token>" is a secret,
// "Basic" is a word.
const MinSecretPart = 6

// hidden stands in for a secret.
const hidden = "[secret]"

// Redact hides in s, a receiver's answer or an error's text, each secret
// (an auth header value, a key) and each whitespace-separated part of one
// of MinSecretPart or more characters: a receiver may quote the token of
// "Bearer <token>" without its scheme. Redact before cutting a text, or
// the cut may leave the start of a secret behind; when s is itself the
// start of a longer text (Response.Truncated), use RedactStart.
func Redact(s string, secrets ...string) string {
	for _, p := range secretParts(secrets) {
		s = strings.ReplaceAll(s, p, hidden)
	}
	return s
}

// RedactStart is Redact for the start of a longer text: it also hides a
// start of a secret or part, MinSecretPart characters or more, that ends s.
func RedactStart(s string, secrets ...string) string {
	parts := secretParts(secrets)
	for _, p := range parts {
		for n := len(p) - 1; n > 0 && utf8.RuneCountInString(p[:n]) >= MinSecretPart; n-- {
			if strings.HasSuffix(s, p[:n]) {
				s = s[:len(s)-n] + hidden
				break
			}
		}
	}
	return Redact(s, secrets...)
}

// secretParts are the secrets and their parts to hide, longest first (a
// whole secret before its parts).
// authSchemes are the words before a credential ("Bearer <token>"): no
// secret themselves, and an answer saying "missing Bearer token" should
// stay readable.
var authSchemes = []string{"bearer", "basic", "digest", "token", "apikey"}

func secretParts(secrets []string) []string {
	var out []string
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		out = append(out, sec)
		if f := strings.Fields(sec); len(f) > 1 {
			for _, p := range f {
				if utf8.RuneCountInString(p) >= MinSecretPart && !slices.Contains(authSchemes, strings.ToLower(p)) {
					out = append(out, p)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// ParseAllow reads an allow-list: comma-separated CIDR prefixes or bare
// IPs (a bare IP is its /32 or /128), e.g. "127.0.0.0/8,10.1.2.3".
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q is not a CIDR prefix (like 10.0.0.0/8)", entry)
			}
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("allow-list entry %q has a zone", entry)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(entry)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("allow-list entry %q is not an IP address or CIDR prefix", entry)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CheckURL checks a URL an administrator configures: http or https, a
// host, no user info (credentials belong in the secret), no fragment, at
// most MaxURLLength bytes. Its message suits errs.Invalid. It does not
// resolve the host: the destination is checked when dialled.
func CheckURL(raw string) error {
	switch {
	case raw == "":
		return errors.New("is required")
	case len(raw) > MaxURLLength:
		return fmt.Errorf("is longer than %d bytes", MaxURLLength)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http or https URL")
	case u.Opaque != "" || u.Hostname() == "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not contain a user name or password (put credentials in the secret)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not contain a fragment (#…)")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	return nil
}
