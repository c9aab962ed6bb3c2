package ticketstats

import (
	"context"
	"database/sql"

	entsql "entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketevent"
	"socdesk/internal/trend"
	"socdesk/internal/workflow"
)

// The PostgreSQL path: two statements over the viewer's ticket query (the
// filter's and the privacy policy's predicates apply to tickets after the
// modifiers), whose history is read only for the tickets created in the
// range (ticket_events' (ticket_id, id) index):
//
//	h: each status entry before AsOf with the previous status and the next
//	   entry's time (LAG, LEAD over the ticket's entries by (created_at, id))
//	r: each ticket's first response, MIN(created_at) of ResponseKinds
//	d: each resolved ticket's final resolution, from h
//
//	SELECT <keys>, COUNT(*), <count, sum, percentile_cont(0.5), (0.9) of
//	       r and d in microseconds> FROM tickets LEFT JOIN r, d [, ticket_assignees]
//	SELECT <keys>, h.status, COUNT(DISTINCT tickets.id), SUM(<h's durations>)
//	       FROM tickets JOIN h [, ticket_assignees]
//
// Durations are in microseconds (exact integers as float8), so that the
// sums, means and percentiles are the very arithmetic the Go path does.

// groupRow is a row of the first statement.
type groupRow struct {
	Period      sql.NullInt64   `sql:"k_period"`
	Category    sql.NullInt64   `sql:"k_category"`
	Site        sql.NullInt64   `sql:"k_site"`
	Priority    sql.NullString  `sql:"k_priority"`
	Assignee    sql.NullInt64   `sql:"k_assignee"`
	Tickets     int             `sql:"tickets"`
	Responded   int             `sql:"responded"`
	ResponseSum sql.NullFloat64 `sql:"response_sum"`
	ResponseP50 sql.NullFloat64 `sql:"response_p50"`
	ResponseP90 sql.NullFloat64 `sql:"response_p90"`
	Resolved    int             `sql:"resolved"`
	ResolveSum  sql.NullFloat64 `sql:"resolve_sum"`
	ResolveP50  sql.NullFloat64 `sql:"resolve_p50"`
	ResolveP90  sql.NullFloat64 `sql:"resolve_p90"`
}

// statusRow is a row of the second statement.
type statusRow struct {
	Period   sql.NullInt64  `sql:"k_period"`
	Category sql.NullInt64  `sql:"k_category"`
	Site     sql.NullInt64  `sql:"k_site"`
	Priority sql.NullString `sql:"k_priority"`
	Assignee sql.NullInt64  `sql:"k_assignee"`
	Status   string         `sql:"status"`
	Tickets  int            `sql:"tickets"`
	Micros   float64        `sql:"micros"`
}

// The rows' keys (scanning does not look into embedded structs).
func (r groupRow) key() key {
	return keyOf(r.Period, r.Category, r.Site, r.Priority, r.Assignee)
}

func (r statusRow) key() key {
	return keyOf(r.Period, r.Category, r.Site, r.Priority, r.Assignee)
}

func keyOf(period, cat, site sql.NullInt64, prio sql.NullString, assignee sql.NullInt64) key {
	return key{Period: int(period.Int64), Category: int(cat.Int64), Site: int(site.Int64), Priority: prio.String, Assignee: int(assignee.Int64)}
}

// WorkMem is the PostgreSQL work_mem of a metrics query's transaction: its
// sorts (the history's window, a year's tickets) stay in memory.
const WorkMem = "64MB"

// inSQL runs the statements in one read-only transaction (one snapshot,
// WorkMem).
func (s *Service) inSQL(ctx context.Context, p *plan) (map[key]*GroupMetrics, error) {
	tx, err := s.Client.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SET LOCAL work_mem = '"+WorkMem+"'"); err != nil {
		return nil, err
	}
	return measureInSQL(ctx, tx.Client(), p)
}

func measureInSQL(ctx context.Context, client *ent.Client, p *plan) (map[key]*GroupMetrics, error) {
	var rows []groupRow
	err := client.Ticket.Query().Where(p.preds...).Modify(func(sel *entsql.Selector) {
		b := entsql.Dialect(sel.Dialect())
		h := statusEntries(b, p)
		r, d := responses(b, p), resolutions(b, h)
		created := sel.C(ticket.FieldCreatedAt)
		sel.Select()
		grouped := groupKeys(b, sel, p)
		sel.AppendSelectExprAs(entsql.Raw("COUNT(*)"), "tickets").
			LeftJoin(r).On(r.C("ticket_id"), sel.C(ticket.FieldID)).
			LeftJoin(d).On(d.C("ticket_id"), sel.C(ticket.FieldID))
		for _, m := range []struct {
			at, name string
		}{{r.C("at"), "response"}, {d.C("at"), "resolve"}} {
			us := func(b *entsql.Builder) {
				b.WriteString("(EXTRACT(EPOCH FROM (").Ident(m.at).WriteString(" - ").Ident(created).WriteString(")) * 1000000)::float8")
			}
			count := map[string]string{"response": "responded", "resolve": "resolved"}[m.name]
			sel.AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) { b.WriteString("COUNT(").Ident(m.at).WriteString(")") }), count)
			sel.AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) { b.WriteString("SUM("); us(b); b.WriteString(")") }), m.name+"_sum")
			for _, q := range []string{"0.5", "0.9"} {
				sel.AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
					b.WriteString("percentile_cont(" + q + ") WITHIN GROUP (ORDER BY ")
					us(b)
					b.WriteString(")")
				}), m.name+"_p"+q[2:]+"0")
			}
		}
		if len(grouped) > 0 {
			sel.GroupBy(grouped...)
		}
		sel.Limit(MaxGroups + 1)
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[key]*GroupMetrics, len(rows))
	for _, row := range rows {
		out[row.key()] = &GroupMetrics{Tickets: row.Tickets,
			Response:   durations(row.Responded, row.ResponseSum, row.ResponseP50, row.ResponseP90),
			Resolution: durations(row.Resolved, row.ResolveSum, row.ResolveP50, row.ResolveP90)}
	}
	if len(out) > MaxGroups {
		return out, nil // refused by result
	}

	var srows []statusRow
	err = client.Ticket.Query().Where(p.preds...).Modify(func(sel *entsql.Selector) {
		b := entsql.Dialect(sel.Dialect())
		h := statusEntries(b, p)
		// Each ticket's time per status first: a ticket is one row per
		// status it was in, counted without DISTINCT.
		hs := b.Select().
			AppendSelectAs(h.C("ticket_id"), "ticket_id").
			AppendSelectAs(h.C("status"), "status").
			AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString("SUM(EXTRACT(EPOCH FROM (COALESCE(").Ident(h.C("next_at")).WriteString(", ").Arg(p.asOf).
					WriteString(") - ").Ident(h.C("at")).WriteString(")) * 1000000)")
			}), "micros").
			From(h).GroupBy(h.C("ticket_id"), h.C("status")).As("hs")
		sel.Select()
		grouped := groupKeys(b, sel, p)
		sel.AppendSelectAs(hs.C("status"), "status").
			AppendSelectExprAs(entsql.Raw("COUNT(*)"), "tickets").
			AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString("SUM(").Ident(hs.C("micros")).WriteString(")::float8")
			}), "micros").
			Join(hs).On(hs.C("ticket_id"), sel.C(ticket.FieldID)).
			GroupBy(append(grouped, hs.C("status"))...)
	}).Scan(ctx, &srows)
	if err != nil {
		return nil, err
	}
	for _, row := range srows {
		if g := out[row.key()]; g != nil {
			g.TimeInStatus = append(g.TimeInStatus, StatusTime{Status: ticket.Status(row.Status), Tickets: row.Tickets,
				Total: seconds(row.Micros), Mean: seconds(row.Micros / float64(row.Tickets))})
		}
	}
	return out, nil
}

func durations(n int, sum, p50, p90 sql.NullFloat64) Durations {
	d := Durations{Count: n}
	if n > 0 {
		d.Mean, d.P50, d.P90 = ptr(seconds(sum.Float64/float64(n))), ptr(seconds(p50.Float64)), ptr(seconds(p90.Float64))
	}
	return d
}

// groupKeys selects the plan's keys on the ticket query sel (joining the
// assignees for ASSIGNEE) and returns the names to group by.
func groupKeys(b *entsql.DialectBuilder, sel *entsql.Selector, p *plan) []string {
	var names []string
	add := func(expr entsql.Querier, name string) {
		sel.AppendSelectExprAs(expr, name)
		names = append(names, name)
	}
	col := func(c string) entsql.Querier { return entsql.ExprFunc(func(b *entsql.Builder) { b.Ident(c) }) }
	if p.by[GroupPeriod] {
		add(trend.IndexOf(sel.C(ticket.FieldCreatedAt), p.ends), "k_period")
	}
	if p.by[GroupCategory] {
		add(col(sel.C(ticket.FieldCategoryID)), "k_category")
	}
	if p.by[GroupSite] {
		add(col(sel.C(ticket.FieldSiteID)), "k_site")
	}
	if p.by[GroupPriority] {
		add(col(sel.C(ticket.FieldPriority)), "k_priority")
	}
	if p.by[GroupAssignee] {
		ta := b.Table(ticketassignee.Table).As("ta")
		sel.LeftJoin(ta).On(ta.C(ticketassignee.FieldTicketID), sel.C(ticket.FieldID))
		add(col(ta.C(ticketassignee.FieldUserID)), "k_assignee")
	}
	return names
}

// inRange selects the ids of the tickets created in the plan's range
// (tickets' (created_at, id) index): it only narrows the history read, the
// ticket query decides which tickets count.
func inRange(b *entsql.DialectBuilder, p *plan) *entsql.Selector {
	t := b.Table(ticket.Table).As("tr")
	return b.Select(t.C(ticket.FieldID)).From(t).
		Where(entsql.And(entsql.GTE(t.C(ticket.FieldCreatedAt), p.q.From), entsql.LT(t.C(ticket.FieldCreatedAt), p.asOf)))
}

// statusEntries is h: the status entries before AsOf of the tickets in
// range, each with the previous status and the next status entry's time.
func statusEntries(b *entsql.DialectBuilder, p *plan) *entsql.Selector {
	e := b.Table(ticketevent.Table).As("e")
	at, id, tid, st := e.C(ticketevent.FieldCreatedAt), e.C(ticketevent.FieldID), e.C(ticketevent.FieldTicketID), e.C(ticketevent.FieldStatus)
	window := func(fn, col string) *entsql.WindowBuilder {
		return entsql.Window(func(b *entsql.Builder) { b.WriteString(fn + "(").Ident(col).WriteString(")") }).
			PartitionBy(tid).OrderBy(at, id)
	}
	return b.Select().
		AppendSelectAs(tid, "ticket_id").
		AppendSelectAs(st, "status").
		AppendSelectAs(at, "at").
		AppendSelectExprAs(window("LAG", st), "prev").
		AppendSelectExprAs(window("LEAD", at), "next_at").
		From(e).
		Where(entsql.And(entsql.NotNull(st), entsql.GTE(at, p.q.From), entsql.LT(at, p.asOf), entsql.In(tid, inRange(b, p)))).
		As("h")
}

// responses is r: each ticket's first response before AsOf.
func responses(b *entsql.DialectBuilder, p *plan) *entsql.Selector {
	e := b.Table(ticketevent.Table).As("re")
	kinds := make([]any, len(workflow.ResponseKinds))
	for i, k := range workflow.ResponseKinds {
		kinds[i] = string(k)
	}
	return b.Select().
		AppendSelectAs(e.C(ticketevent.FieldTicketID), "ticket_id").
		AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
			b.WriteString("MIN(").Ident(e.C(ticketevent.FieldCreatedAt)).WriteString(")")
		}), "at").
		From(e).
		Where(entsql.And(entsql.In(e.C(ticketevent.FieldKind), kinds...),
			entsql.GTE(e.C(ticketevent.FieldCreatedAt), p.q.From), entsql.LT(e.C(ticketevent.FieldCreatedAt), p.asOf),
			entsql.In(e.C(ticketevent.FieldTicketID), inRange(b, p)))).
		GroupBy(e.C(ticketevent.FieldTicketID)).
		As("r")
}

// resolutions is d: each ticket whose latest status (before AsOf) resolves
// it, with the time it entered the latest run of resolved statuses.
func resolutions(b *entsql.DialectBuilder, h *entsql.Selector) *entsql.Selector {
	resolvedIn := func(b *entsql.Builder, col string) {
		b.Ident(col).WriteString(" IN (")
		for i, st := range workflow.ResolvedStatuses {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Arg(string(st))
		}
		b.WriteString(")")
	}
	return b.Select().
		AppendSelectAs(h.C("ticket_id"), "ticket_id").
		AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
			b.WriteString("MAX(").Ident(h.C("at")).WriteString(") FILTER (WHERE ")
			resolvedIn(b, h.C("status"))
			b.WriteString(" AND (").Ident(h.C("prev")).WriteString(" IS NULL OR NOT ")
			resolvedIn(b, h.C("prev"))
			b.WriteString("))")
		}), "at").
		From(h).
		GroupBy(h.C("ticket_id")).
		Having(entsql.P(func(b *entsql.Builder) {
			b.WriteString("bool_or(").Ident(h.C("next_at")).WriteString(" IS NULL AND ")
			resolvedIn(b, h.C("status"))
			b.WriteString(")")
		})).
		As("d")
}
