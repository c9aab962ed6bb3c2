package sla

import (
	"time"

	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
)

// Target is how long a clock may run: Amount minutes of wall time, minutes
// of working time, or business days (schematype.SLAMeasure).
type Target struct {
	Measure schematype.SLAMeasure
	Amount  int
}

// Bounds of a target's amount.
const (
	MaxTargetMinutes = 366 * 24 * 60
	MaxTargetDays    = 366
	// MaxServiceLevels bounds a category's overrides (3 priorities × 2 clocks).
	MaxServiceLevels = 6
)

// Defaults are the targets of a category that overrides none. A SOC works
// around the clock, so the response targets of HIGH (2 h, DefenseStorm's
// promise) and MEDIUM (12 h) are wall time; LOW is answered by the end of
// the next business day. Resolution: HIGH within 24 h of wall time, MEDIUM
// within 3 business days, LOW within 10.
var Defaults = map[ticket.Priority]map[schematype.SLAClock]Target{
	ticket.PriorityHIGH: {
		schematype.ClockResponse:   {schematype.MeasureCalendarMinutes, 120},
		schematype.ClockResolution: {schematype.MeasureCalendarMinutes, 24 * 60},
	},
	ticket.PriorityMEDIUM: {
		schematype.ClockResponse:   {schematype.MeasureCalendarMinutes, 12 * 60},
		schematype.ClockResolution: {schematype.MeasureBusinessDays, 3},
	},
	ticket.PriorityLOW: {
		schematype.ClockResponse:   {schematype.MeasureBusinessDays, 1},
		schematype.ClockResolution: {schematype.MeasureBusinessDays, 10},
	},
}

// TargetFor is the target of clock for a ticket of priority in a category
// overriding levels.
func TargetFor(levels []schematype.ServiceLevel, priority ticket.Priority, clock schematype.SLAClock) Target {
	for _, l := range levels {
		if l.Priority == string(priority) && l.Clock == clock {
			return Target{l.Measure, l.Amount}
		}
	}
	return Defaults[priority][clock]
}

// ValidateLevels checks a category's overrides (field names the list).
func ValidateLevels(field string, levels []schematype.ServiceLevel) error {
	if len(levels) > MaxServiceLevels {
		return errs.Invalid(field, "at most %d targets (one per priority and clock)", MaxServiceLevels)
	}
	seen := map[[2]string]bool{}
	for _, l := range levels {
		if err := ticket.PriorityValidator(ticket.Priority(l.Priority)); err != nil {
			return errs.Invalid(field, "%q is not a priority", l.Priority)
		}
		k := [2]string{l.Priority, string(l.Clock)}
		if seen[k] {
			return errs.Invalid(field, "%s %s is given twice", l.Priority, l.Clock)
		}
		seen[k] = true
		limit := MaxTargetMinutes
		if l.Measure == schematype.MeasureBusinessDays {
			limit = MaxTargetDays
		}
		if l.Amount < 1 || l.Amount > limit {
			return errs.Invalid(field, "the amount of %s %s must be 1 to %d", l.Priority, l.Clock, limit)
		}
	}
	return nil
}

// Paused is how long a clock has stood still so far: in wall time and in
// the calendar's working time.
type Paused struct {
	Wall, Business time.Duration
}

// Due is when a clock started at start with target is due, and when it
// turns AT_RISK (at share of the allowed time), moved out by the time it
// has been paused (wall time for a wall-time target, working time
// otherwise). A business-days target allows the working time from start
// to the n-th business day's close.
func (c Calendar) Due(start time.Time, t Target, share float64, p Paused) (due, risk time.Time) {
	allowed := time.Duration(t.Amount) * time.Minute
	switch t.Measure {
	case schematype.MeasureCalendarMinutes:
		return start.Add(allowed + p.Wall).UTC(), start.Add(scale(allowed, share) + p.Wall).UTC()
	case schematype.MeasureBusinessDays:
		allowed = c.Between(start, c.EndOfBusinessDay(start, t.Amount))
	}
	return c.Add(start, allowed+p.Business), c.Add(start, scale(allowed, share)+p.Business)
}

func scale(d time.Duration, share float64) time.Duration {
	return time.Duration(float64(d) * share).Truncate(time.Second)
}

// Level is one target as the API shows and takes it (GraphQL ServiceLevel
// and ServiceLevelInput).
type Level struct {
	Priority ticket.Priority
	Clock    schematype.SLAClock
	Measure  schematype.SLAMeasure
	Amount   int
}

// LevelsOf are a category's overrides.
func LevelsOf(levels []schematype.ServiceLevel) []*Level {
	out := make([]*Level, len(levels))
	for i, l := range levels {
		out[i] = &Level{ticket.Priority(l.Priority), l.Clock, l.Measure, l.Amount}
	}
	return out
}

// DefaultLevels are Defaults as levels, HIGH first, response first.
func DefaultLevels() []*Level {
	var out []*Level
	for _, p := range []ticket.Priority{ticket.PriorityHIGH, ticket.PriorityMEDIUM, ticket.PriorityLOW} {
		for _, k := range []schematype.SLAClock{schematype.ClockResponse, schematype.ClockResolution} {
			t := Defaults[p][k]
			out = append(out, &Level{p, k, t.Measure, t.Amount})
		}
	}
	return out
}

func stored(levels []*Level) []schematype.ServiceLevel {
	out := make([]schematype.ServiceLevel, len(levels))
	for i, l := range levels {
		out[i] = schematype.ServiceLevel{Priority: string(l.Priority), Clock: l.Clock, Measure: l.Measure, Amount: l.Amount}
	}
	return out
}
