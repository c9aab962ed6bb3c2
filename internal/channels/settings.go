package channels

import (
	"mime"
	"net"
	"net/mail"
	"regexp"
	"strings"

	"socdesk/ent/schematype"
	"socdesk/internal/errs"
	"socdesk/internal/outbound"
)

// Type is a channel type (ent's and GraphQL's enum).
type Type = schematype.ChannelType

// The channel types.
const (
	Email     = schematype.ChannelEmail
	Webhook   = schematype.ChannelWebhook
	SMS       = schematype.ChannelSMS
	Messenger = schematype.ChannelMessenger
)

// Types lists every channel type.
var Types = schematype.ChannelTypes

// Email TLS modes.
const (
	TLSStartTLS = "STARTTLS"
	TLSImplicit = "IMPLICIT"
	TLSNone     = "NONE"
)

// Webhook body formats.
const (
	FormatJSON = "JSON"
	FormatChat = "CHAT"
)

// Limits of settings.
const (
	maxHostLength     = 253
	maxUsernameLength = 256
	maxFromLength     = 320
	MaxTemplateBytes  = 4096
	maxHeaderName     = 64
)

// Settings is a channel's configuration: exactly the member matching its
// Type is set. It is stored as JSON.
type Settings struct {
	Email     *EmailSettings   `json:"email,omitempty"`
	Webhook   *WebhookSettings `json:"webhook,omitempty"`
	SMS       *SMSSettings     `json:"sms,omitempty"`
	Messenger *WebhookSettings `json:"messenger,omitempty"`
}

// Validate checks that s holds settings for t, and only those, and that
// they are valid. Errors are errs.Invalid naming the field ("email.host").
func (s Settings) Validate(t Type) error {
	set := map[Type]bool{Email: s.Email != nil, Webhook: s.Webhook != nil, SMS: s.SMS != nil, Messenger: s.Messenger != nil}
	if _, ok := set[t]; !ok {
		return errs.Invalid("type", "unknown channel type %q (EMAIL, WEBHOOK, SMS or MESSENGER)", t)
	}
	for _, other := range Types {
		if other != t && set[other] {
			return errs.Invalid(field(other), "must not be set for a %s channel", t)
		}
	}
	if !set[t] {
		return errs.Invalid(field(t), "is required for a %s channel", t)
	}
	switch t {
	case Email:
		return s.Email.Validate()
	case Webhook:
		return s.Webhook.validate(field(Webhook))
	case Messenger:
		return s.Messenger.validate(field(Messenger))
	default:
		return s.SMS.Validate()
	}
}

// field is the settings member's JSON name.
func field(t Type) string { return strings.ToLower(string(t)) }

// EmailSettings configure an SMTP server. The secret is the password.
type EmailSettings struct {
	Host string `json:"host"`
	// Port: 0 means the mode's default (587 STARTTLS, 465 IMPLICIT, 25 NONE).
	Port int `json:"port,omitempty"`
	// TLS: STARTTLS (the default; required, never downgraded), IMPLICIT or NONE.
	TLS      string `json:"tls,omitempty"`
	Username string `json:"username,omitempty"`
	// From is the sender address, optionally with a name: "SOC <soc@example.com>".
	From string `json:"from"`
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`)

// Validate checks the settings.
func (e *EmailSettings) Validate() error {
	switch {
	case e.Host == "":
		return errs.Invalid("email.host", "is required")
	case len(e.Host) > maxHostLength || (net.ParseIP(e.Host) == nil && !hostRE.MatchString(e.Host)):
		return errs.Invalid("email.host", "must be a host name or IP address")
	case e.Port < 0 || e.Port > 65535:
		return errs.Invalid("email.port", "must be between 1 and 65535 (0 for the default)")
	}
	switch e.tlsMode() {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if e.Username != "" {
			return errs.Invalid("email.tls", "NONE cannot be used with a username: the password would cross in clear")
		}
	default:
		return errs.Invalid("email.tls", "must be STARTTLS, IMPLICIT or NONE")
	}
	if len(e.Username) > maxUsernameLength || strings.ContainsFunc(e.Username, isControl) {
		return errs.Invalid("email.username", "must be at most %d printable characters", maxUsernameLength)
	}
	if e.From == "" {
		return errs.Invalid("email.from", "is required")
	}
	if len(e.From) > maxFromLength || strings.ContainsFunc(e.From, isControl) {
		return errs.Invalid("email.from", "is not a valid address")
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return errs.Invalid("email.from", "is not a valid address (like soc@example.com or \"SOC <soc@example.com>\")")
	}
	return nil
}

func (e *EmailSettings) tlsMode() string {
	if e.TLS == "" {
		return TLSStartTLS
	}
	return e.TLS
}

func (e *EmailSettings) port() int {
	if e.Port != 0 {
		return e.Port
	}
	switch e.tlsMode() {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	}
	return 587
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// WebhookSettings configure a webhook (or a messenger bridge's webhook).
// The secret, when set, signs each request.
type WebhookSettings struct {
	URL string `json:"url"`
	// Format: JSON (the default) or CHAT ({"text": …} for Slack, Teams, Mattermost).
	Format string `json:"format,omitempty"`
}

// Validate checks the settings of a WEBHOOK channel.
func (w *WebhookSettings) Validate() error { return w.validate("webhook") }

func (w *WebhookSettings) validate(prefix string) error {
	if err := outbound.CheckURL(w.URL); err != nil {
		return errs.Invalid(prefix+".url", "%s", err)
	}
	if f := w.format(); f != FormatJSON && f != FormatChat {
		return errs.Invalid(prefix+".format", "must be JSON or CHAT")
	}
	return nil
}

func (w *WebhookSettings) format() string {
	if w.Format == "" {
		return FormatJSON
	}
	return w.Format
}

// SMSSettings configure an SMS gateway reached over HTTP. The secret is
// the value of the AuthHeader header.
type SMSSettings struct {
	URL string `json:"url"`
	// Method: POST (the default), PUT or GET.
	Method string `json:"method,omitempty"`
	// AuthHeader names the header carrying the secret, e.g. "Authorization".
	AuthHeader string `json:"authHeader,omitempty"`
	// ContentType of the body; application/json when empty.
	ContentType string `json:"contentType,omitempty"`
	// BodyTemplate is a text/template over .Phone and .Text, values
	// escaped for ContentType (see the package doc).
	BodyTemplate string `json:"bodyTemplate"`
}

var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// reservedHeaders cannot carry the secret: the transport or socdesk sets them.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Te": true, "Trailer": true, "Upgrade": true, "Idempotency-Key": true,
	"X-Socdesk-Timestamp": true, "X-Socdesk-Signature": true, "X-Socdesk-Event": true,
}

// Validate checks the settings; the template is run once on sample values.
func (s *SMSSettings) Validate() error {
	if err := outbound.CheckURL(s.URL); err != nil {
		return errs.Invalid("sms.url", "%s", err)
	}
	switch s.method() {
	case "POST", "PUT", "GET":
	default:
		return errs.Invalid("sms.method", "must be POST, PUT or GET")
	}
	if h := s.AuthHeader; h != "" {
		if len(h) > maxHeaderName || !tokenRE.MatchString(h) {
			return errs.Invalid("sms.authHeader", "must be an HTTP header name, like Authorization")
		}
		if reservedHeaders[httpCanonical(h)] {
			return errs.Invalid("sms.authHeader", "%s is set by socdesk and cannot carry the secret", httpCanonical(h))
		}
	}
	if s.ContentType != "" {
		if len(s.ContentType) > 128 {
			return errs.Invalid("sms.contentType", "is too long")
		}
		if _, _, err := mime.ParseMediaType(s.ContentType); err != nil {
			return errs.Invalid("sms.contentType", "is not a media type (like application/json)")
		}
	}
	if s.BodyTemplate == "" {
		return errs.Invalid("sms.bodyTemplate", "is required")
	}
	if len(s.BodyTemplate) > MaxTemplateBytes {
		return errs.Invalid("sms.bodyTemplate", "is longer than %d bytes", MaxTemplateBytes)
	}
	_, err := s.render("+4915112345678", "Sample \"subject\" <&>\nhttps://example.com/t/1?a=b")
	return err
}

func (s *SMSSettings) method() string {
	if s.Method == "" {
		return "POST"
	}
	return s.Method
}

func (s *SMSSettings) contentType() string {
	if s.ContentType == "" {
		return "application/json"
	}
	return s.ContentType
}
