// Package trend computes the ticket list's daily stacked-bar series: per day
// in a time zone, how many tickets matching a filter were in each status at
// the end of the day, from the status history.
package trend

import (
	"time"

	"socdesk/ent/ticket"
)

// Series is the trend of a filter over a range of days.
type Series struct {
	TimeZone string
	// Statuses are the series' statuses, the order of each day's Values.
	Statuses []ticket.Status
	Days     []Day
}

// Day is one bar: the counts at the end of Date (midnight UTC of the
// calendar day, as the Date scalar reads and writes it).
type Day struct {
	Date   time.Time
	Counts []StatusCount
	Values []int
	Total  int
}

// StatusCount is one segment of a bar.
type StatusCount struct {
	Status ticket.Status
	Count  int
}
