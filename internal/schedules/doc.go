// Package schedules keeps task schedules: recurring compliance reviews that
// generate a task at each occurrence of their recurrence.
//
// A recurrence is an RFC 5545 RRULE (github.com/teambition/rrule-go), read
// in the schedule's IANA time zone from its start (DTSTART is startsAt's
// wall time in that zone), or one of the presets (daily, weekdays, weekly,
// every two weeks, monthly on the 1st or the last business day, quarterly,
// yearly) at a time of day, which stand for RRULEs. Daylight-saving changes
// neither skip nor double an occurrence (see Rule).
//
// Generation is a periodic job of the delivery engine (package jobs): it
// takes the active schedules whose next occurrence has come, in batches
// (locked with SKIP LOCKED on PostgreSQL, so replicas share them), makes
// each due occurrence's task through package tasks — the unique (schedule,
// occurrence) of tasks makes a second attempt a no-op — and records it in
// the schedule's history with the advance of its next occurrence, all in
// one transaction. Occurrences missed while socdesk was down are bounded:
// the latest MaxMissed per schedule are generated, the older ones recorded
// as SKIPPED. Each occurrence is made under a savepoint, so a schedule
// whose task fails holds up none of its batch: a refusal is recorded
// SKIPPED at once, an unexpected error retried by the next runs for
// RetryFor and then recorded SKIPPED; a schedule whose recurrence no longer
// reads is paused, recorded PAUSED (see generateOne).
//
// Schedules are created, changed, paused and resumed (never deleted), each
// change recorded in their history in its transaction; copying entries of
// the library (package library) makes schedules too.
package schedules
