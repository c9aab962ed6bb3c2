package tickets

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
)

// MaxPage bounds a page of the ticket and task lists (GitHub's rule; the
// limits check it before execution too).
const MaxPage = 100

// Page pages q in order o: by due date through PageByDue, otherwise by
// entgql's pagination.
func Page(ctx context.Context, q *ent.TicketQuery, o *ent.TicketOrder, after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.TicketConnection, error) {
	if o != nil && o.Field != nil && o.Field.String() == ent.TicketOrderFieldDueAt.String() {
		return PageByDue(ctx, q, o.Direction == entgql.OrderDirectionDesc, after, first, before, last)
	}
	return q.Paginate(ctx, after, first, before, last, ent.WithTicketOrder(o))
}

// PageByDue pages q by (due date, id), a ticket without a due date after
// every dated one ascending (before, descending), on both databases:
// keyset pagination over the order, which entgql's cursors cannot take (a
// NULL value). The ticket list (orderBy DUE_AT) and the task list use it;
// its cursors carry the due date (none for an undated ticket), as the
// DUE_AT ordering's cursors are checked (graph/scalar).
func PageByDue(ctx context.Context, q *ent.TicketQuery, desc bool, after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.TicketConnection, error) {
	if first != nil && last != nil {
		return nil, errs.Invalid("last", "cannot be given with first")
	}
	n := MaxPage
	backward := last != nil
	for _, p := range []*int{first, last} {
		if p != nil {
			if *p < 0 || *p > MaxPage {
				return nil, errs.Invalid("first", "must be 0 to %d", MaxPage)
			}
			n = *p
		}
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, err
	}
	// Walking backward is walking the reverse order forward.
	rev := desc != backward
	if after != nil {
		q.Where(beyond(after, desc))
	}
	if before != nil {
		q.Where(beyond(before, !desc))
	}
	q.Order(func(s *sql.Selector) {
		due, id := s.C(ticket.FieldDueAt), s.C(ticket.FieldID)
		if rev {
			s.OrderExpr(sql.Expr(due+" IS NULL DESC")).OrderBy(sql.Desc(due), sql.Desc(id))
		} else {
			s.OrderExpr(sql.Expr(due+" IS NULL")).OrderBy(sql.Asc(due), sql.Asc(id))
		}
	})
	nodes, err := q.Limit(n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	more := len(nodes) > n
	if more {
		nodes = nodes[:n]
	}
	if backward {
		for i, j := 0, len(nodes)-1; i < j; i, j = i+1, j-1 {
			nodes[i], nodes[j] = nodes[j], nodes[i]
		}
	}
	conn := &ent.TicketConnection{TotalCount: total, Edges: make([]*ent.TicketEdge, len(nodes))}
	for i, t := range nodes {
		c := entgql.Cursor[int]{ID: t.ID}
		if t.DueAt != nil {
			c.Value = *t.DueAt
		}
		conn.Edges[i] = &ent.TicketEdge{Node: t, Cursor: c}
	}
	if backward {
		conn.PageInfo.HasPreviousPage = more
		conn.PageInfo.HasNextPage = before != nil
	} else {
		conn.PageInfo.HasNextPage = more
		conn.PageInfo.HasPreviousPage = after != nil
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, nil
}

// beyond selects the tickets after c in the due order (desc: the
// descending one), where tickets without a due date come last ascending.
func beyond(c *entgql.Cursor[int], desc bool) func(*sql.Selector) {
	return func(s *sql.Selector) {
		due, id := s.C(ticket.FieldDueAt), s.C(ticket.FieldID)
		v, dated := c.Value.(time.Time)
		v = v.UTC() // stored in UTC (SQLite compares text)
		switch {
		case !desc && dated:
			s.Where(sql.Or(sql.IsNull(due), sql.GT(due, v), sql.And(sql.EQ(due, v), sql.GT(id, c.ID))))
		case !desc:
			s.Where(sql.And(sql.IsNull(due), sql.GT(id, c.ID)))
		case dated:
			s.Where(sql.Or(sql.LT(due, v), sql.And(sql.EQ(due, v), sql.LT(id, c.ID))))
		default:
			s.Where(sql.Or(sql.NotNull(due), sql.And(sql.IsNull(due), sql.LT(id, c.ID))))
		}
	}
}
