// Package sla keeps tickets' service levels: the business calendars
// (working days, hours, holidays, time zone) and the math of business time
// on them (calendar.go), the targets per priority and category
// (targets.go), the state of a ticket's two clocks, first response and
// resolution, as of now (state.go: the field, the filter's SQL half and its
// memory half read that one rule), the follower of the ticket history that
// sets, pauses, resumes and moves the dues in each change's own transaction
// (follower.go), and the breach jobs that record, announce and notify a
// clock that ran out (breach.go).
package sla
