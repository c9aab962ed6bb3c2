package channels_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"socdesk/graph/scalar"
	"socdesk/internal/channels"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/outbound"
)

var sentAt = time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)

func httpSender() *channels.Sender {
	return &channels.Sender{
		HTTP: &outbound.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 5 * time.Second},
		Now:  func() time.Time { return sentAt },
	}
}

func webhook(r *receivers.HTTP, format string) channels.Settings {
	return channels.Settings{Webhook: &channels.WebhookSettings{URL: r.URL + "/hook?token=abc", Format: format}}
}

// TestWebhookJSONSigned: the JSON body carries the message, recipient and
// data; the signature verifies with the secret, fails on a tampered body
// or a stale timestamp.
func TestWebhookJSONSigned(t *testing.T) {
	r := receivers.StartHTTP(t)
	const secret = "hmac-key-1"
	if err := httpSender().Send(context.Background(), channels.Webhook, webhook(r, ""), secret, alice, message("d-1")); err != nil {
		t.Fatal(err)
	}
	req := r.WaitFor(t, 1, wait)[0]
	if req.Method != "POST" || req.Path != "/hook" || req.RawQuery != "token=abc" {
		t.Errorf("request %s %s?%s", req.Method, req.Path, req.RawQuery)
	}
	if req.Key != "d-1" || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("X-Socdesk-Event") != "ticket.created" {
		t.Errorf("headers %v", req.Header)
	}
	if got := req.Header.Get("X-Socdesk-Timestamp"); got != "1796180645" {
		t.Errorf("timestamp %q, want the sender's Now in unix seconds", got)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event": "ticket.created", "idempotencyKey": "d-1", "subject": "Ticket #12: Brute force on vpn-01",
		"text": "A new ticket was assigned to you.", "link": "https://soc.example.com/t/12", "sentAt": "2026-12-02T03:04:05Z",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%q] = %v, want %v", k, body[k], v)
		}
	}
	if _, ok := body["to"]; ok {
		t.Error(`a webhook body has no "to"`)
	}
	// Only who it is: a third party's webhook gets no email or phone.
	rcpt, _ := body["recipient"].(map[string]any)
	if len(rcpt) != 3 || rcpt["userId"] != scalar.EncodeID(7) || rcpt["login"] != "alice" || rcpt["name"] != "Alice" {
		t.Errorf("recipient = %v, want only userId, login and name", rcpt)
	}
	for _, addr := range []string{alice.Email, alice.Phone, alice.Messenger} {
		if strings.Contains(string(req.Body), addr) {
			t.Errorf("the body carries the recipient's %q: %s", addr, req.Body)
		}
	}
	if data, _ := body["data"].(map[string]any); data["ticketId"] != 12.0 || data["priority"] != "HIGH" {
		t.Errorf("data = %v", body["data"])
	}

	if err := channels.Verify(secret, req.Header, req.Body, time.Minute, sentAt.Add(30*time.Second)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tampered := []byte(strings.Replace(string(req.Body), "vpn-01", "vpn-02", 1))
	if err := channels.Verify(secret, req.Header, tampered, time.Minute, sentAt); !errors.Is(err, channels.ErrBadSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := channels.Verify("other-key", req.Header, req.Body, time.Minute, sentAt); !errors.Is(err, channels.ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := channels.Verify(secret, req.Header, req.Body, time.Minute, sentAt.Add(2*time.Minute)); !errors.Is(err, channels.ErrStaleTimestamp) {
		t.Errorf("stale timestamp: %v", err)
	}
	if err := channels.Verify(secret, http.Header{}, req.Body, time.Minute, sentAt); !errors.Is(err, channels.ErrNoSignature) {
		t.Errorf("no headers: %v", err)
	}
	// A rotated secret: several values, one matching, verifies.
	h := req.Header.Clone()
	h.Set("X-Socdesk-Signature", "v1=00ff, "+req.Header.Get("X-Socdesk-Signature"))
	if err := channels.Verify(secret, h, req.Body, 0, sentAt); err != nil {
		t.Errorf("several signatures: %v", err)
	}
}

// TestSignDocumented pins the scheme the package doc describes, so a
// receiver written from the doc agrees: hex HMAC-SHA256 over "ts.body".
func TestSignDocumented(t *testing.T) {
	// printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
	if got := channels.Sign("key", 1700000000, []byte(`{"a":1}`)); got != "v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03" {
		t.Fatalf("Sign = %q", got)
	}
}

// TestWebhookUnsigned: without a secret there is no signature header.
func TestWebhookUnsigned(t *testing.T) {
	r := receivers.StartHTTP(t)
	if err := httpSender().Send(context.Background(), channels.Webhook, webhook(r, ""), "", alice, message("d-1")); err != nil {
		t.Fatal(err)
	}
	if req := r.WaitFor(t, 1, wait)[0]; req.Header.Get("X-Socdesk-Signature") != "" {
		t.Fatal("signed without a secret")
	}
}

// TestWebhookChat: the CHAT body is exactly {"text": subject, text, link}.
func TestWebhookChat(t *testing.T) {
	r := receivers.StartHTTP(t)
	if err := httpSender().Send(context.Background(), channels.Webhook, webhook(r, "CHAT"), "k", alice, message("d-1")); err != nil {
		t.Fatal(err)
	}
	req := r.WaitFor(t, 1, wait)[0]
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := "Ticket #12: Brute force on vpn-01\nA new ticket was assigned to you.\nhttps://soc.example.com/t/12"
	if len(body) != 1 || body["text"] != want {
		t.Fatalf("CHAT body = %s", req.Body)
	}
	if err := channels.Verify("k", req.Header, req.Body, 0, sentAt); err != nil {
		t.Errorf("CHAT bodies are signed too: %v", err)
	}
	// A text that ends with the link (the notifications' do) has it once.
	m := message("d-2")
	m.Text += "\n" + m.Link
	if err := httpSender().Send(context.Background(), channels.Webhook, webhook(r, "CHAT"), "k", alice, m); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(r.WaitFor(t, 2, wait)[1].Body, &body)
	if text, _ := body["text"].(string); strings.Count(text, m.Link) != 1 {
		t.Fatalf("CHAT text with the link twice: %q", text)
	}
}

// TestMessenger: the webhook addressed to the handle: "to" in JSON, an
// "@handle " mention in CHAT; no handle is a permanent failure.
func TestMessenger(t *testing.T) {
	r := receivers.StartHTTP(t)
	s := httpSender()
	set := func(format string) channels.Settings {
		return channels.Settings{Messenger: &channels.WebhookSettings{URL: r.URL, Format: format}}
	}
	if err := s.Send(context.Background(), channels.Messenger, set(""), "", alice, message("m-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), channels.Messenger, set("CHAT"), "", alice, message("m-2")); err != nil {
		t.Fatal(err)
	}
	reqs := r.WaitFor(t, 2, wait)
	var j, c map[string]any
	_ = json.Unmarshal(reqs[0].Body, &j)
	_ = json.Unmarshal(reqs[1].Body, &c)
	if rcpt, _ := j["recipient"].(map[string]any); j["to"] != "alice.s" || j["event"] != "ticket.created" || len(rcpt) != 3 || rcpt["login"] != "alice" {
		t.Errorf("JSON body = %s, want the handle in \"to\" and the recipient's userId, login and name", reqs[0].Body)
	}
	for _, addr := range []string{alice.Email, alice.Phone} {
		if strings.Contains(string(reqs[0].Body), addr) {
			t.Errorf("the messenger body carries the recipient's %q: %s", addr, reqs[0].Body)
		}
	}
	if text, _ := c["text"].(string); !strings.HasPrefix(text, "@alice.s Ticket #12") {
		t.Errorf("CHAT body = %s", reqs[1].Body)
	}
	noHandle := alice
	noHandle.Messenger = ""
	err := s.Send(context.Background(), channels.Messenger, set(""), "", noHandle, message("m-3"))
	if !errors.Is(err, channels.ErrNoAddress) || !channels.Permanent(err) {
		t.Fatalf("err = %v, want permanent ErrNoAddress", err)
	}
	if n := len(r.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func smsSettings(r *receivers.HTTP, tmpl string) channels.Settings {
	return channels.Settings{SMS: &channels.SMSSettings{URL: r.URL + "/sms", AuthHeader: "X-Api-Key", BodyTemplate: tmpl}}
}

// TestSMSJSONTemplate: values are JSON-escaped inside the template's
// quotes, so quotes, backslashes and newlines in the text keep the body
// valid JSON carrying the text unchanged; the auth header carries the
// secret; the phone is normalised.
func TestSMSJSONTemplate(t *testing.T) {
	r := receivers.StartHTTP(t)
	m := message("s-1")
	m.Subject = "Alert \"vpn-01\" \\ down\nline two"
	err := httpSender().Send(context.Background(), channels.SMS, smsSettings(r, `{"to": "{{.Phone}}", "message": "{{.Text}}"}`), "api-s3cret", alice, m)
	if err != nil {
		t.Fatal(err)
	}
	req := r.WaitFor(t, 1, wait)[0]
	if req.Method != "POST" || req.Header.Get("Content-Type") != "application/json" || req.Key != "s-1" {
		t.Errorf("%s %v", req.Method, req.Header)
	}
	if got := req.Header.Get("X-Api-Key"); got != "api-s3cret" {
		t.Errorf("auth header = %q", got)
	}
	var body struct{ To, Message string }
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatalf("body %s is not JSON: %v", req.Body, err)
	}
	if body.To != "+4915112345678" {
		t.Errorf("to = %q", body.To)
	}
	if want := m.Subject + " https://soc.example.com/t/12"; body.Message != want {
		t.Errorf("message = %q, want %q", body.Message, want)
	}
}

// TestSMSGetAndForm: for GET the rendered template is the query string,
// for a form body the values are URL-escaped.
func TestSMSGetAndForm(t *testing.T) {
	r := receivers.StartHTTP(t)
	s := httpSender()
	m := message("s-1")
	m.Subject = "a&b=c d"
	get := channels.Settings{SMS: &channels.SMSSettings{URL: r.URL + "/send?user=soc", Method: "GET", BodyTemplate: "to={{.Phone}}&text={{.Text}}"}}
	form := channels.Settings{SMS: &channels.SMSSettings{URL: r.URL + "/send", ContentType: "application/x-www-form-urlencoded", BodyTemplate: "to={{.Phone}}&text={{.Text}}"}}
	if err := s.Send(context.Background(), channels.SMS, get, "", alice, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), channels.SMS, form, "", alice, m); err != nil {
		t.Fatal(err)
	}
	reqs := r.WaitFor(t, 2, wait)
	want := "a&b=c d https://soc.example.com/t/12"
	q, _ := url.ParseQuery(reqs[0].RawQuery)
	if reqs[0].Method != "GET" || q.Get("user") != "soc" || q.Get("to") != "+4915112345678" || q.Get("text") != want || len(reqs[0].Body) != 0 {
		t.Errorf("GET %s?%s body %q", reqs[0].Method, reqs[0].RawQuery, reqs[0].Body)
	}
	f, _ := url.ParseQuery(string(reqs[1].Body))
	if f.Get("text") != want || f.Get("to") != "+4915112345678" {
		t.Errorf("form body %s", reqs[1].Body)
	}
}

// TestSMSLength: the text is cut to MaxSMSRunes, the link kept whole.
func TestSMSLength(t *testing.T) {
	r := receivers.StartHTTP(t)
	m := message("s-1")
	m.Subject = strings.Repeat("ü", 1000)
	if err := httpSender().Send(context.Background(), channels.SMS, smsSettings(r, `{"m":"{{.Text}}"}`), "k", alice, m); err != nil {
		t.Fatal(err)
	}
	var body struct{ M string }
	_ = json.Unmarshal(r.WaitFor(t, 1, wait)[0].Body, &body)
	if n := utf8.RuneCountInString(body.M); n != channels.MaxSMSRunes || !strings.HasSuffix(body.M, "… https://soc.example.com/t/12") {
		t.Fatalf("%d runes: %q", n, body.M)
	}
}

// TestSMSNoPhone: permanent, nothing sent.
func TestSMSNoPhone(t *testing.T) {
	r := receivers.StartHTTP(t)
	for _, phone := range []string{"", "call me"} {
		rc := alice
		rc.Phone = phone
		err := httpSender().Send(context.Background(), channels.SMS, smsSettings(r, `{"m":"{{.Text}}"}`), "k", rc, message("s-1"))
		if err == nil || !channels.Permanent(err) {
			t.Errorf("phone %q: err = %v, want permanent", phone, err)
		}
	}
	if len(r.Requests()) != 0 {
		t.Fatal("sent without a phone")
	}
}

// TestPermanent: 4xx other than 408/425/429 is permanent; 5xx, those,
// and a timeout are not.
func TestPermanent(t *testing.T) {
	r := receivers.StartHTTP(t)
	s := httpSender()
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{400, true}, {401, true}, {404, true}, {410, true}, {302, true}, {408, false}, {425, false}, {429, false}, {500, false}, {502, false}, {503, false}} {
		r.FailNext(1, tc.status)
		err := s.Send(context.Background(), channels.Webhook, webhook(r, ""), "", alice, message("p"))
		var he *channels.HTTPError
		if !errors.As(err, &he) || he.Status != tc.status {
			t.Errorf("%d: err = %v", tc.status, err)
			continue
		}
		if got := channels.Permanent(err); got != tc.permanent {
			t.Errorf("%d: Permanent = %v, want %v", tc.status, got, tc.permanent)
		}
	}
	if err := s.Send(context.Background(), channels.Webhook, webhook(r, ""), "", alice, message("p")); err != nil {
		t.Fatalf("after FailNext: %v", err)
	}

	r.Delay(time.Minute)
	slow := &channels.Sender{HTTP: &outbound.Guard{Allow: s.HTTP.Allow, Timeout: 200 * time.Millisecond}}
	err := slow.Send(context.Background(), channels.Webhook, webhook(r, ""), "", alice, message("p"))
	if err == nil || channels.Permanent(err) {
		t.Fatalf("timeout: err = %v, want a transient error", err)
	}
	if keys := r.Keys(); keys["p"] != 13 {
		t.Errorf("keys = %v, want p seen 13 times", keys)
	}
}

// TestErrorExcerptWithoutSecret: a failing receiver's answer is quoted
// (status and up to 200 bytes) but never the secret, even when the
// receiver echoes it; a 401 or 403, an answer about our credentials, is
// quoted by its status alone.
func TestErrorExcerptWithoutSecret(t *testing.T) {
	r := receivers.StartHTTP(t)
	const secret = "Bearer tok-98765"
	sets := []struct {
		typ channels.Type
		set channels.Settings
	}{ // the SMS first: its request is checked below
		{channels.SMS, channels.Settings{SMS: &channels.SMSSettings{URL: r.URL, AuthHeader: "Authorization", BodyTemplate: `{"m":"{{.Text}}"}`}}},
		{channels.Webhook, webhook(r, "")},
	}
	send := func(typ channels.Type, set channels.Settings) string {
		t.Helper()
		err := httpSender().Send(context.Background(), typ, set, secret, alice, message("e"))
		if err == nil {
			t.Fatalf("%s: no error", typ)
		}
		return err.Error()
	}
	for _, c := range []struct {
		name, body, quoted string
	}{
		{"the whole secret echoed", "invalid credentials: " + secret + " " + strings.Repeat("x", 500), "invalid credentials: [secret] xxx"},
		{"only its token echoed", `{"error": "unknown token tok-98765"}`, `unknown token [secret]"}`},
		// The 200-byte cut falls inside the secret: "Bearer tok-9876" would be left.
		{"the cut inside the secret", strings.Repeat("x", 184) + " " + secret + " more", "xx [secret]"},
	} {
		r.Reset()
		r.Fail(400)
		r.FailBody(c.body)
		for _, s := range sets {
			msg := send(s.typ, s.set)
			if strings.Contains(msg, "tok-98") {
				t.Errorf("%s, %s: error quotes the secret: %s", c.name, s.typ, msg)
			}
			if !strings.HasPrefix(msg, "HTTP 400 Bad Request: ") || !strings.Contains(msg, c.quoted) || len(msg) > 300 {
				t.Errorf("%s, %s: error %q should carry the status and a short excerpt with %q", c.name, s.typ, msg, c.quoted)
			}
		}
		if got := r.Requests()[0].Header.Get("Authorization"); got != secret {
			t.Errorf("SMS auth header = %q", got)
		}
	}
	for _, status := range []int{401, 403} {
		r.Reset()
		r.Fail(status)
		r.FailBody("credentials rejected: tok-98")
		for _, s := range sets {
			if msg, want := send(s.typ, s.set), fmt.Sprintf("HTTP %d %s", status, http.StatusText(status)); msg != want {
				t.Errorf("%d, %s: error %q, want %q alone", status, s.typ, msg, want)
			}
		}
	}
}

// TestRefusedDestination: without an allow-list a loopback receiver is
// never reached; the failure is permanent.
func TestRefusedDestination(t *testing.T) {
	r := receivers.StartHTTP(t)
	s := &channels.Sender{HTTP: &outbound.Guard{}}
	for typ, set := range map[channels.Type]channels.Settings{
		channels.Webhook:   webhook(r, ""),
		channels.Messenger: {Messenger: &channels.WebhookSettings{URL: r.URL}},
		channels.SMS:       smsSettings(r, `{"m":"{{.Text}}"}`),
	} {
		err := s.Send(context.Background(), typ, set, "k", alice, message("r"))
		if !errors.Is(err, outbound.ErrRefused) || !channels.Permanent(err) {
			t.Errorf("%s: err = %v, want permanent ErrRefused", typ, err)
		}
	}
	if n := len(r.Requests()); n != 0 {
		t.Fatalf("refused receiver got %d requests", n)
	}
}
