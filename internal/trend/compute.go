package trend

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // IANA zones also where the host has no zoneinfo (slim containers)

	entsql "entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/workflow"
)

// MaxDays bounds a series: two years, leap day included.
const MaxDays = 731

// Statuses are every ticket status in the workflows' order (workflow.Order):
// the segments of a bar when the filter does not select statuses.
var Statuses = workflow.Order

// Compute returns the series of the tickets matching f for each day from
// `from` to `to` (calendar days, inclusive) in the IANA time zone timeZone.
// filter.statuses does not select tickets: it selects the statuses
// reported. A day is [midnight, next midnight) in the zone (DST included);
// a day that has not ended yet is counted as of now.
//
// With no filter but sites (and statuses), in a zone whose days end on
// whole UTC hours, the series comes from the rollups the ticket service
// keeps in every change's transaction (see rollup.go): it follows the
// history exactly, so a ticket counts on the site it was on at the end of
// each day, and a deleted one until its deletion.
//
// Any other filter selects tickets on their current fields, so the history
// is scanned for the tickets the viewer could list with it now (the Ticket
// privacy policy applies): a ticket counts on every day it existed in, in the
// status of its latest history entry with a status before the day's end.
// Deleted tickets are not counted on any day then: their history survives
// (ticket_id NULL) but their fields, which the filter and the site scope are
// decided on, do not.
func Compute(ctx context.Context, client *ent.Client, f *tickets.Filter, from, to time.Time, timeZone string) (*Series, error) {
	loc, err := location(timeZone)
	if err != nil {
		return nil, err
	}
	first, last := civil(from), civil(to)
	if last.Before(first) {
		return nil, errs.Invalid("to", "must not be before from")
	}
	n := int(last.Sub(first)/(24*time.Hour)) + 1
	if n > MaxDays {
		return nil, errs.Invalid("to", "at most %d days from from", MaxDays)
	}
	preds, reported, err := selection(f)
	if err != nil {
		return nil, err
	}

	// ends[d] is the instant day d is counted at, in UTC: stored times are
	// UTC, and SQLite compares them as text.
	now := time.Now()
	days := make([]time.Time, n)
	ends := make([]time.Time, n)
	for d := range n {
		days[d] = first.AddDate(0, 0, d)
		y, m, dd := days[d].Date()
		end := time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
		if end.After(now) {
			end = now
		}
		ends[d] = end.UTC()
	}

	if rollupEligible(f, pastEnds(ends, now)) {
		counts, err := fromRollups(ctx, client, f, reported, ends, now)
		if err != nil {
			return nil, err
		}
		return series(timeZone, days, reported, counts), nil
	}

	var rows []changeRow
	// Tasks are no part of the trend (nor of its rollups: tickets.Moves).
	preds = append(preds, ticket.KindNEQ(ticket.KindTASK))
	err = client.Ticket.Query().Where(preds...).Modify(changes(ends)).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}

	// delta[i][d]: how many tickets entered (minus left) reported status i
	// in day d; the count at the end of day d is the running sum.
	index := make(map[string]int, len(reported))
	for i, st := range reported {
		index[string(st)] = i
	}
	delta := make([][]int, len(reported))
	for i := range delta {
		delta[i] = make([]int, n)
	}
	for _, r := range rows {
		if i, ok := index[r.Status]; ok {
			delta[i][r.Day] += r.N
		}
		if i, ok := index[r.Prev.String]; r.Prev.Valid && ok {
			delta[i][r.Day] -= r.N
		}
	}
	counts := make([][]int, n)
	running := make([]int, len(reported))
	for d := range n {
		for i := range reported {
			running[i] += delta[i][d]
		}
		counts[d] = slices.Clone(running)
	}
	return series(timeZone, days, reported, counts), nil
}

// series puts counts[day][status] into the API's shape.
func series(timeZone string, days []time.Time, reported []ticket.Status, counts [][]int) *Series {
	s := &Series{TimeZone: timeZone, Statuses: reported, Days: make([]Day, len(days))}
	for d := range days {
		day := Day{Date: days[d], Counts: make([]StatusCount, len(reported)), Values: counts[d]}
		for i, st := range reported {
			day.Counts[i] = StatusCount{Status: st, Count: counts[d][i]}
			day.Total += counts[d][i]
		}
		s.Days[d] = day
	}
	return s
}

// pastEnds are the ends before now (the others are counted as of now).
func pastEnds(ends []time.Time, now time.Time) []time.Time {
	var out []time.Time
	for _, e := range ends {
		if e.Before(now) {
			out = append(out, e)
		}
	}
	return out
}

// location loads an IANA zone; "Local" (the server's) is not one.
func location(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, errs.Invalid("timeZone", "unknown time zone %q (want an IANA name such as Europe/Paris)", name)
	}
	return loc, nil
}

// civil is the calendar day of t as midnight UTC (the Date scalar's form).
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// selection returns the predicates selecting the tickets of f, and the
// statuses reported: those of filter.statuses in workflow order, or all.
func selection(f *tickets.Filter) ([]predicate.Ticket, []ticket.Status, error) {
	if f == nil {
		return nil, Statuses, nil
	}
	// The whole filter is validated; statuses then select segments, not tickets.
	if _, err := f.Predicates(); err != nil {
		return nil, nil, err
	}
	g := *f
	g.Statuses = nil
	preds, err := g.Predicates()
	if err != nil {
		return nil, nil, err
	}
	reported := Statuses
	if f.Statuses != nil {
		reported = slices.DeleteFunc(slices.Clone(Statuses), func(s ticket.Status) bool { return !slices.Contains(f.Statuses, s) })
	}
	return preds, reported, nil
}

// changeRow is one group of status changes: N tickets entered Status (and,
// when Prev is set, left Prev) during day Day.
type changeRow struct {
	Status string         `sql:"status"`
	Prev   sql.NullString `sql:"prev"`
	Day    int            `sql:"day"`
	N      int            `sql:"n"`
}

// changes turns the selected tickets' query into the count of their status
// changes per (status, previous status, day), in one statement:
//
//	SELECT h.status, h.prev, h.day, COUNT(*) FROM tickets
//	JOIN (SELECT ticket_id, status,
//	        LAG(status) OVER (PARTITION BY ticket_id ORDER BY created_at, id) AS prev,
//	        <the day of created_at> AS day
//	      FROM ticket_events
//	      WHERE ticket_id IS NOT NULL AND status IS NOT NULL AND created_at <= <last end>) AS h
//	  ON h.ticket_id = tickets.id
//	WHERE <the filter's and the privacy policy's predicates>
//	GROUP BY h.status, h.prev, h.day
//
// Every status entry moves its ticket from prev (none for the first) to
// status, so a status's count at the end of day d is its entries up to d
// minus the entries leaving it up to d: one pass over the history, and a
// result of at most a few rows per transition and day. The day of an entry
// is the first d with created_at <= ends[d], found by a binary search
// written as nested CASEs over the day ends passed as parameters.
//
// The history is read only through the ticket query, whose predicates (the
// filter's, and those ent's privacy policy adds) are applied after this
// modifier, on the tickets table.
func changes(ends []time.Time) func(*entsql.Selector) {
	return func(s *entsql.Selector) {
		b := entsql.Dialect(s.Dialect())
		e := b.Table(ticketevent.Table)
		at := e.C(ticketevent.FieldCreatedAt)
		h := b.Select().
			AppendSelectAs(e.C(ticketevent.FieldTicketID), "ticket_id").
			AppendSelectAs(e.C(ticketevent.FieldStatus), "status").
			AppendSelectExprAs(entsql.Window(func(b *entsql.Builder) {
				b.WriteString("LAG(").Ident(e.C(ticketevent.FieldStatus)).WriteString(")")
			}).PartitionBy(e.C(ticketevent.FieldTicketID)).OrderBy(at, e.C(ticketevent.FieldID)), "prev").
			AppendSelectExprAs(dayOf(at, ends), "day").
			From(e).
			Where(entsql.And(
				entsql.NotNull(e.C(ticketevent.FieldTicketID)),
				entsql.NotNull(e.C(ticketevent.FieldStatus)),
				entsql.LT(at, ends[len(ends)-1]),
			)).
			As("h")
		s.Select().
			AppendSelectAs(h.C("status"), "status").
			AppendSelectAs(h.C("prev"), "prev").
			AppendSelectAs(h.C("day"), "day").
			AppendSelectExprAs(entsql.Raw("COUNT(*)"), "n").
			Join(h).On(h.C("ticket_id"), s.C(ticket.FieldID)).
			GroupBy(h.C("status"), h.C("prev"), h.C("day"))
	}
}

// IndexOf is dayOf for other series (the metrics' periods): the index of
// the first of ends after the instant in column col.
func IndexOf(col string, ends []time.Time) entsql.Querier { return dayOf(col, ends) }

// dayOf is the index of the first of ends (ascending) after the instant in
// column col (a day is [start, end): a change at midnight is the new day's),
// for instants before the last end: a balanced tree of
// CASE expressions, so each row costs log2(len(ends)) comparisons and every
// instant is a parameter.
func dayOf(col string, ends []time.Time) entsql.Querier {
	var tree func(b *entsql.Builder, lo, hi int)
	tree = func(b *entsql.Builder, lo, hi int) {
		if lo == hi {
			b.WriteString(strconv.Itoa(lo))
			return
		}
		mid := (lo + hi) / 2
		b.WriteString("CASE WHEN ").Ident(col).WriteString(" < ").Arg(ends[mid]).WriteString(" THEN ")
		tree(b, lo, mid)
		b.WriteString(" ELSE ")
		tree(b, mid+1, hi)
		b.WriteString(" END")
	}
	return entsql.ExprFunc(func(b *entsql.Builder) { tree(b, 0, len(ends)-1) })
}
