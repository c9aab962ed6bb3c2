package notify

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"socdesk/internal/runes"
)

// The templates messages are rendered from: a plain-text and an HTML part
// of every message (email sends both; the others send the text).
//
//go:embed templates
var templates embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templates, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/*.html"))
)

// Bounds of what a message quotes.
const (
	maxExcerptRunes = 500
	maxSubjectRunes = 200
)

// Summary is what every message says of its ticket: #number, title,
// status, priority and site, with a link, and what happened.
type Summary struct {
	Number   int    `json:"number"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Site     string `json:"site"`
	Link     string `json:"link"`
	// Event is the history entry's kind (CREATED, TRANSITIONED, …) or
	// PROPAGATED.
	Event    string `json:"event"`
	Occasion string `json:"occasion,omitempty"`
	Actor    string `json:"actor,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Excerpt is the start of the ticket's body, for propagations.
	Excerpt string `json:"excerpt,omitempty"`
}

// Message is a rendered message.
type Message struct {
	Subject, Text, HTML string
}

// headlines say what happened, by occasion.
var headlines = map[Occasion]string{
	Created:   "A ticket was opened",
	Assigned:  "A ticket was assigned",
	Submitted: "A ticket was submitted for approval",
	Approved:  "A ticket was approved",
	Rejected:  "A ticket was rejected",
	Closed:    "A ticket was closed",
	Reopened:  "A ticket was reopened",
	Changed:   "A ticket changed",
	Breached:  "A ticket missed its service level",
}

// Compose renders the message about s.
func Compose(s Summary) Message {
	head := headlines[Occasion(s.Occasion)]
	if s.Event == "PROPAGATED" {
		head = "A ticket was shared with you"
		if s.Actor != "" {
			head = s.Actor + " shared a ticket with you"
		}
	}
	if head == "" {
		head = "A ticket changed"
	}
	data := struct {
		Summary
		Headline string
	}{s, head}
	// The subject alone names the ticket in full: an SMS carries only it
	// and the link.
	tags := " [" + s.Status + ", " + s.Priority
	if s.Site != "" {
		tags += ", " + s.Site
	}
	tags += "] — " + strings.ToLower(head)
	// A title always shows, whatever its tags: at least 20 characters.
	subject := runes.Cut("#"+strconv.Itoa(s.Number)+" "+s.Title, max(maxSubjectRunes-utf8.RuneCountInString(tags), 20)) + tags
	return Message{Subject: subject, Text: render(textTemplates, "message.txt", data), HTML: renderHTML("message.html", data)}
}

// DigestItem is one held notification in a digest.
type DigestItem struct{ Subject, Link string }

// ComposeDigest renders a digest of items held since since.
func ComposeDigest(items []DigestItem, since time.Time) Message {
	data := struct {
		Items []DigestItem
		Since string
	}{items, since.UTC().Format("2006-01-02 15:04 UTC")}
	subject := "socdesk digest: " + strconv.Itoa(len(items)) + " ticket update"
	if len(items) != 1 {
		subject += "s"
	}
	return Message{Subject: subject, Text: render(textTemplates, "digest.txt", data), HTML: renderHTML("digest.html", data)}
}

func render(t *texttemplate.Template, name string, data any) string {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		panic(err) // the templates are embedded and their data fixed: a test catches it
	}
	return b.String()
}

func renderHTML(name string, data any) string {
	var b bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&b, name, data); err != nil {
		panic(err)
	}
	return b.String()
}
