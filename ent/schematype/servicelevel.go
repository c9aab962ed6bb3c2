package schematype

import (
	"fmt"
	"io"
	"strconv"
)

// SLAClock is one of a ticket's two service-level clocks.
type SLAClock string

// The clocks: the first response, and the resolution.
const (
	ClockResponse   SLAClock = "RESPONSE"
	ClockResolution SLAClock = "RESOLUTION"
)

// SLAMeasure is how a target's amount is counted.
type SLAMeasure string

// The measures: minutes of wall time (24×7), minutes of working time on the
// ticket's business calendar, or business days (due at the end of the
// working hours of the n-th business day after the day the clock started).
const (
	MeasureCalendarMinutes SLAMeasure = "CALENDAR_MINUTES"
	MeasureBusinessMinutes SLAMeasure = "BUSINESS_MINUTES"
	MeasureBusinessDays    SLAMeasure = "BUSINESS_DAYS"
)

// ServiceLevel is a category's override of one target: for tickets of
// Priority, Clock is due Amount (minutes or days, by Measure) after it
// starts.
type ServiceLevel struct {
	Priority string     `json:"priority"`
	Clock    SLAClock   `json:"clock"`
	Measure  SLAMeasure `json:"measure"`
	Amount   int        `json:"amount"`
}

// MarshalGQL implements graphql.Marshaler.
func (c SLAClock) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (c *SLAClock) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, c, "SlaClock", ClockResponse, ClockResolution)
}

// MarshalGQL implements graphql.Marshaler.
func (m SLAMeasure) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(m))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (m *SLAMeasure) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, m, "SlaMeasure", MeasureCalendarMinutes, MeasureBusinessMinutes, MeasureBusinessDays)
}

func unmarshalEnum[T ~string](v any, dst *T, name string, values ...T) error {
	s, _ := v.(string)
	for _, c := range values {
		if string(c) == s {
			*dst = c
			return nil
		}
	}
	return fmt.Errorf("%v is not a valid %s", v, name)
}

// SLAState is where a ticket stands against its service levels.
type SLAState string

// The states: both clocks within their time, one of them past the at-risk
// share, one of them past its due (or met late), or both met in time.
const (
	SLAOnTrack  SLAState = "ON_TRACK"
	SLAAtRisk   SLAState = "AT_RISK"
	SLABreached SLAState = "BREACHED"
	SLAMet      SLAState = "MET"
)

// MarshalGQL implements graphql.Marshaler.
func (s SLAState) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *SLAState) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, s, "SlaState", SLAOnTrack, SLAAtRisk, SLABreached, SLAMet)
}
