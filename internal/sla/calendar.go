package sla

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"socdesk/internal/errs"
)

// Bounds of a calendar.
const (
	MaxHolidays = 1000
	// maxDays bounds the days a computation walks: a calendar works at
	// least one weekday and has at most MaxHolidays holidays, so a working
	// day is always found well within it.
	maxDays = 20000
)

// Calendar is a business calendar ready for the math: the days and hours
// worked, in a time zone, less the holidays. Working hours are one span a
// day, local wall times; a day's span lasts what the clock really runs
// between them (a daylight-saving change inside it makes it an hour
// shorter or longer).
type Calendar struct {
	Location *time.Location
	Days     [7]bool // by time.Weekday
	// Start and End of the working hours, minutes after local midnight;
	// End may be 1440 (midnight ending the day).
	Start, End int
	Holidays   map[string]bool // local dates, YYYY-MM-DD
}

// CalendarSpec is a calendar as stored and given (BusinessCalendar).
type CalendarSpec struct {
	TimeZone    string
	WorkingDays []int
	DayStart    string
	DayEnd      string
	Holidays    []string
}

// DefaultSpec is the calendar socdesk starts with: Monday to Friday, 09:00
// to 17:00 UTC, no holidays.
var DefaultSpec = CalendarSpec{TimeZone: "UTC", WorkingDays: []int{1, 2, 3, 4, 5}, DayStart: "09:00", DayEnd: "17:00"}

// Compile checks spec and returns its calendar; an error names the input
// field at fault (input.timeZone, input.workingDays, ...).
func Compile(spec CalendarSpec) (Calendar, error) {
	loc, err := time.LoadLocation(spec.TimeZone)
	if err != nil || spec.TimeZone == "" || strings.EqualFold(spec.TimeZone, "local") {
		return Calendar{}, errs.Invalid("input.timeZone", "%q is not an IANA time zone (Europe/Berlin, America/New_York, UTC)", spec.TimeZone)
	}
	c := Calendar{Location: loc, Holidays: map[string]bool{}}
	if len(spec.WorkingDays) == 0 {
		return Calendar{}, errs.Invalid("input.workingDays", "at least one working day (0 Sunday to 6 Saturday)")
	}
	for _, d := range spec.WorkingDays {
		if d < 0 || d > 6 {
			return Calendar{}, errs.Invalid("input.workingDays", "%d is no weekday: 0 (Sunday) to 6 (Saturday)", d)
		}
		c.Days[d] = true
	}
	if c.Start, err = minutes(spec.DayStart, false); err != nil {
		return Calendar{}, errs.Invalid("input.dayStart", "%v", err)
	}
	if c.End, err = minutes(spec.DayEnd, true); err != nil {
		return Calendar{}, errs.Invalid("input.dayEnd", "%v", err)
	}
	if c.End <= c.Start {
		return Calendar{}, errs.Invalid("input.dayEnd", "must be after dayStart")
	}
	if len(spec.Holidays) > MaxHolidays {
		return Calendar{}, errs.Invalid("input.holidays", "at most %d holidays", MaxHolidays)
	}
	for _, h := range spec.Holidays {
		d, err := time.Parse(time.DateOnly, h)
		if err != nil {
			return Calendar{}, errs.Invalid("input.holidays", "%q is not a date (YYYY-MM-DD)", h)
		}
		c.Holidays[d.Format(time.DateOnly)] = true
	}
	return c, nil
}

// minutes reads HH:MM (24:00 only when end).
func minutes(s string, end bool) (int, error) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	if end && h == 24 && m == 0 {
		return 1440, nil
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return h*60 + m, nil
}

// day is a local date of the calendar.
type day struct{ y, m, d int }

func (c Calendar) dayOf(t time.Time) day {
	y, m, d := t.In(c.Location).Date()
	return day{y, int(m), d}
}

func (d day) next() day {
	t := time.Date(d.y, time.Month(d.m), d.d+1, 12, 0, 0, 0, time.UTC)
	return day{t.Year(), int(t.Month()), t.Day()}
}

// span is the working span of day, if it is worked. A local time that a
// daylight-saving change skips is read as Go's time.Date reads it (the
// offset before the change).
func (c Calendar) span(d day) (from, to time.Time, ok bool) {
	noon := time.Date(d.y, time.Month(d.m), d.d, 12, 0, 0, 0, c.Location)
	if !c.Days[noon.Weekday()] || c.Holidays[noon.Format(time.DateOnly)] {
		return time.Time{}, time.Time{}, false
	}
	from = time.Date(d.y, time.Month(d.m), d.d, c.Start/60, c.Start%60, 0, 0, c.Location)
	to = time.Date(d.y, time.Month(d.m), d.d, c.End/60, c.End%60, 0, 0, c.Location) // 24:00 is the next midnight
	return from, to, true
}

// Add is the instant at which d of working time has passed since t: the
// end of the working time d takes, counted from t (from the next working
// span's start when t is outside one). Add(t, 0) is t.
func (c Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	day := c.dayOf(t)
	for range maxDays {
		from, to, ok := c.span(day)
		day = day.next()
		if !ok || !to.After(t) {
			continue
		}
		if from.Before(t) {
			from = t
		}
		if avail := to.Sub(from); d <= avail {
			return from.Add(d).UTC()
		} else {
			d -= avail
		}
	}
	return t.Add(d).UTC() // unreachable with a compiled calendar
}

// Between is the working time from a to b (0 when b is not after a).
func (c Calendar) Between(a, b time.Time) time.Duration {
	var sum time.Duration
	if !b.After(a) {
		return 0
	}
	day := c.dayOf(a)
	for range maxDays {
		if !time.Date(day.y, time.Month(day.m), day.d, 0, 0, 0, 0, c.Location).Before(b) {
			break
		}
		from, to, ok := c.span(day)
		day = day.next()
		if lo, hi := maxTime(from, a), minTime(to, b); ok && hi.After(lo) {
			sum += hi.Sub(lo)
		}
	}
	return sum
}

// EndOfBusinessDay is the end of the working hours of the n-th business
// day after t's local date (n ≥ 1): "the next business day" is n = 1, so a
// ticket opened on a Friday, at any hour, or on the weekend before, is due
// by Monday's close.
func (c Calendar) EndOfBusinessDay(t time.Time, n int) time.Time {
	day := c.dayOf(t).next()
	for range maxDays {
		_, to, ok := c.span(day)
		day = day.next()
		if ok {
			if n--; n <= 0 {
				return to.UTC()
			}
		}
	}
	return t.AddDate(0, 0, n).UTC()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SortedDays is the working days of spec, sorted and without repeats.
func SortedDays(days []int) []int {
	out := slices.Clone(days)
	slices.Sort(out)
	return slices.Compact(out)
}
