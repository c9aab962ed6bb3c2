package schedules

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"socdesk/internal/errs"
)

// Bounds of recurrences.
const (
	MaxRRuleLength = 1000 // the schema's bound of recurrence
	// MinInterval is the shortest time between two occurrences: a review
	// is at most hourly.
	MinInterval = time.Hour
	// MaxOccurrences bounds NextOccurrences.
	MaxOccurrences = 100
	// MaxDueInDays bounds due_in_days (the schema's bound).
	MaxDueInDays = 3660
	// probe is how many occurrences Parse looks at to bound the frequency.
	probe = 64
)

// Preset is a recurrence offered in simple words; each stands for an RRULE.
type Preset string

// The presets.
const (
	Daily                  Preset = "DAILY"
	Weekdays               Preset = "WEEKDAYS"
	Weekly                 Preset = "WEEKLY"
	Biweekly               Preset = "BIWEEKLY"
	MonthlyFirst           Preset = "MONTHLY_FIRST"
	MonthlyLastBusinessDay Preset = "MONTHLY_LAST_BUSINESS_DAY"
	Quarterly              Preset = "QUARTERLY"
	Yearly                 Preset = "YEARLY"
)

// Presets lists every preset.
var Presets = []Preset{Daily, Weekdays, Weekly, Biweekly, MonthlyFirst, MonthlyLastBusinessDay, Quarterly, Yearly}

var weekdays = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"} // time.Weekday order

// PresetRule is the RRULE of preset p at time of day hh:mm; weekday is the
// day of WEEKLY and BIWEEKLY; month and day are YEARLY's date. field names
// the input at fault in errors.
func PresetRule(field string, p Preset, timeOfDay string, weekday time.Weekday, month time.Month, day int) (string, error) {
	h, m, err := ParseTimeOfDay(timeOfDay)
	if err != nil {
		return "", errs.Invalid(field+".timeOfDay", "%s", err)
	}
	at := fmt.Sprintf("BYHOUR=%d;BYMINUTE=%d;BYSECOND=0", h, m)
	var rule string
	switch p {
	case Daily:
		rule = "FREQ=DAILY"
	case Weekdays:
		rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
	case Weekly:
		rule = "FREQ=WEEKLY;BYDAY=" + weekdays[weekday]
	case Biweekly:
		rule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=" + weekdays[weekday]
	case MonthlyFirst:
		rule = "FREQ=MONTHLY;BYMONTHDAY=1"
	case MonthlyLastBusinessDay:
		rule = "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
	case Quarterly:
		rule = "FREQ=YEARLY;BYMONTH=1,4,7,10;BYMONTHDAY=1"
	case Yearly:
		rule = fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYMONTHDAY=%d", month, day)
	default:
		return "", errs.Invalid(field+".preset", "unknown preset %q", p)
	}
	return rule + ";" + at, nil
}

// ParseTimeOfDay reads "HH:MM" (24 hours).
func ParseTimeOfDay(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("must be HH:MM (24 hours), not %q", s)
	}
	return t.Hour(), t.Minute(), nil
}

// Zone loads an IANA time zone, refusing "Local" (the server's, which
// would change with the machine).
func Zone(field, name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, errs.Invalid(field, "must be an IANA time zone such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errs.Invalid(field, "unknown time zone %q", name)
	}
	return loc, nil
}

// Rule is a recurrence read in its time zone from its start: the
// occurrences of an RRULE whose DTSTART is the start's wall time there.
//
// The rule is expanded in floating (zone-less) wall time, then each wall
// time is placed in the zone as RFC 5545 says (section 3.3.5): a wall time
// that does not exist (the spring-forward gap) is read with the offset
// before the gap (02:30 becomes 03:30 summer time), one that exists twice
// (fall back) is its first instant. So a change of offset neither skips nor
// doubles an occurrence. (rrule-go expands in the zone itself through
// time.Date, whose choice in a gap or an overlap Go leaves unspecified: it
// moves New York's 02:30 back to 01:30 and takes Berlin's second 02:30.)
type Rule struct {
	rule  *rrule.RRule
	loc   *time.Location
	until time.Time // zero: none; an instant (UNTIL is UTC)
	text  string
}

// Parse validates an RRULE (without DTSTART; UNTIL in UTC) and reads it in
// loc from startsAt. field names the input at fault in errors.
func Parse(field, s string, startsAt time.Time, loc *time.Location) (*Rule, error) {
	return parse(field, s, startsAt, loc, true)
}

// parse is Parse; bound: check the frequency (a stored rule was checked).
func parse(field, s string, startsAt time.Time, loc *time.Location, bound bool) (*Rule, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "RRULE:"))
	if s == "" || len(s) > MaxRRuleLength {
		return nil, errs.Invalid(field, "must be an RFC 5545 RRULE of 1 to %d characters", MaxRRuleLength)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errs.Invalid(field, "must be one RRULE line (no DTSTART, RDATE or EXDATE)")
	}
	var until time.Time
	parts := strings.Split(s, ";")
	kept := parts[:0:0]
	for _, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "DTSTART":
			return nil, errs.Invalid(field, "must not hold DTSTART: the schedule's startsAt is its start")
		case "UNTIL":
			if !strings.HasSuffix(v, "Z") {
				return nil, errs.Invalid(field, "UNTIL must be a UTC date-time (ending in Z), as RFC 5545 asks with a time zone")
			}
			t, err := time.Parse("20060102T150405Z", v)
			if err != nil {
				return nil, errs.Invalid(field, "UNTIL must be a UTC date-time such as 20271231T235959Z")
			}
			until = t
			continue // applied to instants, not floating times
		case "COUNT":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return nil, errs.Invalid(field, "COUNT must be a positive integer")
			}
		case "BYEASTER":
			return nil, errs.Invalid(field, "BYEASTER is not RFC 5545")
		}
		kept = append(kept, p)
	}
	o, err := rrule.StrToROption(strings.Join(kept, ";"))
	if err != nil {
		return nil, errs.Invalid(field, "not an RFC 5545 RRULE: %s", err)
	}
	switch o.Freq {
	case rrule.SECONDLY, rrule.MINUTELY, rrule.HOURLY:
		return nil, errs.Invalid(field, "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY: a schedule fires at most once an hour")
	}
	if o.Interval > 1000 {
		return nil, errs.Invalid(field, "INTERVAL must be at most 1000")
	}
	o.Dtstart = floating(startsAt.In(loc))
	r, err := rrule.NewRRule(*o)
	if err != nil {
		return nil, errs.Invalid(field, "not an RFC 5545 RRULE: %s", err)
	}
	out := &Rule{rule: r, loc: loc, until: until, text: s}
	if !bound {
		return out, nil
	}
	// Bound the frequency on the first occurrences (DAILY with several
	// BYMINUTE values fires more than hourly).
	occ := out.NextOccurrences(startsAt.Add(-time.Second), probe)
	for i := 1; i < len(occ); i++ {
		if occ[i].Sub(occ[i-1]) < MinInterval {
			return nil, errs.Invalid(field, "fires more than once an hour (%s and %s)", occ[i-1].Format(time.RFC3339), occ[i].Format(time.RFC3339))
		}
	}
	return out, nil
}

// String is the rule as given (without a leading RRULE:).
func (r *Rule) String() string { return r.text }

// Location is the rule's time zone.
func (r *Rule) Location() *time.Location { return r.loc }

// floating is t's wall time as a UTC time: the rule expands in it.
func floating(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// place is the instant of floating wall time w in loc (see Rule).
func place(w time.Time, loc *time.Location) time.Time {
	// The offsets a day before and after: a zone changes offset at most
	// once in two days.
	_, before := w.Add(-36 * time.Hour).In(loc).Zone()
	_, after := w.Add(36 * time.Hour).In(loc).Zone()
	var found []time.Time
	for _, off := range []int{before, after} {
		t := w.Add(-time.Duration(off) * time.Second).In(loc)
		if floating(t).Equal(w) && !slices.ContainsFunc(found, t.Equal) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0: // in a gap: the offset before it
		return w.Add(-time.Duration(before) * time.Second).In(loc)
	case 1:
		return found[0]
	default: // twice: the first
		return slices.MinFunc(found, func(a, b time.Time) int { return a.Compare(b) })
	}
}

// each calls fn with the occurrences after `after`, in order, until fn
// returns false or the rule ends.
func (r *Rule) each(after time.Time, fn func(time.Time) bool) {
	// Floating times more than a day before after's wall time cannot be
	// after it.
	from := floating(after.In(r.loc)).Add(-27 * time.Hour)
	next := r.rule.Iterator()
	var last time.Time
	for {
		w, ok := next()
		if !ok {
			return
		}
		if w.Before(from) {
			continue
		}
		t := place(w, r.loc)
		if !r.until.IsZero() && t.After(r.until) {
			return
		}
		if !t.After(after) || t.Equal(last) { // a gap can make two wall times one instant
			continue
		}
		last = t
		if !fn(t) {
			return
		}
	}
}

// Next is the first occurrence after `after`; false when the rule has ended.
func (r *Rule) Next(after time.Time) (time.Time, bool) {
	var out time.Time
	r.each(after, func(t time.Time) bool { out = t; return false })
	return out, !out.IsZero()
}

// NextOccurrences are the first count (at most MaxOccurrences) occurrences
// after `after`.
func (r *Rule) NextOccurrences(after time.Time, count int) []time.Time {
	count = min(max(count, 0), MaxOccurrences)
	out := make([]time.Time, 0, count)
	if count == 0 {
		return out
	}
	r.each(after, func(t time.Time) bool {
		out = append(out, t)
		return len(out) < count
	})
	return out
}

// Due is the occurrence's due date: days later in the rule's zone, at the
// same wall time (placed as occurrences are).
func (r *Rule) Due(occurrence time.Time, days int) time.Time {
	return place(floating(occurrence.In(r.loc)).AddDate(0, 0, days), r.loc)
}

// Missed are the occurrences in (after, until]: the latest limit of them
// (due), and the range and number of the older ones (skipped).
func (r *Rule) Missed(after, until time.Time, limit int) (due []time.Time, skipped int, first, last time.Time) {
	r.each(after, func(t time.Time) bool {
		if t.After(until) {
			return false
		}
		due = append(due, t)
		if len(due) > limit {
			if skipped == 0 {
				first = due[0]
			}
			last = due[0]
			skipped++
			due = due[1:]
		}
		return true
	})
	return due, skipped, first, last
}

// PresetOf recognizes the preset a rule stands for (as PresetRule writes
// it), with its time of day; "" when it is none.
func PresetOf(rule string) (Preset, string) {
	parts := strings.Split(rule, ";")
	var h, m string
	rest := parts[:0:0]
	for _, p := range parts {
		switch {
		case strings.HasPrefix(p, "BYHOUR="):
			h = p[len("BYHOUR="):]
		case strings.HasPrefix(p, "BYMINUTE="):
			m = p[len("BYMINUTE="):]
		case p == "BYSECOND=0":
		default:
			rest = append(rest, p)
		}
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil {
		return "", ""
	}
	tod := fmt.Sprintf("%02d:%02d", hh, mm)
	base := strings.Join(rest, ";")
	for _, p := range Presets {
		for wd := range 7 {
			want, err := PresetRule("", p, tod, time.Weekday(wd), 1, 1)
			if err != nil {
				continue
			}
			want, _, _ = strings.Cut(want, ";BYHOUR=")
			if p == Yearly {
				if strings.HasPrefix(base, "FREQ=YEARLY;BYMONTH=") && strings.Count(base, ";") == 2 && strings.Contains(base, ";BYMONTHDAY=") && !strings.Contains(base, ",") {
					return p, tod
				}
				continue
			}
			if want == base {
				return p, tod
			}
		}
	}
	return "", ""
}

// Text says the rule in words, for presets; other rules are shown as written.
func Text(rule string) string {
	p, tod := PresetOf(rule)
	day := func() string {
		_, d, _ := strings.Cut(rule, "BYDAY=")
		d, _, _ = strings.Cut(d, ";")
		if i := slices.Index(weekdays, d); i >= 0 {
			return time.Weekday(i).String()
		}
		return d
	}
	switch p {
	case Daily:
		return "Every day at " + tod
	case Weekdays:
		return "Every weekday at " + tod
	case Weekly:
		return "Every week on " + day() + " at " + tod
	case Biweekly:
		return "Every two weeks on " + day() + " at " + tod
	case MonthlyFirst:
		return "Every month on the 1st at " + tod
	case MonthlyLastBusinessDay:
		return "Every month on the last business day at " + tod
	case Quarterly:
		return "Every quarter on its first day at " + tod
	case Yearly:
		var mo, d int
		for _, part := range strings.Split(rule, ";") {
			if v, ok := strings.CutPrefix(part, "BYMONTH="); ok {
				mo, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(part, "BYMONTHDAY="); ok {
				d, _ = strconv.Atoi(v)
			}
		}
		return fmt.Sprintf("Every year on %s %d at %s", time.Month(mo), d, tod)
	}
	return "RRULE:" + rule
}

// MarshalGQL implements graphql.Marshaler.
func (p Preset) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (p *Preset) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(Presets, Preset(s)) {
		return fmt.Errorf("%v is not a valid TaskRecurrencePreset", v)
	}
	*p = Preset(s)
	return nil
}
