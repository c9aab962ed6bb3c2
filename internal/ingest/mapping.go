package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
)

// Bounds of rules and events.
const (
	MaxEventBytes     = tickets.MaxEvidenceRecordBytes // one event, as JSON: it is kept as an evidence record
	MaxBatch          = 1000                           // events of one request
	MaxBodyBytes      = 8 << 20                        // one request to POST /ingest/{rule}
	MaxKeyLength      = 255                            // an idempotency key, in characters
	MaxDedupFields    = 10
	MaxPathLength     = 256
	MaxTemplateLength = 2000
	MinWindow         = time.Second
	MaxWindow         = 30 * 24 * time.Hour
	MinSecretLength   = 32
	MaxSecretLength   = 256
	KeyRetention      = 24 * time.Hour // idempotency keys are kept at least this long
	maxTemplateOutput = 4 * tickets.MaxTitleLength
	maxTemplateRunes  = tickets.MaxTitleLength
)

// pathSyntax is a JSON path into an event: members by name, separated by
// dots, each optionally indexed ([0]); an optional leading "$.".
var pathSyntax = regexp.MustCompile(`^(\$\.)?[A-Za-z0-9_@-]+(\[[0-9]+\])*(\.[A-Za-z0-9_@-]+(\[[0-9]+\])*)*$`)

// checkPath refuses a path lookup cannot read, naming field.
func checkPath(field, p string) error {
	if len(p) > MaxPathLength || !pathSyntax.MatchString(p) {
		return errs.Invalid(field, "%q is not a JSON path such as src.ip or $.alerts[0].host (at most %d characters)", p, MaxPathLength)
	}
	return nil
}

// lookup returns the value at path p in the event, if there is one.
func lookup(event any, p string) (any, bool) {
	p = strings.TrimPrefix(p, "$.")
	cur := event
	for _, seg := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[name]; !ok {
			return nil, false
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			rest = strings.TrimPrefix(after, "[")
			i, _ := strconv.Atoi(idx)
			arr, ok := cur.([]any)
			if !ok || i >= len(arr) {
				return nil, false
			}
			cur = arr[i]
		}
	}
	return cur, cur != nil
}

// canonical is the event as one JSON text: objects' members sorted (as
// encoding/json writes maps), numbers as they were written.
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var n any
	if err := d.Decode(&n); err != nil {
		return nil, err
	}
	return json.Marshal(n)
}

// hashOf is the hex SHA-256 of b.
func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fingerprint is the attack an event is, for rule: the SHA-256 over the
// rule's id and its dedup fields' values as canonical JSON (a missing one
// is null).
func fingerprint(rule *ent.DetectionRule, event map[string]any) (string, error) {
	vals := make([]any, len(rule.DedupFields))
	for i, p := range rule.DedupFields {
		vals[i], _ = lookup(event, p)
	}
	b, err := canonical(map[string]any{"rule": rule.ID, "values": vals})
	if err != nil {
		return "", err
	}
	return hashOf(b), nil
}

// parseTitle parses a rule's title template (Go's text/template over the
// event: {{.src.ip}}, {{index .alerts 0}}).
func parseTitle(text string) (*template.Template, error) {
	return template.New("title").Option("missingkey=zero").Parse(text)
}

// errTooLong stops a template whose output outgrows a title.
var errTooLong = errors.New("output too long")

type boundedWriter struct {
	buf bytes.Buffer
	max int
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		w.buf.Write(p[:w.max-w.buf.Len()])
		return 0, errTooLong
	}
	return w.buf.Write(p)
}

// title runs the rule's template over the event: spaces collapsed, a
// missing member empty, cut to a title's length; empty, or failing on the
// event, it is the rule's name.
func title(tpl *template.Template, rule *ent.DetectionRule, event map[string]any) (string, error) {
	w := &boundedWriter{max: maxTemplateOutput}
	if err := tpl.Execute(w, event); err != nil && !errors.Is(err, errTooLong) {
		// A member the template reads through is missing ({{.src.ip}}
		// without src): the event is not lost for its title.
		return rule.Name, nil
	}
	out := strings.Join(strings.Fields(strings.ReplaceAll(w.buf.String(), "<no value>", "")), " ")
	if !utf8.ValidString(out) {
		out = strings.ToValidUTF8(out, "")
	}
	if r := []rune(out); len(r) > maxTemplateRunes {
		out = strings.TrimSpace(string(r[:maxTemplateRunes]))
	}
	if out == "" {
		out = rule.Name
	}
	return out, nil
}

// detection reads the rule's detection fields out of the event; a field
// whose path finds nothing stays unset, and the detection times default to
// now.
func detection(rule *ent.DetectionRule, event map[string]any, now time.Time) (*tickets.Detection, error) {
	p := rule.Paths
	d := &tickets.Detection{Template: ticket.DetectionTemplate(rule.Template)}
	var err error
	if d.FirstDetectedAt, err = timeAt(event, "event.firstDetectedAt", p.FirstDetectedAt); err != nil {
		return nil, err
	}
	if d.LastDetectedAt, err = timeAt(event, "event.lastDetectedAt", p.LastDetectedAt); err != nil {
		return nil, err
	}
	switch {
	case d.FirstDetectedAt == nil && d.LastDetectedAt == nil:
		d.FirstDetectedAt, d.LastDetectedAt = &now, &now
	case d.FirstDetectedAt == nil:
		d.FirstDetectedAt = d.LastDetectedAt
	case d.LastDetectedAt == nil:
		d.LastDetectedAt = d.FirstDetectedAt
	}
	for _, f := range []struct {
		dst   **string
		field string
		path  string
	}{
		{&d.SourceIP, "event.sourceIP", p.SourceIP}, {&d.DestinationIP, "event.destinationIP", p.DestinationIP},
		{&d.Protocol, "event.protocol", p.Protocol}, {&d.Host, "event.host", p.Host},
	} {
		if *f.dst, err = stringAt(event, f.field, f.path); err != nil {
			return nil, err
		}
	}
	if d.SourcePort, err = intAt(event, "event.sourcePort", p.SourcePort); err != nil {
		return nil, err
	}
	if d.DestinationPort, err = intAt(event, "event.destinationPort", p.DestinationPort); err != nil {
		return nil, err
	}
	for _, c := range p.CustomFields {
		v, err := stringAt(event, "event.customFields", c.Path)
		if err != nil {
			return nil, err
		}
		if v != nil {
			d.CustomFields = append(d.CustomFields, schematype.CustomField{Key: c.Key, Value: *v})
		}
	}
	return d, nil
}

func stringAt(event map[string]any, field, p string) (*string, error) {
	if p == "" {
		return nil, nil
	}
	v, ok := lookup(event, p)
	if !ok {
		return nil, nil
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number, float64, int, int64, bool:
		s = fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if s = strings.TrimSpace(s); s == "" {
		return nil, nil
	}
	return &s, nil
}

func intAt(event map[string]any, field, p string) (*int, error) {
	s, err := stringAt(event, field, p)
	if s == nil || err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(*s)
	if err != nil {
		return nil, errs.Invalid(field, "%s is %q, not a whole number", p, *s)
	}
	return &n, nil
}

// timeAt reads an RFC 3339 time, or Unix seconds (milliseconds past 1e12).
func timeAt(event map[string]any, field, p string) (*time.Time, error) {
	s, err := stringAt(event, field, p)
	if s == nil || err != nil {
		return nil, err
	}
	if t, err := time.Parse(time.RFC3339Nano, *s); err == nil {
		t = t.UTC()
		return &t, nil
	}
	f, err := strconv.ParseFloat(*s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e15 {
		return nil, errs.Invalid(field, "%s is %q, not an RFC 3339 time nor Unix seconds", p, *s)
	}
	if f > 1e12 {
		f /= 1000
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return &t, nil
}

// detectionKey is a rule's key: the ingestion URL's slug.
var detectionKey = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
