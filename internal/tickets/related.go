package tickets

import (
	"context"
	"slices"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
)

// RelatedBy is a pivot of related tickets (GraphQL RelatedBy): what an
// earlier ticket shares with the ticket.
type RelatedBy string

// The pivots.
const (
	BySourceIP      RelatedBy = "SOURCE_IP"
	ByDestinationIP RelatedBy = "DESTINATION_IP"
	ByHost          RelatedBy = "HOST"
)

// Pivots are every pivot, the default of Related.
var Pivots = []RelatedBy{BySourceIP, ByDestinationIP, ByHost}

// MaxRelatedPage bounds a page of related tickets.
const MaxRelatedPage = 100

// RelatedCount is how many related tickets share one pivot.
type RelatedCount struct {
	By    RelatedBy
	Count int
}

// RelatedPage is a page of related tickets (GraphQL
// RelatedTicketConnection); its counts are read only when asked for.
type RelatedPage struct {
	Edges    []*ent.TicketEdge
	PageInfo entgql.PageInfo[int]
	count    func(ctx context.Context, by []RelatedBy) (int, error)
	by       []RelatedBy
}

// TotalCount is the number of related tickets, each once.
func (p *RelatedPage) TotalCount(ctx context.Context) (int, error) {
	if p.count == nil {
		return 0, nil
	}
	return p.count(ctx, p.by)
}

// Counts is the number of related tickets per pivot, in the order asked.
func (p *RelatedPage) Counts(ctx context.Context) ([]*RelatedCount, error) {
	out := make([]*RelatedCount, 0, len(p.by))
	for _, by := range p.by {
		n := 0
		if p.count != nil {
			var err error
			if n, err = p.count(ctx, []RelatedBy{by}); err != nil {
				return nil, err
			}
		}
		out = append(out, &RelatedCount{By: by, Count: n})
	}
	return out, nil
}

// pivot is one pivot's condition for t: its key column equals t's key;
// nil when t has no such key.
func pivot(t *ent.Ticket, by RelatedBy) predicate.Ticket {
	switch by {
	case BySourceIP:
		if t.SrcIPKey != nil {
			return ticket.SrcIPKey(*t.SrcIPKey)
		}
	case ByDestinationIP:
		if t.DstIPKey != nil {
			return ticket.DstIPKey(*t.DstIPKey)
		}
	case ByHost:
		if t.HostKey != nil {
			return ticket.HostKey(*t.HostKey)
		}
	}
	return nil
}

// Related returns a page of the tickets older than t (smaller ids) that
// share its key of one of the pivots by (all when empty), newest first,
// after the ticket id after (exclusive; 0 for the first page). The client's
// viewer scopes every query (the data layer's policy), counts included.
//
// Each pivot is read on its own (key, id) index, newest first, at most a
// page past after, and the lists are merged: the page costs three short
// index ranges whatever the number of tickets sharing a key, on both
// databases (an OR of the three would let the planner scan the primary key
// or sort every match).
func Related(ctx context.Context, client *ent.Client, t *ent.Ticket, by []RelatedBy, firstArg *int, after *entgql.Cursor[int]) (*RelatedPage, error) {
	if firstArg == nil || *firstArg < 0 || *firstArg > MaxRelatedPage {
		return nil, errs.Invalid("first", "is required, between 0 and %d", MaxRelatedPage)
	}
	first := *firstArg
	if len(by) == 0 {
		by = Pivots
	}
	var pivots []RelatedBy
	for _, b := range Pivots { // each once, in the order asked below
		if slices.Contains(by, b) {
			pivots = append(pivots, b)
		}
	}
	ordered := make([]RelatedBy, 0, len(by))
	for _, b := range by {
		if !slices.Contains(ordered, b) {
			ordered = append(ordered, b)
		}
	}
	below := t.ID
	if after != nil && after.ID < below {
		below = after.ID
	}
	page := &RelatedPage{by: ordered, count: func(ctx context.Context, by []RelatedBy) (int, error) {
		or := pivotsOf(t, by)
		if len(or) == 0 {
			return 0, nil
		}
		return client.Ticket.Query().Where(ticket.IDLT(t.ID), ticket.Or(or...)).Count(ctx)
	}}
	var ids []int
	for _, b := range pivots {
		p := pivot(t, b)
		if p == nil || first == 0 {
			continue
		}
		some, err := client.Ticket.Query().Where(p, ticket.IDLT(below)).
			Order(ticket.ByID(sql.OrderDesc())).Limit(first + 1).IDs(ctx)
		if err != nil {
			return nil, err
		}
		ids = append(ids, some...)
	}
	slices.SortFunc(ids, func(a, b int) int { return b - a })
	ids = slices.Compact(ids)
	if len(ids) > first {
		ids = ids[:first]
		page.PageInfo.HasNextPage = true
	}
	page.PageInfo.HasPreviousPage = after != nil
	if len(ids) == 0 {
		page.Edges = []*ent.TicketEdge{}
		return page, nil
	}
	// Paginate loads the page's tickets with what the operation selects
	// of them (field collection); the page itself is the one built here.
	n := len(ids)
	conn, err := client.Ticket.Query().Where(ticket.IDIn(ids...)).
		Paginate(ctx, nil, &n, nil, nil, ent.WithTicketOrder(newestByNumber))
	if err != nil {
		return nil, err
	}
	page.Edges = conn.Edges
	for _, e := range page.Edges {
		e.Cursor = entgql.Cursor[int]{ID: e.Node.ID}
	}
	if len(page.Edges) > 0 {
		page.PageInfo.StartCursor = &page.Edges[0].Cursor
		page.PageInfo.EndCursor = &page.Edges[len(page.Edges)-1].Cursor
	}
	return page, nil
}

var newestByNumber = &ent.TicketOrder{Field: ent.TicketOrderFieldID, Direction: entgql.OrderDirectionDesc}

func pivotsOf(t *ent.Ticket, by []RelatedBy) []predicate.Ticket {
	var or []predicate.Ticket
	for _, b := range by {
		if p := pivot(t, b); p != nil {
			or = append(or, p)
		}
	}
	return or
}
