package channels

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/wneessen/go-mail"

	"socdesk/internal/errs"
)

// HeaderIdempotencyKey carries the key in an email.
const HeaderIdempotencyKey = "X-Socdesk-Idempotency-Key"

func (s *Sender) sendEmail(ctx context.Context, set *EmailSettings, secret string, to Recipient, m Message) error {
	if to.Email == "" {
		return noAddress("email address")
	}
	timeout := s.SMTPTimeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	msg := mail.NewMsg()
	if err := msg.From(set.From); err != nil {
		return errs.Invalid("email.from", "is not a valid address")
	}
	if err := msg.AddToFormat(oneLine(to.Name), to.Email); err != nil {
		return permanent(errs.Invalid("recipient.email", "is not a valid address"))
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetMessageIDWithValue(m.IdempotencyKey + "@socdesk")
	msg.SetGenHeader(HeaderIdempotencyKey, m.IdempotencyKey)
	if m.Event != "" {
		msg.SetGenHeader(HeaderEvent, oneLine(m.Event))
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	msg.SetDateWithValue(s.now())
	msg.SetBodyString(mail.TypeTextPlain, plainText(m))
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tlsConfig = s.TLSConfig.Clone()
		tlsConfig.InsecureSkipVerify = false
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = set.Host
	}
	opts := []mail.Option{
		mail.WithPort(set.port()),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(tlsConfig),
	}
	switch set.tlsMode() {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if set.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(set.Username), mail.WithPassword(secret))
	}
	c, err := mail.NewClient(set.Host, opts...)
	if err != nil {
		return errs.Invalid("email.host", "%s", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if set.tlsMode() == TLSStartTLS && strings.Contains(err.Error(), "does not support STARTTLS") {
			return permanent(fmt.Errorf("email: %s:%d does not offer STARTTLS, which this channel requires", set.Host, set.port()))
		}
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return fmt.Errorf("email via %s:%d: %w", set.Host, set.port(), err)
	}
	return nil
}

// plainText is the text part: the text (the subject when empty) and the
// link, unless the text already holds it.
func plainText(m Message) string {
	text := m.Text
	if text == "" {
		text = m.Subject
	}
	if m.Link != "" && !strings.Contains(text, m.Link) {
		text += "\n\n" + m.Link
	}
	return text
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
