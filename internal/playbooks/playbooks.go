// Package playbooks runs admin-defined HTTP automations on tickets (Sonar's
// "Run Playbook"): a playbook is an endpoint, a method, headers (some of them
// write-only secrets), a payload template over the ticket's fields and a
// timeout. Each run on a ticket is a durable job with its record — queued,
// running, succeeded or failed, the HTTP status, the duration, the start of
// the answer — appended to the ticket's history as it progresses.
package playbooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/playbook"
	"socdesk/ent/playbookrun"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/outbound"
	"socdesk/internal/tickets"
)

// Bounds of a playbook and of what a run keeps.
const (
	MaxHeaders         = 20
	MaxHeaderValue     = 4096
	MaxTemplateBytes   = 16 << 10
	MaxPayloadBytes    = 256 << 10
	MinTimeout         = 100 * time.Millisecond
	MaxTimeout         = 60 * time.Second
	MaxResponseKept    = 4 << 10
	MaxAttempts        = 3
	maxErrorRunes      = 1000
	defaultContentType = "application/json"
)

// Methods are the HTTP methods a playbook may use.
var Methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete}

// Service manages playbooks and runs them.
type Service struct {
	Client  *ent.Client
	Tickets *tickets.Service
	Jobs    *jobs.Engine
	HTTP    *outbound.Guard
	// PublicURL is socdesk's public base URL, for the ticket's link.
	PublicURL string
}

// Input creates or changes a playbook; nil fields stay on update.
type Input struct {
	Name, Description *string
	Enabled           *bool
	URL, Method       *string
	// Headers and SecretHeaders replace the playbook's when not nil.
	Headers, SecretHeaders []Header
	PayloadTemplate        *string
	TimeoutMs              *int
}

// Header is a request header of a playbook.
type Header struct{ Name, Value string }

// Headers are a playbook's headers as a list, by name.
func Headers(m map[string]string) []Header {
	out := make([]Header, 0, len(m))
	for k, v := range m {
		out = append(out, Header{k, v})
	}
	slices.SortFunc(out, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func headerMap(field string, hs []Header) (map[string]string, error) {
	if hs == nil {
		return nil, nil
	}
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		k := textproto.CanonicalMIMEHeaderKey(h.Name)
		if _, dup := m[k]; dup {
			return nil, errs.Invalid(field, "%s is given twice", h.Name)
		}
		m[k] = h.Value
	}
	return m, nil
}

func validate(in Input) error {
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return errs.Invalid("name", "must not be empty")
	}
	if in.URL != nil {
		if err := outbound.CheckURL(*in.URL); err != nil {
			return errs.Invalid("url", "%v", err)
		}
	}
	if in.Method != nil && !slices.Contains(Methods, *in.Method) {
		return errs.Invalid("method", "must be one of %s", strings.Join(Methods, ", "))
	}
	for field, list := range map[string][]Header{"headers": in.Headers, "secretHeaders": in.SecretHeaders} {
		hs, err := headerMap(field, list)
		if err != nil {
			return err
		}
		if len(hs) > MaxHeaders {
			return errs.Invalid(field, "at most %d headers, not %d", MaxHeaders, len(hs))
		}
		for name, value := range hs {
			if !validHeaderName(name) {
				return errs.Invalid(field, "%q is not a header name", name)
			}
			if len(value) > MaxHeaderValue || strings.ContainsAny(value, "\r\n\x00") {
				return errs.Invalid(field, "the value of %s must be one line of at most %d bytes", name, MaxHeaderValue)
			}
		}
	}
	if in.PayloadTemplate != nil {
		if len(*in.PayloadTemplate) > MaxTemplateBytes {
			return errs.Invalid("payloadTemplate", "must be at most %d bytes", MaxTemplateBytes)
		}
		if _, err := parse(*in.PayloadTemplate); err != nil {
			return errs.Invalid("payloadTemplate", "%v", err)
		}
	}
	if in.TimeoutMs != nil {
		if d := time.Duration(*in.TimeoutMs) * time.Millisecond; d < MinTimeout || d > MaxTimeout {
			return errs.Invalid("timeoutMs", "must be between %d and %d", MinTimeout.Milliseconds(), MaxTimeout.Milliseconds())
		}
	}
	return nil
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for _, r := range name {
		if r > 126 || r <= 32 || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection":
		return false // the client sets these
	}
	return true
}

// Create adds a playbook (admins, by the playbooks' policy).
func (s *Service) Create(ctx context.Context, in Input) (*ent.Playbook, error) {
	if in.Name == nil || in.URL == nil {
		return nil, errs.Invalid("input", "name and url are required")
	}
	if err := validate(in); err != nil {
		return nil, err
	}
	c := s.Client.Playbook.Create().SetName(strings.TrimSpace(*in.Name)).SetURL(*in.URL).
		SetNillableDescription(in.Description).SetNillableEnabled(in.Enabled).SetNillableMethod(in.Method).
		SetNillablePayloadTemplate(in.PayloadTemplate).SetNillableTimeoutMs(in.TimeoutMs)
	if in.Headers != nil {
		h, _ := headerMap("headers", in.Headers) // validated
		c.SetHeaders(h)
	}
	if in.SecretHeaders != nil {
		h, _ := headerMap("secretHeaders", in.SecretHeaders)
		c.SetSecretHeaders(h)
	}
	return c.Save(ctx)
}

// Update changes a playbook.
func (s *Service) Update(ctx context.Context, id int, in Input) (*ent.Playbook, error) {
	if err := validate(in); err != nil {
		return nil, err
	}
	u := s.Client.Playbook.UpdateOneID(id).SetNillableDescription(in.Description).SetNillableEnabled(in.Enabled).
		SetNillableMethod(in.Method).SetNillablePayloadTemplate(in.PayloadTemplate).SetNillableTimeoutMs(in.TimeoutMs).
		SetNillableURL(in.URL)
	if in.Name != nil {
		u.SetName(strings.TrimSpace(*in.Name))
	}
	if in.Headers != nil {
		h, _ := headerMap("headers", in.Headers) // validated
		u.SetHeaders(h)
	}
	if in.SecretHeaders != nil {
		h, _ := headerMap("secretHeaders", in.SecretHeaders)
		u.SetSecretHeaders(h)
	}
	return u.Save(ctx)
}

// Fields are what a payload template sees of the ticket.
type Fields struct {
	ID            int        `json:"id"`
	Number        int        `json:"number"`
	Title         string     `json:"title"`
	Body          string     `json:"body"`
	Kind          string     `json:"kind"`
	Status        string     `json:"status"`
	Priority      string     `json:"priority"`
	Site          string     `json:"site"`
	Category      string     `json:"category"`
	AttackVerdict string     `json:"attackVerdict,omitempty"`
	Incident      bool       `json:"incident"`
	SourceIP      string     `json:"sourceIP,omitempty"`
	DestinationIP string     `json:"destinationIP,omitempty"`
	Host          string     `json:"host,omitempty"`
	Assignees     []string   `json:"assignees"`
	Tags          []string   `json:"tags"`
	Link          string     `json:"link"`
	CreatedAt     time.Time  `json:"createdAt"`
	DueAt         *time.Time `json:"dueAt,omitempty"`
	RunID         int        `json:"runId"`
	Playbook      string     `json:"playbook"`
}

// parse parses a payload template; its function json writes a value as
// JSON (a quoted, escaped string for a string).
func parse(src string) (*template.Template, error) {
	return template.New("payload").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(src)
}

// Render is the payload of a run: the template over f, or f as JSON when
// the playbook has no template.
func Render(src string, f Fields) ([]byte, error) {
	if strings.TrimSpace(src) == "" {
		return json.Marshal(f)
	}
	t, err := parse(src)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&limitedWriter{w: &b, n: MaxPayloadBytes}, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// limitedWriter fails a template that writes more than n bytes.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("the payload exceeds %d bytes", l.n)
	}
	return l.w.Write(p)
}

// kept is the start of an answer that a run keeps: at most MaxResponseKept
// bytes of valid UTF-8 without NUL (PostgreSQL's text refuses it), cut at a
// character's boundary; invalid bytes and NULs become U+FFFD.
func kept(body []byte) string {
	var b strings.Builder
	for len(body) > 0 {
		r, n := utf8.DecodeRune(body)
		if r == 0 {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > MaxResponseKept {
			break
		}
		b.WriteRune(r)
		body = body[n:]
	}
	return b.String()
}

// Administers reports whether the viewer may change playbook id, and so see
// its request (the playbooks' policy: admins).
func (s *Service) Administers(ctx context.Context, id int) bool {
	return playbook.Policy.EvalMutation(ctx, s.Client.Playbook.UpdateOneID(id).Mutation()) == nil
}

// Runs narrows q (read under the runs' policy) to a status and a playbook,
// each when given.
func Runs(q *ent.PlaybookRunQuery, status *playbookrun.Status, playbookID *int) *ent.PlaybookRunQuery {
	if status != nil {
		q.Where(playbookrun.StatusEQ(*status))
	}
	if playbookID != nil {
		q.Where(playbookrun.PlaybookID(*playbookID))
	}
	return q
}
