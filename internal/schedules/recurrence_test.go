package schedules

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"socdesk/internal/errs"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := Zone("timeZone", name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func rule(t *testing.T, s string, start time.Time) *Rule {
	t.Helper()
	r, err := Parse("rrule", s, start, start.Location())
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return r
}

func stamps(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("2006-01-02 15:04 MST")
	}
	return out
}

func same(t *testing.T, what string, got []time.Time, want ...string) {
	t.Helper()
	if g := strings.Join(stamps(got), ", "); g != strings.Join(want, ", ") {
		t.Errorf("%s:\n got %s\nwant %s", what, g, strings.Join(want, ", "))
	}
}

// Both daylight-saving changes in both zones: an occurrence in the
// spring-forward gap happens once, at the offset before the gap (RFC 5545
// 3.3.5); one in the fall-back overlap happens once, at its first instant.
func TestDST(t *testing.T) {
	berlin, ny := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	cases := []struct {
		name  string
		loc   *time.Location
		rrule string
		from  time.Time
		want  []string
	}{
		{"Berlin spring 02:30", berlin, "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", time.Date(2026, 3, 28, 0, 0, 0, 0, berlin),
			[]string{"2026-03-28 02:30 CET", "2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST"}},
		{"Berlin autumn 02:30", berlin, "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", time.Date(2026, 10, 24, 0, 0, 0, 0, berlin),
			[]string{"2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"}},
		{"New York spring 02:30", ny, "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", time.Date(2026, 3, 7, 0, 0, 0, 0, ny),
			[]string{"2026-03-07 02:30 EST", "2026-03-08 03:30 EDT", "2026-03-09 02:30 EDT"}},
		{"New York autumn 01:30", ny, "FREQ=DAILY;BYHOUR=1;BYMINUTE=30;BYSECOND=0", time.Date(2026, 10, 31, 0, 0, 0, 0, ny),
			[]string{"2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
		{"New York weekly Sunday 02:30 across spring", ny, "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30;BYSECOND=0", time.Date(2026, 3, 1, 0, 0, 0, 0, ny),
			[]string{"2026-03-01 02:30 EST", "2026-03-08 03:30 EDT", "2026-03-15 02:30 EDT"}},
		{"Berlin last Sunday of March 02:30 yearly", berlin, "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;BYHOUR=2;BYMINUTE=30;BYSECOND=0", time.Date(2026, 1, 1, 0, 0, 0, 0, berlin),
			[]string{"2026-03-29 03:30 CEST", "2027-03-28 03:30 CEST", "2028-03-26 03:30 CEST"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rule(t, c.rrule, c.from)
			got := r.NextOccurrences(c.from, 3)
			same(t, c.name, got, c.want...)
			// Next walks the same instants one by one, from any instant
			// between them (the overlap's second 02:30 included).
			at := c.from
			for i := range got {
				n, ok := r.Next(at)
				if !ok || !n.Equal(got[i]) {
					t.Fatalf("Next(%s) = %s, want %s", at, n, got[i])
				}
				at = n
			}
			for probe := c.from; probe.Before(got[2]); probe = probe.Add(30 * time.Minute) {
				n, _ := r.Next(probe)
				if !n.After(probe) {
					t.Fatalf("Next(%s) = %s, not after", probe, n)
				}
			}
		})
	}
	// Each day of the DST weeks has exactly one occurrence: none skipped, none doubled.
	for _, loc := range []*time.Location{berlin, ny} {
		for _, from := range []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, loc), time.Date(2026, 10, 20, 0, 0, 0, 0, loc)} {
			for _, hm := range [][2]int{{0, 30}, {1, 30}, {2, 0}, {2, 30}, {3, 0}} {
				r := rule(t, "FREQ=DAILY;BYHOUR="+itoa(hm[0])+";BYMINUTE="+itoa(hm[1])+";BYSECOND=0", from)
				got := r.NextOccurrences(from.Add(-time.Second), 30)
				for i, o := range got {
					wy, wm, wd := from.AddDate(0, 0, i).Date()
					if y, m, d := o.Date(); y != wy || m != wm || d != wd {
						t.Fatalf("%s %v: occurrence %d is %s, want the day %d-%d-%d", loc, hm, i, o, wy, wm, wd)
					}
				}
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMonthEndsLeapDaysAndBusinessDays(t *testing.T) {
	utc := time.UTC
	berlin := zone(t, "Europe/Berlin")
	jan := time.Date(2027, 1, 1, 0, 0, 0, 0, utc)
	same(t, "the 31st: only months that have one", rule(t, "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=9;BYMINUTE=0;BYSECOND=0", jan).NextOccurrences(jan, 4),
		"2027-01-31 09:00 UTC", "2027-03-31 09:00 UTC", "2027-05-31 09:00 UTC", "2027-07-31 09:00 UTC")
	same(t, "the last day", rule(t, "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=9;BYMINUTE=0;BYSECOND=0", jan).NextOccurrences(jan, 3),
		"2027-01-31 09:00 UTC", "2027-02-28 09:00 UTC", "2027-03-31 09:00 UTC")
	lbd, _ := PresetRule("recurrence", MonthlyLastBusinessDay, "17:00", 0, 0, 0)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, berlin)
	// Jan 30 2026 is a Friday (31 Saturday); May 29 a Friday; Oct 30 a Friday.
	same(t, "last business day", rule(t, lbd, from).NextOccurrences(from, 12),
		"2026-01-30 17:00 CET", "2026-02-27 17:00 CET", "2026-03-31 17:00 CEST", "2026-04-30 17:00 CEST",
		"2026-05-29 17:00 CEST", "2026-06-30 17:00 CEST", "2026-07-31 17:00 CEST", "2026-08-31 17:00 CEST",
		"2026-09-30 17:00 CEST", "2026-10-30 17:00 CET", "2026-11-30 17:00 CET", "2026-12-31 17:00 CET")
	leap := time.Date(2024, 2, 29, 8, 0, 0, 0, utc)
	y, _ := PresetRule("recurrence", Yearly, "08:00", 0, 2, 29)
	same(t, "Feb 29 yearly: leap years only", rule(t, y, leap).NextOccurrences(leap.Add(-time.Minute), 3),
		"2024-02-29 08:00 UTC", "2028-02-29 08:00 UTC", "2032-02-29 08:00 UTC")
	q, _ := PresetRule("recurrence", Quarterly, "06:00", 0, 0, 0)
	same(t, "quarterly", rule(t, q, from).NextOccurrences(from, 4),
		"2026-01-01 06:00 CET", "2026-04-01 06:00 CEST", "2026-07-01 06:00 CEST", "2026-10-01 06:00 CEST")
	b, _ := PresetRule("recurrence", Biweekly, "10:15", time.Tuesday, 0, 0)
	// Every other week counted from startsAt's week (WKST=MO): the
	// Tuesday of Jan 1 2026's week was Dec 30, so Jan 13 comes next.
	same(t, "biweekly", rule(t, b, from).NextOccurrences(from, 3),
		"2026-01-13 10:15 CET", "2026-01-27 10:15 CET", "2026-02-10 10:15 CET")
	w, _ := PresetRule("recurrence", Weekdays, "07:00", 0, 0, 0)
	same(t, "weekdays", rule(t, w, from).NextOccurrences(from, 3),
		"2026-01-01 07:00 CET", "2026-01-02 07:00 CET", "2026-01-05 07:00 CET")
	// COUNT ends a rule; UNTIL (UTC) too.
	c := rule(t, "FREQ=DAILY;COUNT=2;BYHOUR=9;BYMINUTE=0;BYSECOND=0", jan)
	same(t, "COUNT", c.NextOccurrences(jan, 5), "2027-01-01 09:00 UTC", "2027-01-02 09:00 UTC")
	if _, ok := c.Next(time.Date(2027, 1, 2, 9, 0, 0, 0, utc)); ok {
		t.Error("a rule past its COUNT has a next occurrence")
	}
	u := rule(t, "FREQ=DAILY;UNTIL=20270102T090000Z;BYHOUR=9;BYMINUTE=0;BYSECOND=0", jan)
	same(t, "UNTIL", u.NextOccurrences(jan, 5), "2027-01-01 09:00 UTC", "2027-01-02 09:00 UTC")
}

func TestPresetsRoundTrip(t *testing.T) {
	for _, p := range Presets {
		r, err := PresetRule("recurrence", p, "08:05", time.Friday, 6, 15)
		if err != nil {
			t.Fatal(err)
		}
		if got, tod := PresetOf(r); got != p || tod != "08:05" {
			t.Errorf("PresetOf(%s) = %s %s, want %s 08:05", r, got, tod, p)
		}
		if _, err := Parse("rrule", r, time.Now(), time.UTC); err != nil {
			t.Errorf("%s: %v", r, err)
		}
		if txt := Text(r); strings.HasPrefix(txt, "RRULE:") {
			t.Errorf("%s has no words: %s", p, txt)
		}
	}
	if p, _ := PresetOf("FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=8;BYMINUTE=0"); p != "" {
		t.Errorf("the 15th is preset %s", p)
	}
}

func TestBadRecurrences(t *testing.T) {
	for _, s := range []string{
		"", "FREQ=HOURLY", "FREQ=MINUTELY;INTERVAL=90", "FREQ=SECONDLY",
		"FREQ=DAILY;BYMINUTE=0,30", "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "FREQ=DAILY;DTSTART=20260101T000000Z",
		"FREQ=DAILY;UNTIL=20270101T000000", "FREQ=DAILY;COUNT=0", "FREQ=DAILY;COUNT=x", "BYHOUR=3", "FREQ=FORTNIGHTLY",
		"FREQ=DAILY;BYHOUR=25", "FREQ=DAILY;FOO=1", strings.Repeat("FREQ=DAILY;", 100),
	} {
		_, err := Parse("input.recurrence.rrule", s, time.Now(), time.UTC)
		if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != "input.recurrence.rrule" {
			t.Errorf("%q: %v, want BAD_USER_INPUT naming input.recurrence.rrule", s, err)
		}
	}
	for _, z := range []string{"", "Local", "Mars/Olympus", "../etc/passwd"} {
		if _, err := Zone("input.timeZone", z); err == nil {
			t.Errorf("zone %q accepted", z)
		}
	}
	if _, err := PresetRule("input.recurrence", "HOURLY", "08:00", 0, 0, 0); err == nil {
		t.Error("an unknown preset is accepted")
	}
	for _, tod := range []string{"", "8", "24:00", "08:60", "8am"} {
		if _, err := PresetRule("input.recurrence", Daily, tod, 0, 0, 0); err == nil {
			t.Errorf("time of day %q accepted", tod)
		}
	}
}

func TestDue(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	r := rule(t, "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", time.Date(2026, 3, 1, 0, 0, 0, 0, berlin))
	occ := time.Date(2026, 3, 27, 9, 0, 0, 0, berlin)
	if got := r.Due(occ, 3).Format("2006-01-02 15:04 MST"); got != "2026-03-30 09:00 CEST" {
		t.Errorf("due 3 days after a Friday across the change: %s", got)
	}
}
