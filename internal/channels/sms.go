package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"

	"socdesk/internal/errs"
	"socdesk/internal/runes"
)

// Limits of SMS.
const (
	// MaxSMSRunes bounds .Text: three concatenated 160-character segments.
	MaxSMSRunes = 480
	// MaxSMSBodyBytes bounds a rendered body (a runaway template stops there).
	MaxSMSBodyBytes = 8 << 10
)

func httpCanonical(h string) string { return textproto.CanonicalMIMEHeaderKey(h) }

var phoneRE = regexp.MustCompile(`^\+?[0-9]{6,15}$`)

// NormalizePhone removes spaces, dashes, dots and parentheses and checks
// what is left is a phone number in international form: an optional "+"
// and 6 to 15 digits (E.164's length).
func NormalizePhone(s string) (string, error) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, s)
	if !phoneRE.MatchString(p) {
		return "", errors.New("must be a phone number in international form: + and 6 to 15 digits, like +49 151 1234567")
	}
	return p, nil
}

// smsText is the SMS: subject, a space and the link, at most MaxSMSRunes
// runes; the subject is cut (ending in "…") so the link stays whole.
func smsText(m Message) string {
	subject := m.Subject
	if subject == "" {
		subject = m.Text
	}
	subject = strings.TrimSpace(subject)
	if m.Link == "" {
		return runes.Cut(subject, MaxSMSRunes)
	}
	room := MaxSMSRunes - utf8.RuneCountInString(m.Link) - 1
	if room <= 0 {
		return runes.Cut(m.Link, MaxSMSRunes)
	}
	if subject == "" {
		return m.Link
	}
	return runes.Cut(subject, room) + " " + m.Link
}

// escaper escapes a template value for the body's content type.
func escaper(contentType string, get bool) (func(string) string, bool) {
	if get {
		return url.QueryEscape, false
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return func(s string) string {
			b, _ := json.Marshal(s)
			return string(b[1 : len(b)-1])
		}, true
	case mt == "application/x-www-form-urlencoded":
		return url.QueryEscape, false
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return func(s string) string {
			var b strings.Builder
			_ = xml.EscapeText(&b, []byte(s))
			return b.String()
		}, false
	}
	return func(s string) string { return s }, false
}

// render runs BodyTemplate; errors are errs.Invalid on sms.bodyTemplate.
func (s *SMSSettings) render(phone, text string) ([]byte, error) {
	tmpl, err := template.New("sms").Option("missingkey=error").Parse(s.BodyTemplate)
	if err != nil {
		return nil, errs.Invalid("sms.bodyTemplate", "does not parse: %s", templateMsg(err))
	}
	esc, isJSON := escaper(s.contentType(), s.method() == http.MethodGet)
	data := struct{ Phone, Text string }{esc(phone), esc(text)}
	var buf limitedBuffer
	if err := tmpl.Execute(&buf, data); err != nil {
		if errors.Is(err, errTooLong) {
			return nil, errs.Invalid("sms.bodyTemplate", "renders more than %d bytes", MaxSMSBodyBytes)
		}
		return nil, errs.Invalid("sms.bodyTemplate", "does not run: %s (only .Phone and .Text exist)", templateMsg(err))
	}
	if isJSON && !json.Valid(buf.Bytes()) {
		return nil, errs.Invalid("sms.bodyTemplate", `does not render valid JSON (values are escaped for you: write "{{.Text}}" in quotes)`)
	}
	return buf.Bytes(), nil
}

// templateMsg drops text/template's "template: sms:" prefix.
func templateMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

var errTooLong = errors.New("body too long")

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxSMSBodyBytes {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

func (s *Sender) sendSMS(ctx context.Context, set *SMSSettings, secret string, to Recipient, m Message) error {
	if to.Phone == "" {
		return noAddress("phone number")
	}
	phone, err := NormalizePhone(to.Phone)
	if err != nil {
		return permanent(errs.Invalid("recipient.phone", "%s", err))
	}
	if set.AuthHeader != "" && secret == "" {
		return errs.Invalid("sms.authHeader", "is set but the channel has no secret")
	}
	body, err := set.render(phone, smsText(m))
	if err != nil {
		return err
	}
	target, reqBody := set.URL, body
	if set.method() == http.MethodGet {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target, reqBody = target+sep+string(body), nil
	}
	req, err := http.NewRequest(set.method(), target, bytes.NewReader(reqBody))
	if err != nil {
		return errs.Invalid("sms.url", "is not a valid URL")
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", set.contentType())
	} else {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	if set.AuthHeader != "" {
		req.Header.Set(set.AuthHeader, secret)
	}
	return s.do(ctx, req, secret)
}
