// Package library is the schedule library: the recommended task schedules
// socdesk ships (recurring compliance reviews with their recurrence, due
// days, tags, policies and an example query), read-only data embedded in
// the binary from a versioned file, schedules.json. Copying entries into
// task schedules is package schedules' work.
package library

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"socdesk/internal/errs"
)

//go:embed schedules.json
var data []byte

// File is schedules.json: its format version and the entries.
type File struct {
	// Version is the library's version; it changes whenever an entry does.
	Version   string  `json:"version"`
	Schedules []Entry `json:"schedules"`
}

// Entry is one recommended schedule.
type Entry struct {
	// ID is stable across versions: a copied schedule names it.
	ID string `json:"id"`
	// Family is the control family (user accounts, firewall, backups…).
	Family string `json:"family"`
	Name   string `json:"name"`
	// Description says how to do and document the review.
	Description string `json:"description"`
	// Recurrence is the recommended RFC 5545 RRULE (without DTSTART),
	// including its time of day (BYHOUR, BYMINUTE), read in the time zone
	// chosen when the entry is copied.
	Recurrence string `json:"recurrence"`
	// RecurrenceText says the recurrence in words ("Every week on Monday at 08:00").
	RecurrenceText string   `json:"recurrenceText"`
	DueInDays      int      `json:"dueInDays"`
	Tags           []string `json:"tags"`
	// Policies are references of policy statements ("FFIEC IS.B.33").
	Policies []string `json:"policies"`
	// Query is an example search in the product's query language, kept
	// verbatim on the copied schedule.
	Query string `json:"query"`
}

var file = mustLoad()

func mustLoad() File {
	f, err := load(data)
	if err != nil {
		panic(fmt.Sprintf("library: schedules.json: %v", err))
	}
	return f
}

// load decodes a library file, refusing fields it does not know (a typo
// in the file fails the build's tests rather than dropping a field).
func load(b []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&f)
	return f, err
}

// Version is the library's version.
func Version() string { return file.Version }

// All returns every entry, in the file's order.
func All() []Entry { return slices.Clone(file.Schedules) }

// Get returns the entry with the id.
func Get(id string) (Entry, bool) {
	i := slices.IndexFunc(file.Schedules, func(e Entry) bool { return e.ID == id })
	if i < 0 {
		return Entry{}, false
	}
	return file.Schedules[i], true
}

// MaxSearchRunes bounds a search of the library.
const MaxSearchRunes = 200

// Search returns the entries, in the file's order, in which keyword (nil:
// any) is found in the id, name, description, tags or policies, ignoring
// case, of the family (nil: any) named ignoring case.
func Search(keyword, family *string) ([]*Entry, error) {
	k, err := searchText("keyword", keyword)
	if err != nil {
		return nil, err
	}
	fam, err := searchText("family", family)
	if err != nil {
		return nil, err
	}
	out := []*Entry{}
	for i := range file.Schedules {
		e := &file.Schedules[i]
		if fam != "" && !strings.EqualFold(e.Family, fam) {
			continue
		}
		if k != "" && !slices.ContainsFunc(e.words(), func(w string) bool { return strings.Contains(strings.ToLower(w), k) }) {
			continue
		}
		c := *e
		out = append(out, &c)
	}
	return out, nil
}

// words are the texts of e a keyword is looked for in.
func (e *Entry) words() []string {
	return append(append([]string{e.ID, e.Name, e.Description}, e.Tags...), e.Policies...)
}

// searchText is a search argument trimmed and lower-cased ("" for none).
func searchText(field string, p *string) (string, error) {
	if p == nil {
		return "", nil
	}
	s := strings.TrimSpace(*p)
	if utf8.RuneCountInString(s) > MaxSearchRunes || !utf8.ValidString(s) || errs.HasNUL(s) {
		return "", errs.Invalid(field, "must be at most %d characters of valid UTF-8, without NUL", MaxSearchRunes)
	}
	return strings.ToLower(s), nil
}
