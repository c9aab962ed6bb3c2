package notify

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"socdesk/ent/schematype"
)

// TestEveryMessageNamesTheTicket: subject, text and HTML of every occasion
// name #number, title, status, priority and site and carry the link; the
// HTML escapes what the ticket's author wrote.
func TestEveryMessageNamesTheTicket(t *testing.T) {
	for o := range Audience {
		s := Summary{Number: 42, Title: `Beacon to <evil> & "co"`, Status: "ASSIGNED", Priority: "HIGH", Site: "HQ-Tokyo",
			Link: "https://soc.example.com/tickets/42", Event: "TRANSITIONED", Occasion: string(o), Actor: "Alice", Reason: "needs logs"}
		m := Compose(s)
		for _, part := range []struct{ name, text string }{{"subject", m.Subject}, {"text", m.Text}} {
			for _, want := range []string{"#42", s.Title, "ASSIGNED", "HIGH", "HQ-Tokyo"} {
				if !strings.Contains(part.text, want) {
					t.Errorf("%s: the %s %q lacks %q", o, part.name, part.text, want)
				}
			}
		}
		if !strings.Contains(m.Text, s.Link) || !strings.Contains(m.HTML, `href="https://soc.example.com/tickets/42"`) {
			t.Errorf("%s: no link in %q / %q", o, m.Text, m.HTML)
		}
		if strings.Contains(m.HTML, "<evil>") || !strings.Contains(m.HTML, "&lt;evil&gt; &amp; &#34;co&#34;") {
			t.Errorf("%s: the HTML does not escape the title: %s", o, m.HTML)
		}
		if !strings.Contains(m.Text, "needs logs") || !strings.Contains(m.Text, "Alice") {
			t.Errorf("%s: the text lacks who and why: %s", o, m.Text)
		}
	}
}

// TestLongTitleKeepsTheTags: a cut title still leaves status, priority and
// site in the subject (an SMS carries only the subject and the link).
func TestLongTitleKeepsTheTags(t *testing.T) {
	m := Compose(Summary{Number: 7, Title: strings.Repeat("x", 600), Status: "NEW", Priority: "LOW", Site: strings.Repeat("s", 300), Occasion: string(Created)})
	if !strings.HasSuffix(m.Subject, "] — a ticket was opened") || !strings.Contains(m.Subject, "NEW, LOW, ") || !strings.Contains(m.Subject, "#7 xxxxxxxxxxxxxxxx…") {
		t.Errorf("subject %q", m.Subject)
	}
	if n := utf8.RuneCountInString(m.Subject); n > 500 { // the Delivery's bound
		t.Errorf("subject of %d characters", n)
	}
}

// TestDigestListsItsItems: a digest lists each held notification with its link.
func TestDigestListsItsItems(t *testing.T) {
	items := []DigestItem{{"#1 a [NEW, LOW, HQ] — a ticket was opened", "https://x/tickets/1"}, {"#2 <b> [NEW, LOW, HQ] — a ticket changed", "https://x/tickets/2"}}
	m := ComposeDigest(items, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	if m.Subject != "socdesk digest: 2 ticket updates" || !strings.Contains(m.Text, "since 2026-12-02 09:00 UTC") {
		t.Errorf("digest %q %q", m.Subject, m.Text)
	}
	for _, it := range items {
		if !strings.Contains(m.Text, it.Subject) || !strings.Contains(m.Text, it.Link) || !strings.Contains(m.HTML, it.Link) {
			t.Errorf("digest lacks %v: %s", it, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<b>") {
		t.Errorf("digest HTML not escaped: %s", m.HTML)
	}
}

// TestDigestDue: an hourly digest goes at the end of the hour, a daily one
// at the end of the UTC day; the others are not held.
func TestDigestDue(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 41, 5, 0, time.FixedZone("JST", 9*3600))
	if due, held := DigestDue(schematypeMode("HOURLY"), now); !held || !due.Equal(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("hourly: %v %v", due, held)
	}
	if due, held := DigestDue(schematypeMode("DAILY"), now); !held || !due.Equal(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("daily: %v %v", due, held)
	}
	for _, m := range []string{"IMMEDIATE", "MUTED"} {
		if _, held := DigestDue(schematypeMode(m), now); held {
			t.Errorf("%s held", m)
		}
	}
}

func schematypeMode(s string) schematype.NotificationMode { return schematype.NotificationMode(s) }
