package playbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/internal/errs"
	"socdesk/internal/outbound"
)

func ptr[T any](v T) *T { return &v }

func TestRender(t *testing.T) {
	f := Fields{ID: 7, Number: 42, Title: "Beacon \"evil\" <c2>\n\\ end", Site: "HQ", Status: "NEW",
		Assignees: []string{"alice"}, Tags: []string{}, CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), RunID: 9, Playbook: "p"}

	t.Run("json escapes the title", func(t *testing.T) {
		b, err := Render(`{"n": {{.Number}}, "title": {{json .Title}}, "who": {{json .Assignees}}}`, f)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			N     int
			Title string
			Who   []string
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got.N != 42 || got.Title != f.Title || len(got.Who) != 1 || got.Who[0] != "alice" {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("no template: the fields as JSON", func(t *testing.T) {
		b, err := Render("  \n", f)
		if err != nil {
			t.Fatal(err)
		}
		var got Fields
		if err := json.Unmarshal(b, &got); err != nil || got.Number != 42 || got.Title != f.Title || got.RunID != 9 {
			t.Fatalf("%s: %v", b, err)
		}
	})
	t.Run("an unknown field fails", func(t *testing.T) {
		if _, err := Render(`{{.Nope}}`, f); err == nil {
			t.Fatal("rendered a template naming a field the ticket has not")
		}
	})
	t.Run("a payload over the limit fails", func(t *testing.T) {
		big := Fields{Title: strings.Repeat("x", 64<<10)}
		_, err := Render(`{{.Title}}{{.Title}}{{.Title}}{{.Title}}{{.Title}}`, big)
		if err == nil || !strings.Contains(err.Error(), "exceeds") {
			t.Fatalf("a %d-byte payload: %v", 5*64<<10, err)
		}
		if _, err := Render(`{{.Title}}{{.Title}}`, big); err != nil {
			t.Fatalf("a payload under the limit: %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	cases := []struct {
		in    Input
		field string // "" when valid
	}{
		{Input{URL: ptr("https://soar.example.com/run?x=1")}, ""},
		{Input{URL: ptr("https://u:p@soar.example.com/")}, "url"},
		{Input{URL: ptr("file:///etc/passwd")}, "url"},
		{Input{URL: ptr("https://soar.example.com/#frag")}, "url"},
		{Input{Name: ptr("  ")}, "name"},
		{Input{Method: ptr("POST")}, ""},
		{Input{Method: ptr("post")}, "method"},
		{Input{Method: ptr("CONNECT")}, "method"},
		{Input{Headers: []Header{{"X-Team", "soc"}}}, ""},
		{Input{Headers: []Header{{"X-A", "a\r\nX-B: b"}}}, "headers"},
		{Input{Headers: []Header{{"X-A", "a\x00"}}}, "headers"},
		{Input{Headers: []Header{{"X A", "a"}}}, "headers"},
		{Input{Headers: []Header{{"", "a"}}}, "headers"},
		{Input{Headers: []Header{{"Content-Length", "1"}}}, "headers"},
		{Input{Headers: []Header{{"x-a", "1"}, {"X-A", "2"}}}, "headers"},
		{Input{Headers: []Header{{"X-A", strings.Repeat("v", MaxHeaderValue+1)}}}, "headers"},
		{Input{SecretHeaders: []Header{{"Authorization", "Bearer t"}}}, ""},
		{Input{SecretHeaders: []Header{{"Authorization", "Bearer\nt"}}}, "secretHeaders"},
		{Input{PayloadTemplate: ptr(`{"t": {{json .Title}}}`)}, ""},
		{Input{PayloadTemplate: ptr(`{"t": {{json .Title}`)}, "payloadTemplate"},
		{Input{PayloadTemplate: ptr(`{{nosuchfunc .Title}}`)}, "payloadTemplate"},
		{Input{PayloadTemplate: ptr(strings.Repeat("x", MaxTemplateBytes+1))}, "payloadTemplate"},
		{Input{TimeoutMs: ptr(int(MinTimeout.Milliseconds()))}, ""},
		{Input{TimeoutMs: ptr(int(MaxTimeout.Milliseconds()))}, ""},
		{Input{TimeoutMs: ptr(99)}, "timeoutMs"},
		{Input{TimeoutMs: ptr(60001)}, "timeoutMs"},
	}
	hs := make([]Header, MaxHeaders+1)
	for i := range hs {
		hs[i] = Header{"X-H" + strings.Repeat("a", i+1), "v"}
	}
	cases = append(cases, struct {
		in    Input
		field string
	}{Input{Headers: hs}, "headers"})
	for _, c := range cases {
		err := validate(c.in)
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v, want valid", c.in, err)
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.BadUserInput || e.Field != c.field {
			t.Errorf("%+v: %v, want BAD_USER_INPUT on %s", c.in, err, c.field)
		}
	}
}

func TestKept(t *testing.T) {
	for name, body := range map[string]string{
		"short":               "ok",
		"ascii over 4 KiB":    strings.Repeat("a", 10<<10),
		"cut inside é":        "x" + strings.Repeat("é", 5<<10),
		"invalid bytes":       strings.Repeat("\xff", 5<<10),
		"NUL":                 "a\x00b",
		"4-byte runes":        "ab" + strings.Repeat("😀", 2<<10),
		"exactly 4 KiB ascii": strings.Repeat("a", MaxResponseKept),
	} {
		k := kept([]byte(body))
		if len(k) > MaxResponseKept || !utf8.ValidString(k) || strings.ContainsRune(k, 0) {
			t.Errorf("%s: kept %d bytes, valid %v, NUL %v", name, len(k), utf8.ValidString(k), strings.ContainsRune(k, 0))
		}
		if len(k) < min(len(body), MaxResponseKept)-3 && !strings.Contains(name, "invalid") && name != "NUL" {
			t.Errorf("%s: kept only %d bytes", name, len(k))
		}
		if utf8.ValidString(body) && !strings.ContainsRune(body, 0) && !strings.HasPrefix(body, k) {
			t.Errorf("%s: kept is not the answer's start", name)
		}
	}
	if k := kept([]byte("a\x00b")); k != "a\uFFFDb" {
		t.Errorf("NUL kept as %q", k)
	}
}

// TestRedactSecrets: the one rule for what a run keeps, its answer and its
// error: secret header values and their tokens hidden, even at the end of
// a cut answer; a scrubbed error still wraps its cause.
func TestRedactSecrets(t *testing.T) {
	pb := &ent.Playbook{SecretHeaders: map[string]string{"Authorization": "Bearer tok-98765", "X-Key": "k3y-abcdef"}}
	if got := redact(`401: "Bearer tok-98765" / tok-98765 / k3y-abcdef`, pb, false); got != `401: "[secret]" / [secret] / [secret]` {
		t.Errorf("answer kept as %q", got)
	}
	if got := redact("the start ends in Bearer tok-98", pb, true); got != "the start ends in [secret]" {
		t.Errorf("cut answer kept as %q", got)
	}
	err := scrub(fmt.Errorf("POST http://x: %w (sent tok-98765)", outbound.ErrRefused), pb)
	if strings.Contains(err.Error(), "tok-98765") || !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("scrubbed error %q (wraps ErrRefused: %v)", err, errors.Is(err, outbound.ErrRefused))
	}
}
