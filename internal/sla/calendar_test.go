package sla_test

import (
	"testing"
	"time"

	"socdesk/ent/schematype"
	"socdesk/internal/errs"
	"socdesk/internal/sla"
)

func mustCompile(t *testing.T, spec sla.CalendarSpec) sla.Calendar {
	t.Helper()
	c, err := sla.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, loc, s string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const berlin, newYork = "Europe/Berlin", "America/New_York"

var (
	weekdays = []int{1, 2, 3, 4, 5}
	allDays  = []int{0, 1, 2, 3, 4, 5, 6}
)

func TestAddBusinessTime(t *testing.T) {
	office := sla.CalendarSpec{TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00",
		Holidays: []string{"2027-04-02", "2027-12-24"}}
	around := sla.CalendarSpec{TimeZone: berlin, WorkingDays: allDays, DayStart: "00:00", DayEnd: "24:00"}
	nyOffice := sla.CalendarSpec{TimeZone: newYork, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00"}
	nyAround := sla.CalendarSpec{TimeZone: newYork, WorkingDays: allDays, DayStart: "00:00", DayEnd: "24:00"}
	for _, tc := range []struct {
		name    string
		spec    sla.CalendarSpec
		from    string
		add     time.Duration
		want    string // local, in the calendar's zone
		wantUTC string // optional
	}{
		{"within a day", office, "2027-03-01 10:00", 2 * time.Hour, "2027-03-01 12:00", ""},
		{"over the weekend", office, "2027-03-05 16:00", 2 * time.Hour, "2027-03-08 10:00", ""},
		{"from a Saturday", office, "2027-03-06 12:00", time.Hour, "2027-03-08 10:00", ""},
		{"before hours", office, "2027-03-01 07:00", time.Hour, "2027-03-01 10:00", ""},
		{"after hours", office, "2027-03-01 19:30", 30 * time.Minute, "2027-03-02 09:30", ""},
		{"to the close exactly", office, "2027-03-01 09:00", 8 * time.Hour, "2027-03-01 17:00", ""},
		{"over a holiday", office, "2027-04-01 16:30", time.Hour, "2027-04-05 09:30", ""},
		{"Christmas Eve and the weekend", office, "2027-12-23 16:00", 2 * time.Hour, "2027-12-27 10:00", ""},
		// 28 March 2027: Berlin springs forward; 10:00 on Monday is 08:00 UTC, not 09:00.
		{"Berlin DST spring, office hours", office, "2027-03-26 16:00", 2 * time.Hour, "2027-03-29 10:00", "2027-03-29 08:00"},
		// Around the clock, that Sunday has 23 hours: 24 h of work end at 13:00.
		{"Berlin DST spring, 24x7", around, "2027-03-27 12:00", 24 * time.Hour, "2027-03-28 13:00", "2027-03-28 11:00"},
		{"Berlin DST autumn, 24x7", around, "2027-10-30 12:00", 24 * time.Hour, "2027-10-31 11:00", "2027-10-31 10:00"},
		// 7 November 2027: New York falls back; Sunday has 25 hours.
		{"New York DST autumn, 24x7", nyAround, "2027-11-06 12:00", 24 * time.Hour, "2027-11-07 11:00", "2027-11-07 16:00"},
		{"New York DST autumn, office hours", nyOffice, "2027-11-05 16:00", 2 * time.Hour, "2027-11-08 10:00", "2027-11-08 15:00"},
		{"New York DST spring, office hours", nyOffice, "2027-03-12 16:30", time.Hour, "2027-03-15 09:30", "2027-03-15 13:30"},
		{"zero", office, "2027-03-06 12:00", 0, "2027-03-06 12:00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, tc.spec)
			got := c.Add(at(t, tc.spec.TimeZone, tc.from), tc.add)
			if want := at(t, tc.spec.TimeZone, tc.want); !got.Equal(want) {
				t.Errorf("Add = %v, want %v", got.In(c.Location), want)
			}
			if tc.wantUTC != "" {
				if want := at(t, "UTC", tc.wantUTC); !got.Equal(want) {
					t.Errorf("Add = %v UTC, want %v", got.UTC(), want)
				}
			}
			// Between is Add's inverse.
			if tc.add > 0 {
				if b := c.Between(at(t, tc.spec.TimeZone, tc.from), got); b != tc.add {
					t.Errorf("Between = %v, want %v", b, tc.add)
				}
			}
		})
	}
}

func TestBetween(t *testing.T) {
	office := mustCompile(t, sla.CalendarSpec{TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00", Holidays: []string{"2027-04-02"}})
	for _, tc := range []struct {
		from, to string
		want     time.Duration
	}{
		{"2027-03-05 16:00", "2027-03-08 10:00", 2 * time.Hour},
		{"2027-03-06 08:00", "2027-03-07 20:00", 0}, // a weekend
		{"2027-04-01 08:00", "2027-04-05 12:00", 11 * time.Hour},
		{"2027-03-01 12:00", "2027-03-01 11:00", 0}, // backwards
		{"2027-03-01 00:00", "2027-03-08 00:00", 40 * time.Hour},
	} {
		if got := office.Between(at(t, berlin, tc.from), at(t, berlin, tc.to)); got != tc.want {
			t.Errorf("Between(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestNextBusinessDay(t *testing.T) {
	office := mustCompile(t, sla.CalendarSpec{TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00", Holidays: []string{"2027-04-02"}})
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		{"2027-03-05 10:00", 1, "2027-03-08 17:00"}, // Friday: Monday's close
		{"2027-03-06 10:00", 1, "2027-03-08 17:00"}, // Saturday
		{"2027-03-01 08:00", 1, "2027-03-02 17:00"}, // Monday before hours: Tuesday
		{"2027-04-01 10:00", 1, "2027-04-05 17:00"}, // before Good Friday
		{"2027-03-03 10:00", 3, "2027-03-08 17:00"}, // three business days
		{"2027-03-26 10:00", 1, "2027-03-29 17:00"}, // over the DST change
	} {
		if got, want := office.EndOfBusinessDay(at(t, berlin, tc.from), tc.n), at(t, berlin, tc.want); !got.Equal(want) {
			t.Errorf("EndOfBusinessDay(%s, %d) = %v, want %v", tc.from, tc.n, got.In(office.Location), want)
		}
	}
}

func TestDue(t *testing.T) {
	office := mustCompile(t, sla.CalendarSpec{TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00"})
	fri := at(t, berlin, "2027-03-05 10:00")
	for _, tc := range []struct {
		name      string
		target    sla.Target
		paused    sla.Paused
		due, risk string
	}{
		{"HIGH response: 2 h of wall time", sla.Target{Measure: schematype.MeasureCalendarMinutes, Amount: 120}, sla.Paused{},
			"2027-03-05 12:00", "2027-03-05 11:30"},
		{"paused 30 min", sla.Target{Measure: schematype.MeasureCalendarMinutes, Amount: 120}, sla.Paused{Wall: 30 * time.Minute, Business: time.Hour},
			"2027-03-05 12:30", "2027-03-05 12:00"},
		// Friday 10:00 to Monday's close: 7 h + 8 h of work; at risk after 11 h 15 min of it.
		{"LOW response: next business day", sla.Target{Measure: schematype.MeasureBusinessDays, Amount: 1}, sla.Paused{},
			"2027-03-08 17:00", "2027-03-08 13:15"},
		{"next business day, paused 2 working hours", sla.Target{Measure: schematype.MeasureBusinessDays, Amount: 1}, sla.Paused{Wall: 66 * time.Hour, Business: 2 * time.Hour},
			"2027-03-09 11:00", "2027-03-08 15:15"},
		{"8 business hours", sla.Target{Measure: schematype.MeasureBusinessMinutes, Amount: 480}, sla.Paused{},
			"2027-03-08 10:00", "2027-03-05 16:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			due, risk := office.Due(fri, tc.target, 0.75, tc.paused)
			if want := at(t, berlin, tc.due); !due.Equal(want) {
				t.Errorf("due %v, want %v", due.In(office.Location), want)
			}
			if want := at(t, berlin, tc.risk); !risk.Equal(want) {
				t.Errorf("risk %v, want %v", risk.In(office.Location), want)
			}
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	for field, spec := range map[string]sla.CalendarSpec{
		"input.timeZone":    {TimeZone: "Mars/Olympus", WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00"},
		"input.workingDays": {TimeZone: berlin, WorkingDays: []int{7}, DayStart: "09:00", DayEnd: "17:00"},
		"input.dayStart":    {TimeZone: berlin, WorkingDays: weekdays, DayStart: "9am", DayEnd: "17:00"},
		"input.dayEnd":      {TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "08:00"},
		"input.holidays":    {TimeZone: berlin, WorkingDays: weekdays, DayStart: "09:00", DayEnd: "17:00", Holidays: []string{"24.12.2027"}},
	} {
		_, err := sla.Compile(spec)
		if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != field {
			t.Errorf("%s: %+v gave %v", field, spec, err)
		}
	}
}

func TestStateOf(t *testing.T) {
	t0 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	p := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	h := time.Hour
	running := sla.Clocks{ResponseDue: p(2 * h), ResponseRisk: p(90 * time.Minute), ResolutionDue: p(24 * h), ResolutionRisk: p(18 * h)}
	responded := running
	responded.RespondedAt = p(h)
	late := running
	late.RespondedAt = p(3 * h)
	paused := running
	paused.PausedSince = p(h)
	done := responded
	done.ResolvedAt = p(5 * h)
	for _, tc := range []struct {
		name string
		c    sla.Clocks
		at   time.Duration
		want schematype.SLAState
	}{
		{"fresh", running, 0, schematype.SLAOnTrack},
		{"at risk", running, 100 * time.Minute, schematype.SLAAtRisk},
		{"at the due", running, 2 * h, schematype.SLABreached},
		{"responded in time", responded, 3 * h, schematype.SLAOnTrack},
		{"resolution at risk", responded, 19 * h, schematype.SLAAtRisk},
		{"responded late", late, 4 * h, schematype.SLABreached},
		{"paused before the risk", paused, 30 * h, schematype.SLAOnTrack},
		{"met", done, 100 * h, schematype.SLAMet},
	} {
		got := sla.StateOf(tc.c, t0.Add(tc.at))
		if got == nil || *got != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	if got := sla.StateOf(sla.Clocks{}, t0); got != nil {
		t.Errorf("no service levels: %v, want none", *got)
	}
}
