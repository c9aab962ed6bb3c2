package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLookup(t *testing.T) {
	ev := decode(t, `{"src": {"ip": "10.0.0.1"}, "alerts": [{"host": "h1"}, {"host": "h2"}], "n": 3}`)
	for path, want := range map[string]any{"src.ip": "10.0.0.1", "$.alerts[1].host": "h2", "n": json.Number("3"), "alerts[5].host": nil, "src.ip.x": nil, "none": nil} {
		got, _ := lookup(ev, path)
		if got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	for _, p := range []string{"a..b", "", "a[x]", "a b", "$"} {
		if checkPath("f", p) == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

// Two events are one attack exactly when the rule and the dedup values are
// the same, whatever else differs and however their members are ordered.
func TestFingerprint(t *testing.T) {
	r := &ent.DetectionRule{ID: 1, DedupFields: []string{"src.ip", "dst"}}
	a, _ := fingerprint(r, decode(t, `{"src": {"ip": "1.2.3.4", "port": 1}, "dst": {"b": 1, "a": 2}}`))
	b, _ := fingerprint(r, decode(t, `{"dst": {"a": 2, "b": 1}, "src": {"port": 9, "ip": "1.2.3.4"}}`))
	c, _ := fingerprint(r, decode(t, `{"src": {"ip": "1.2.3.5"}, "dst": {"a": 2, "b": 1}}`))
	d, _ := fingerprint(&ent.DetectionRule{ID: 2, DedupFields: r.DedupFields}, decode(t, `{"src": {"ip": "1.2.3.4"}, "dst": {"b": 1, "a": 2}}`))
	if a != b || a == c || a == d || len(a) != 64 {
		t.Errorf("a %s b %s c %s d %s", a, b, c, d)
	}
}

func TestTitle(t *testing.T) {
	rule := &ent.DetectionRule{Name: "Rule"}
	for text, want := range map[string]string{
		"Scan from {{.src.ip}}  to\n{{.dst}}": "Scan from 10.0.0.1 to",
		"{{.missing}}":                        "Rule",
		"{{.nested.missing.deeper}}":          "Rule",
		"{{range .many}}{{.}}{{end}}":         strings.Repeat("x", maxTemplateRunes),
	} {
		tpl, err := parseTitle(text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := title(tpl, rule, map[string]any{"src": map[string]any{"ip": "10.0.0.1"}, "many": make([]string, 5000)})
		if text == "{{range .many}}{{.}}{{end}}" {
			tpl, _ = parseTitle("{{range .many}}x{{end}}")
			got, err = title(tpl, rule, map[string]any{"many": make([]string, 5000)})
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", text, got, err, want)
		}
	}
	if _, err := parseTitle("{{.a"); err == nil {
		t.Error("a broken template parsed")
	}
}

func TestTimeAt(t *testing.T) {
	ev := decode(t, `{"iso": "2026-12-01T10:00:00+01:00", "s": 1764583200, "ms": 1764583200000, "bad": "yesterday"}`)
	want := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, p := range []string{"iso"} {
		if got, err := timeAt(ev, "f", p); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", p, got, err)
		}
	}
	s, _ := timeAt(ev, "f", "s")
	ms, _ := timeAt(ev, "f", "ms")
	if s == nil || ms == nil || !s.Equal(*ms) {
		t.Errorf("seconds %v, milliseconds %v", s, ms)
	}
	if _, err := timeAt(ev, "event.firstDetectedAt", "bad"); err == nil {
		t.Error("a bad time accepted")
	}
}
