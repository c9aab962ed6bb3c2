package reputation_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/outbound"
	"socdesk/internal/reputation"
)

const key = "vt-test-key-0123456789abcdef"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func provider(url, k string, timeout time.Duration) *reputation.VirusTotal {
	return &reputation.VirusTotal{URL: url, Key: k,
		HTTP: &outbound.Guard{Allow: loopback, Timeout: timeout, MaxResponseBytes: reputation.MaxAnswerBytes}}
}

// TestVirusTotal: the v3 API's answers are mapped (counts, reputation, 404
// as NOT_FOUND), and a slow, rate-limiting, failing, down, unreachable or
// key-refusing provider is a status with a reason, never an error, and never
// the key.
func TestVirusTotal(t *testing.T) {
	fake := receivers.NewVirusTotal(t, key)
	fake.Report("ip_addresses/8.8.8.8", receivers.VTStats{Malicious: 2, Suspicious: 1, Harmless: 60, Undetected: 7, Reputation: -11})
	vt := provider(fake.URL, key, 300*time.Millisecond)
	ip := reputation.Indicator{Kind: reputation.IP, Value: "8.8.8.8"}
	ctx := context.Background()

	a := vt.Lookup(ctx, ip)
	if a.Status != reputation.OK || a.Stats["malicious"] != 2 || a.Stats["harmless"] != 60 || a.Stats["undetected"] != 7 ||
		a.Stats["suspicious"] != 1 || a.Reputation == nil || *a.Reputation != -11 {
		t.Fatalf("answer %+v", a)
	}
	if a := vt.Lookup(ctx, reputation.Indicator{Kind: reputation.Domain, Value: "nothing.example.com"}); a.Status != reputation.NotFound {
		t.Fatalf("unknown domain: %+v", a)
	}
	if got := fake.Requests(); strings.Join(got, ",") != "ip_addresses/8.8.8.8,domains/nothing.example.com" {
		t.Fatalf("requests %v", got)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	_ = closed.Close()

	for _, c := range []struct {
		name   string
		mode   receivers.VTMode
		vt     *reputation.VirusTotal
		status reputation.Status
		reason string
	}{
		{"slow", receivers.VTSlow, vt, reputation.Unavailable, "did not answer in time"},
		{"429", receivers.VTLimited, vt, reputation.RateLimited, "rate limit"},
		{"500", receivers.VTFailing, vt, reputation.Unavailable, "HTTP 500"},
		{"down", receivers.VTDown, vt, reputation.Unavailable, "could not be reached"},
		{"refused", receivers.VTAnswer, provider(refused, key, time.Second), reputation.Unavailable, "could not be reached"},
		{"wrong key", receivers.VTAnswer, provider(fake.URL, key+"-old", time.Second), reputation.Unavailable, "refused the key (HTTP 401)"},
		{"not allowed", receivers.VTAnswer, &reputation.VirusTotal{URL: fake.URL, Key: key, HTTP: &outbound.Guard{}}, reputation.Unavailable, "not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake.SetMode(c.mode, 5*time.Second, "120")
			a := c.vt.Lookup(ctx, ip)
			if a.Status != c.status || !strings.Contains(a.Err, c.reason) {
				t.Fatalf("got %+v, want %s with %q", a, c.status, c.reason)
			}
			if strings.Contains(a.Err, key) || strings.Contains(a.Err, "0123456789abcdef") {
				t.Fatalf("the key in %q", a.Err)
			}
			if c.mode == receivers.VTLimited && a.RetryAfter != 120*time.Second {
				t.Fatalf("retry after %v", a.RetryAfter)
			}
		})
	}
}

// TestLimiter: at most rate requests per window, then a wait; a pause (a
// 429's Retry-After) stops every request until it ends.
func TestLimiter(t *testing.T) {
	now := time.Now()
	l, err := reputation.NewLimiter(2, time.Hour, nil, "test:", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		if ok, _ := l.Take(ctx); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if ok, wait := l.Take(ctx); ok || wait <= 0 {
		t.Fatalf("third request: ok %v, wait %v", ok, wait)
	}

	p, _ := reputation.NewLimiter(100, time.Minute, nil, "test:", func() time.Time { return now })
	p.Pause(ctx, now.Add(90*time.Second))
	if ok, wait := p.Take(ctx); ok || wait != 90*time.Second {
		t.Fatalf("paused: ok %v wait %v", ok, wait)
	}
	now = now.Add(91 * time.Second)
	if ok, _ := p.Take(ctx); !ok {
		t.Fatal("still paused after the pause")
	}
}

// TestLimiterAcrossReplicas: two replicas' limiters on one Redis share the
// budget and the pause.
func TestLimiterAcrossReplicas(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr()})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
	}
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("socdesk-test:%s:%d:", t.Name(), time.Now().UnixNano())
	ctx := context.Background()
	a, _ := reputation.NewLimiter(3, time.Hour, rdb, prefix, nil)
	b, _ := reputation.NewLimiter(3, time.Hour, rdb, prefix, nil)
	allowed := 0
	for range 3 {
		for _, l := range []*reputation.Limiter{a, b} {
			if ok, _ := l.Take(ctx); ok {
				allowed++
			}
		}
	}
	if allowed != 3 {
		t.Fatalf("%d of 6 allowed by two replicas sharing a budget of 3", allowed)
	}

	p2 := prefix + "pause:"
	c, _ := reputation.NewLimiter(100, time.Minute, rdb, p2, nil)
	d, _ := reputation.NewLimiter(100, time.Minute, rdb, p2, nil)
	c.Pause(ctx, time.Now().Add(time.Minute))
	if ok, wait := d.Take(ctx); ok || wait < 50*time.Second {
		t.Fatalf("the other replica is not paused: ok %v wait %v", ok, wait)
	}
}

// TestIndicators: a ticket's public IPs, its host, its custom fields by the
// type its template declares, and its evidence's values, once each; never a
// private address or an internal domain (they would tell the provider about
// the network), at most MaxIndicators.
func TestIndicators(t *testing.T) {
	tpl := ticket.DetectionTemplateEMAIL
	hash := strings.Repeat("ab", 32)
	tk := &ent.Ticket{Kind: ticket.KindDETECTION, DetectionTemplate: &tpl, SrcIP: "::ffff:8.8.8.8", DstIP: "10.1.2.3", Host: "mail.Example.COM.",
		CustomFields: []schematype.CustomField{
			{Key: "from", Value: "Mallory <m@phish.example.net>"}, {Key: "to", Value: "ana@corp.internal"},
			{Key: "url", Value: "https://203.0.113.9/login"}, {Key: "attachmentHash", Value: strings.ToUpper(hash)},
			{Key: "note", Value: "8.8.8.8"}, {Key: "subject", Value: "invoice.example.org"},
		}}
	records := []map[string]any{
		{"dns": map[string]any{"query_domain": "c2.example.io", "answers": []any{"192.168.1.1", "1.1.1.1"}}, "md5": strings.Repeat("0f", 16)},
		{"hostname": "printer.local", "sha1": hash[:40], "src": "8.8.8.8"},
	}
	var got []string
	for _, i := range reputation.Indicators(tk, records) {
		got = append(got, string(i.Kind)+":"+i.Value)
	}
	want := []string{"IP:8.8.8.8", "DOMAIN:mail.example.com", "DOMAIN:phish.example.net", "IP:203.0.113.9", "FILE_HASH:" + hash,
		"IP:1.1.1.1", "DOMAIN:c2.example.io", "FILE_HASH:" + strings.Repeat("0f", 16), "FILE_HASH:" + hash[:40]}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}

	var many []map[string]any
	for i := range 50 {
		many = append(many, map[string]any{"ip": netip.AddrFrom4([4]byte{8, 8, 4, byte(i)}).String()})
	}
	if n := len(reputation.Indicators(&ent.Ticket{Kind: ticket.KindDETECTION}, many)); n != reputation.MaxIndicators {
		t.Fatalf("%d indicators", n)
	}
}
