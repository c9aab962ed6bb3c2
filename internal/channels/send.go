package channels

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wneessen/go-mail"

	"socdesk/internal/errs"
	"socdesk/internal/outbound"
)

// Limits of sending.
const (
	DefaultSMTPTimeout = 30 * time.Second
	// maxExcerpt bounds the response body quoted in an error.
	maxExcerpt = 200
	// MaxKeyLength bounds an idempotency key.
	MaxKeyLength = 200
	// maxEventLength bounds an event name.
	maxEventLength = 100
)

// Message is what to deliver.
type Message struct {
	// IdempotencyKey is stable per delivery (the same on every retry):
	// the HTTP Idempotency-Key header; the email's Message-ID
	// <key@socdesk> and X-Socdesk-Idempotency-Key header. 1 to 200 of
	// letters, digits and !#$%&'*+-/=?^_`{|}~. (a Message-ID's characters).
	IdempotencyKey string
	Event          string // e.g. "ticket.created", "ticket.propagated", "test"
	Subject        string
	Text           string
	HTML           string // email only; optional
	Link           string
	Data           any // the JSON format's "data" (the event's payload)
}

// Sender sends messages. The zero value is not usable: HTTP is required
// for WEBHOOK, MESSENGER and SMS.
type Sender struct {
	HTTP        *outbound.Guard
	SMTPTimeout time.Duration    // whole SMTP session; DefaultSMTPTimeout when zero
	Now         func() time.Time // time.Now when nil
	// TLSConfig, when set, is the base of the SMTP client's TLS config
	// (tests set RootCAs to trust a receiver's self-signed certificate).
	// Certificates are always verified.
	TLSConfig *tls.Config
}

var keyRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")

// Send delivers m to one recipient over a channel of type t. Use
// Permanent on its error to decide whether to retry. The error's text
// never contains secret nor its token (see outbound.Redact).
func (s *Sender) Send(ctx context.Context, t Type, set Settings, secret string, to Recipient, m Message) error {
	if err := s.send(ctx, t, set, secret, to, m); err != nil {
		return redact(err, secret)
	}
	return nil
}

func (s *Sender) send(ctx context.Context, t Type, set Settings, secret string, to Recipient, m Message) error {
	if err := set.Validate(t); err != nil {
		return err
	}
	if len(m.IdempotencyKey) > MaxKeyLength || !keyRE.MatchString(m.IdempotencyKey) {
		return errs.Invalid("idempotencyKey", "must be 1 to %d letters, digits or !#$%%&'*+-/=?^_`{|}~ (dot-separated)", MaxKeyLength)
	}
	if len(m.Event) > maxEventLength || strings.ContainsFunc(m.Event, isControl) {
		return errs.Invalid("event", "must be at most %d printable characters", maxEventLength)
	}
	if t != Email && s.HTTP == nil {
		return errors.New("channels: Sender.HTTP is not set")
	}
	switch t {
	case Email:
		return s.sendEmail(ctx, set.Email, secret, to, m)
	case Webhook:
		return s.sendWebhook(ctx, set.Webhook, "", secret, to, m)
	case Messenger:
		if to.Messenger == "" {
			return noAddress("messenger handle")
		}
		if err := ValidMessenger(to.Messenger); err != nil {
			return permanent(errs.Invalid("recipient.messenger", "%s", err))
		}
		return s.sendWebhook(ctx, set.Messenger, to.Messenger, secret, to, m)
	default:
		return s.sendSMS(ctx, set.SMS, secret, to, m)
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// do sends an HTTP request through the guard: 2xx is success.
func (s *Sender) do(ctx context.Context, req *http.Request, secret string) error {
	resp, err := s.HTTP.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.Status >= 200 && resp.Status < 300 {
		return nil
	}
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		// An answer about our credentials: the likeliest to quote them,
		// and its status says enough.
		return &HTTPError{Status: resp.Status}
	}
	// Redacted before the cut, which could leave the start of the secret.
	body := string(resp.Body)
	if resp.Truncated {
		body = outbound.RedactStart(body, secret)
	} else {
		body = outbound.Redact(body, secret)
	}
	return &HTTPError{Status: resp.Status, Excerpt: excerpt(body)}
}

// HTTPError is a non-2xx answer. Redirects are not followed (see
// outbound), so a 3xx is one too.
type HTTPError struct {
	Status int
	// Excerpt is the start of the body, at most 200 bytes, printable,
	// the secret hidden; none for a 401 or 403.
	Excerpt string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Excerpt != "" {
		msg += ": " + e.Excerpt
	}
	return msg
}

// excerpt is the start of a body, cut on a rune, control characters
// turned to spaces.
func excerpt(b string) string {
	if len(b) > maxExcerpt {
		b = b[:maxExcerpt]
		for len(b) > 0 && !utf8.ValidString(b) {
			b = b[:len(b)-1]
		}
	}
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, b)
	return strings.TrimSpace(s)
}

// ErrNoAddress: the recipient has no address for the channel (no email,
// phone or messenger handle). Permanent.
var ErrNoAddress = errors.New("recipient has no address for this channel")

func noAddress(what string) error { return fmt.Errorf("%w: no %s", ErrNoAddress, what) }

// permanentError marks an error retrying cannot help.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return &permanentError{err} }

// PermanentError marks err as one retrying cannot help (Permanent reports
// true), for callers' own refusals: a disabled channel, a deleted recipient.
func PermanentError(err error) error { return permanent(err) }

// Permanent reports whether retrying cannot help: an HTTP 4xx other than
// 408, 425 and 429, or a 3xx (not followed); an SMTP 5xx reply; a
// recipient without an address; invalid settings or message; a refused
// destination; an SMTP server without the STARTTLS it must offer.
// Timeouts, cancellations, HTTP 5xx, SMTP 4xx and connection errors are
// not permanent.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *permanentError
	if errors.As(err, &pe) || errors.Is(err, ErrNoAddress) || errors.Is(err, outbound.ErrRefused) {
		return true
	}
	if e, ok := errs.As(err); ok && e.Code == errs.BadUserInput {
		return true
	}
	var he *HTTPError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
			return false
		}
		return he.Status >= 300 && he.Status < 500
	}
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return true
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return true
	}
	return false
}

// redacted hides the secret (outbound.Redact: its parts too) in an
// error's text; errors.Is and As still see the cause.
type redacted struct {
	err error
	msg string
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

func redact(err error, secret string) error {
	if msg := outbound.Redact(err.Error(), secret); msg != err.Error() {
		return &redacted{err, msg}
	}
	return err
}
