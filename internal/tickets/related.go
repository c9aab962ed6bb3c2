package tickets

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/viewer"
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
// RelatedTicketConnection); its counts are read only when asked for, all
// in one statement whether totalCount, counts or both are.
type RelatedPage struct {
	Edges    []*ent.TicketEdge
	PageInfo entgql.PageInfo[int]
	by       []RelatedBy
	count    func(ctx context.Context) (relatedCounts, error)

	once   sync.Once
	counts relatedCounts
	err    error
}

// relatedCounts are the related tickets, each once, and per pivot.
type relatedCounts struct {
	total int
	per   map[RelatedBy]int
}

func (p *RelatedPage) read(ctx context.Context) (relatedCounts, error) {
	if p.count == nil {
		return relatedCounts{}, nil
	}
	p.once.Do(func() { p.counts, p.err = p.count(ctx) })
	return p.counts, p.err
}

// TotalCount is the number of related tickets, each once.
func (p *RelatedPage) TotalCount(ctx context.Context) (int, error) {
	c, err := p.read(ctx)
	return c.total, err
}

// Counts is the number of related tickets per pivot, in the order asked.
func (p *RelatedPage) Counts(ctx context.Context) ([]*RelatedCount, error) {
	c, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*RelatedCount, 0, len(p.by))
	for _, by := range p.by {
		out = append(out, &RelatedCount{By: by, Count: c.per[by]})
	}
	return out, nil
}

// keyOf is one pivot's key column and t's key in it (nil: t has none).
func keyOf(t *ent.Ticket, by RelatedBy) (string, *string) {
	switch by {
	case BySourceIP:
		return ticket.FieldSrcIPKey, t.SrcIPKey
	case ByDestinationIP:
		return ticket.FieldDstIPKey, t.DstIPKey
	case ByHost:
		return ticket.FieldHostKey, t.HostKey
	}
	return "", nil
}

// Related returns a page of the tickets older than t (smaller ids) that
// share its key of one of the pivots by (all when empty), newest first,
// after the ticket id after (exclusive; 0 for the first page). The client's
// viewer scopes every query (the data layer's policy), counts included.
//
// The page is one statement: each pivot read on its own (key, id) index,
// newest first, at most a page past after and within the viewer's sites,
// the three merged by a UNION whose ids select the page's tickets (an OR
// of the three would let the planner scan the primary key or sort every
// match); the three short index ranges cost the same whatever the number
// of tickets sharing a key, on both databases. totalCount and the counts
// per pivot are one more, when asked for.
func Related(ctx context.Context, client *ent.Client, t *ent.Ticket, by []RelatedBy, firstArg *int, after *entgql.Cursor[int]) (*RelatedPage, error) {
	if firstArg == nil || *firstArg < 0 || *firstArg > MaxRelatedPage {
		return nil, errs.Invalid("first", "is required, between 0 and %d", MaxRelatedPage)
	}
	first := *firstArg
	if len(by) == 0 {
		by = Pivots
	}
	var ordered []RelatedBy // each once, in the order asked
	for _, b := range by {
		if !slices.Contains(ordered, b) {
			ordered = append(ordered, b)
		}
	}
	below := t.ID
	if after != nil && after.ID < below {
		below = after.ID
	}
	page := &RelatedPage{by: ordered, PageInfo: entgql.PageInfo[int]{HasPreviousPage: after != nil}}
	var keyed []RelatedBy
	for _, b := range ordered {
		if _, key := keyOf(t, b); key != nil {
			keyed = append(keyed, b)
		}
	}
	if len(keyed) == 0 {
		page.Edges = []*ent.TicketEdge{}
		return page, nil
	}
	page.count = func(ctx context.Context) (relatedCounts, error) { return countRelated(ctx, client, t, keyed) }
	if first == 0 {
		page.Edges = []*ent.TicketEdge{}
		return page, nil
	}
	// Paginate loads the page's tickets with what the operation selects
	// of them (field collection), one more to tell whether a page follows.
	conn, err := client.Ticket.Query().Where(newestSharing(ctx, t, keyed, below, first+1)).
		Paginate(ctx, nil, &first, nil, nil, ent.WithTicketOrder(newestByNumber))
	if err != nil {
		return nil, err
	}
	page.Edges = conn.Edges
	page.PageInfo.HasNextPage = conn.PageInfo.HasNextPage
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

// newestSharing selects the tickets among the limit newest below id below
// sharing t's key of each pivot, within the viewer's sites (the same rule
// as the data layer's, which the outer query applies too: the inner reads
// must skip what the viewer may not see, or a page would come short).
func newestSharing(ctx context.Context, t *ent.Ticket, pivots []RelatedBy, below, limit int) predicate.Ticket {
	var scope predicate.Ticket
	if v := viewer.FromContext(ctx); v != nil {
		scope = authz.ScopeOf(v).TicketWhere()
	}
	return func(s *sql.Selector) {
		var union *sql.Selector
		for i, b := range pivots {
			col, key := keyOf(t, b)
			inner := sql.Dialect(s.Dialect()).Select(ticket.FieldID).From(sql.Table(ticket.Table))
			inner.Where(sql.And(sql.EQ(inner.C(col), *key), sql.LT(inner.C(ticket.FieldID), below))).
				OrderBy(sql.Desc(inner.C(ticket.FieldID))).Limit(limit)
			if scope != nil {
				scope(inner)
			}
			member := sql.Dialect(s.Dialect()).Select(ticket.FieldID).From(inner.As(fmt.Sprintf("pivot%d", i)))
			if union == nil {
				union = member
			} else {
				union.Union(member)
			}
		}
		s.Where(sql.In(s.C(ticket.FieldID), union))
	}
}

// countRelated counts the tickets older than t sharing its key of one of
// the pivots, each once, and per pivot, in one statement (conditional
// sums over the pivots' index ranges), scoped by the data layer's policy.
func countRelated(ctx context.Context, client *ent.Client, t *ent.Ticket, pivots []RelatedBy) (relatedCounts, error) {
	or := make([]predicate.Ticket, len(pivots))
	for i, b := range pivots {
		col, key := keyOf(t, b)
		or[i] = sql.FieldEQ(col, *key)
	}
	var out []struct {
		Total int `json:"total"`
		C0    int `json:"c0"`
		C1    int `json:"c1"`
		C2    int `json:"c2"`
	}
	err := client.Ticket.Query().Where(ticket.IDLT(t.ID), ticket.Or(or...)).Modify(func(s *sql.Selector) {
		s.Select()
		s.AppendSelectExprAs(sql.Raw("COUNT(*)"), "total")
		for i, b := range pivots {
			col, key := keyOf(t, b)
			s.AppendSelectExprAs(sql.P(func(bd *sql.Builder) {
				bd.WriteString("COALESCE(SUM(CASE WHEN ").WriteString(s.C(col)).WriteOp(sql.OpEQ).Arg(*key).WriteString(" THEN 1 ELSE 0 END), 0)")
			}), fmt.Sprintf("c%d", i))
		}
	}).Scan(ctx, &out)
	if err != nil {
		return relatedCounts{}, err
	}
	c := relatedCounts{per: map[RelatedBy]int{}}
	if len(out) == 1 {
		c.total = out[0].Total
		for i, b := range pivots {
			c.per[b] = [...]int{out[0].C0, out[0].C1, out[0].C2}[i]
		}
	}
	return c, nil
}
