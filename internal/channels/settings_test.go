package channels_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"socdesk/internal/channels"
	"socdesk/internal/errs"
)

// TestValidate: each bad setting is refused as BAD_USER_INPUT naming
// its field.
func TestValidate(t *testing.T) {
	email := func(f func(*channels.EmailSettings)) channels.Settings {
		e := &channels.EmailSettings{Host: "smtp.example.com", From: "soc@example.com"}
		f(e)
		return channels.Settings{Email: e}
	}
	hook := func(url, format string) channels.Settings {
		return channels.Settings{Webhook: &channels.WebhookSettings{URL: url, Format: format}}
	}
	sms := func(f func(*channels.SMSSettings)) channels.Settings {
		s := &channels.SMSSettings{URL: "https://sms.example.com/send", BodyTemplate: `{"to":"{{.Phone}}","text":"{{.Text}}"}`}
		f(s)
		return channels.Settings{SMS: s}
	}
	for _, tc := range []struct {
		name  string
		typ   channels.Type
		set   channels.Settings
		field string // "" for valid
	}{
		{"email ok", channels.Email, email(func(*channels.EmailSettings) {}), ""},
		{"email named from", channels.Email, email(func(e *channels.EmailSettings) { e.From = `"SOC" <soc@example.com>` }), ""},
		{"email no host", channels.Email, email(func(e *channels.EmailSettings) { e.Host = "" }), "email.host"},
		{"email bad host", channels.Email, email(func(e *channels.EmailSettings) { e.Host = "smtp example.com" }), "email.host"},
		{"email bad port", channels.Email, email(func(e *channels.EmailSettings) { e.Port = 70000 }), "email.port"},
		{"email bad tls", channels.Email, email(func(e *channels.EmailSettings) { e.TLS = "SSL" }), "email.tls"},
		{"email auth in clear", channels.Email, email(func(e *channels.EmailSettings) { e.TLS, e.Username = "NONE", "u" }), "email.tls"},
		{"email bad from", channels.Email, email(func(e *channels.EmailSettings) { e.From = "not an address" }), "email.from"},
		{"email header injection", channels.Email, email(func(e *channels.EmailSettings) { e.From = "a@b.c\r\nBcc: x@y.z" }), "email.from"},
		{"email missing", channels.Email, channels.Settings{}, "email"},
		{"email with webhook too", channels.Email, channels.Settings{Email: email(func(*channels.EmailSettings) {}).Email, Webhook: &channels.WebhookSettings{}}, "webhook"},
		{"webhook ok", channels.Webhook, hook("https://hooks.example.com/x", "CHAT"), ""},
		{"webhook ftp", channels.Webhook, hook("ftp://x.example.com/", ""), "webhook.url"},
		{"webhook userinfo", channels.Webhook, hook("https://u:p@x.example.com/", ""), "webhook.url"},
		{"webhook format", channels.Webhook, hook("https://x.example.com/", "XML"), "webhook.format"},
		{"messenger url", channels.Messenger, channels.Settings{Messenger: &channels.WebhookSettings{URL: "x"}}, "messenger.url"},
		{"sms ok", channels.SMS, sms(func(*channels.SMSSettings) {}), ""},
		{"sms get ok", channels.SMS, sms(func(s *channels.SMSSettings) { s.Method, s.BodyTemplate = "GET", "to={{.Phone}}" }), ""},
		{"sms method", channels.SMS, sms(func(s *channels.SMSSettings) { s.Method = "DELETE" }), "sms.method"},
		{"sms url", channels.SMS, sms(func(s *channels.SMSSettings) { s.URL = "" }), "sms.url"},
		{"sms header name", channels.SMS, sms(func(s *channels.SMSSettings) { s.AuthHeader = "X Key" }), "sms.authHeader"},
		{"sms reserved header", channels.SMS, sms(func(s *channels.SMSSettings) { s.AuthHeader = "content-type" }), "sms.authHeader"},
		{"sms content type", channels.SMS, sms(func(s *channels.SMSSettings) { s.ContentType = "json;;" }), "sms.contentType"},
		{"sms no template", channels.SMS, sms(func(s *channels.SMSSettings) { s.BodyTemplate = "" }), "sms.bodyTemplate"},
		{"sms template syntax", channels.SMS, sms(func(s *channels.SMSSettings) { s.BodyTemplate = "{{.Text" }), "sms.bodyTemplate"},
		{"sms template field", channels.SMS, sms(func(s *channels.SMSSettings) { s.BodyTemplate = `{"x":"{{.Secret}}"}` }), "sms.bodyTemplate"},
		{"sms template not JSON", channels.SMS, sms(func(s *channels.SMSSettings) { s.BodyTemplate = `{"text": {{.Text}}}` }), "sms.bodyTemplate"},
		{"sms template runaway", channels.SMS, sms(func(s *channels.SMSSettings) { s.BodyTemplate = `{{range 100000}}{{$.Text}}{{end}}` }), "sms.bodyTemplate"},
		{"unknown type", channels.Type("FAX"), channels.Settings{}, "type"},
	} {
		err := tc.set.Validate(tc.typ)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.BadUserInput || e.Field != tc.field {
			t.Errorf("%s: err = %#v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
}

// TestSettingsJSON: settings round-trip through the JSON column.
func TestSettingsJSON(t *testing.T) {
	in := channels.Settings{SMS: &channels.SMSSettings{URL: "https://sms.example.com", Method: "PUT", AuthHeader: "Authorization", ContentType: "application/json", BodyTemplate: `{"t":"{{.Text}}"}`}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"sms":{"url":`) || !strings.Contains(string(b), `"bodyTemplate"`) || strings.Contains(string(b), "email") {
		t.Errorf("JSON = %s", b)
	}
	var out channels.Settings
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %v %+v", err, out)
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+49 151 1234-5678": "+4915112345678", "(030) 123.456": "030123456", "0049151123": "0049151123",
		"+1234567890123456": "", "12345": "", "+49 151 x": "", "": "", "++4915112345": "",
	} {
		got, err := channels.NormalizePhone(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestValidMessenger(t *testing.T) {
	for in, ok := range map[string]bool{
		"alice": true, "@alice.s": true, "<@U123ABC>": true, "jürgen": true, strings.Repeat("a", 64): true,
		"": false, "al ice": false, "a\tb": false, "a\u200bb": false, strings.Repeat("a", 65): false,
	} {
		if err := channels.ValidMessenger(in); (err == nil) != ok {
			t.Errorf("ValidMessenger(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// TestBadMessage: an idempotency key that cannot be a Message-ID or a
// header, or an event with a line break, is refused before sending.
func TestBadMessage(t *testing.T) {
	s := &channels.Sender{}
	set := channels.Settings{Email: &channels.EmailSettings{Host: "127.0.0.1", Port: 1, From: "a@b.c"}}
	for _, m := range []channels.Message{
		{IdempotencyKey: ""}, {IdempotencyKey: "a b"}, {IdempotencyKey: "a\r\nBcc: x"}, {IdempotencyKey: "a..b"},
		{IdempotencyKey: strings.Repeat("k", 201)}, {IdempotencyKey: "ok", Event: "x\ny"},
	} {
		err := s.Send(t.Context(), channels.Email, set, "", alice, m)
		if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || !channels.Permanent(err) {
			t.Errorf("%+v: err = %v, want a permanent BAD_USER_INPUT", m, err)
		}
	}
}
