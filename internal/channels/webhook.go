package channels

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"socdesk/graph/scalar"
	"socdesk/internal/errs"
)

// Signature headers and defaults.
const (
	HeaderTimestamp = "X-Socdesk-Timestamp"
	HeaderSignature = "X-Socdesk-Signature"
	HeaderEvent     = "X-Socdesk-Event"
	// DefaultTolerance is how far Verify accepts a timestamp from now.
	DefaultTolerance = 5 * time.Minute
	// maxWebhookBody bounds the JSON body (Data included).
	maxWebhookBody = 256 << 10
)

// Verify's errors.
var (
	ErrNoSignature    = errors.New("webhook: no signature or timestamp header")
	ErrBadSignature   = errors.New("webhook: signature does not match")
	ErrStaleTimestamp = errors.New("webhook: timestamp outside the tolerance")
)

// Sign returns the X-Socdesk-Signature value for body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received request's signature headers against body (as
// received) and secret, and that its timestamp is within tolerance of now
// (DefaultTolerance when tolerance is zero).
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	tsText, sigs := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	want := []byte(Sign(secret, ts, body))
	for _, sig := range strings.Split(sigs, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), want) {
			return nil
		}
	}
	return ErrBadSignature
}

// webhookBody is the JSON format's body.
type webhookBody struct {
	Event          string `json:"event"`
	IdempotencyKey string `json:"idempotencyKey"`
	To             string `json:"to,omitempty"`
	Subject        string `json:"subject"`
	Text           string `json:"text"`
	Link           string `json:"link,omitempty"`
	Recipient      who    `json:"recipient"`
	Data           any    `json:"data,omitempty"`
	SentAt         string `json:"sentAt"`
}

// who is the recipient as a webhook sees it: who, not how to reach them.
// The receiver is a third party (a SOAR, a messenger bridge): the email and
// phone stay with us, a messenger's handle goes in "to".
// userId is the user's API ID (what node(id:) takes), left out when the
// message goes to no user (a channel's test).
type who struct {
	UserID string `json:"userId,omitempty"`
	Name   string `json:"name,omitempty"`
	Login  string `json:"login,omitempty"`
}

// chatText is the CHAT format's text: subject, text and link on lines of
// their own (the link left out when the text carries it already), "@handle "
// first for a messenger.
func chatText(handle string, m Message) string {
	var lines []string
	for _, l := range []string{m.Subject, m.Text, m.Link} {
		if l != "" && (l != m.Link || !strings.Contains(m.Text, m.Link)) {
			lines = append(lines, l)
		}
	}
	text := strings.Join(lines, "\n")
	if handle != "" {
		text = "@" + strings.TrimPrefix(handle, "@") + " " + text
	}
	return text
}

func (s *Sender) sendWebhook(ctx context.Context, set *WebhookSettings, handle, secret string, to Recipient, m Message) error {
	now := s.now()
	var payload any
	if set.format() == FormatChat {
		payload = map[string]string{"text": chatText(handle, m)}
	} else {
		payload = webhookBody{
			Event: m.Event, IdempotencyKey: m.IdempotencyKey, To: handle,
			Subject: m.Subject, Text: m.Text, Link: m.Link,
			Recipient: who{UserID: apiID(to.UserID), Name: to.Name, Login: to.Login}, Data: m.Data, SentAt: now.UTC().Format(time.RFC3339),
		}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return permanent(errs.New(errs.Internal, "webhook: data does not encode as JSON: %v", err))
	}
	if len(body) > maxWebhookBody {
		return permanent(errs.New(errs.Internal, "webhook: body of %d bytes is over the %d-byte limit", len(body), maxWebhookBody))
	}
	req, err := http.NewRequest(http.MethodPost, set.URL, bytes.NewReader(body))
	if err != nil {
		return errs.Invalid(field(Webhook)+".url", "is not a valid URL")
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	req.Header.Set(HeaderEvent, m.Event)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if secret != "" {
		req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	}
	return s.do(ctx, req, secret)
}

// apiID is the API's ID of user id; "" for none.
func apiID(id int) string {
	if id == 0 {
		return ""
	}
	return scalar.EncodeID(id)
}
