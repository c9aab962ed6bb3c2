package tickets

import (
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketapprover"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/tickettag"
	"socdesk/internal/errs"
)

// DefaultOrder is the ticket list's order when none is given: newest first.
var DefaultOrder = &ent.TicketOrder{Field: ent.TicketOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}

// AttackVerdictFilter selects tickets by attack verdict; UNSET selects those
// without one.
type AttackVerdictFilter string

// The values of AttackVerdictFilter.
const (
	VerdictTruePositive  AttackVerdictFilter = "TRUE_POSITIVE"
	VerdictFalsePositive AttackVerdictFilter = "FALSE_POSITIVE"
	VerdictUnset         AttackVerdictFilter = "UNSET"
)

// Filter holds the filters of the ticket list (GraphQL TicketFilter). Each
// filter given must hold; a list filter holds when any of its values does.
type Filter struct {
	CreatedFrom    *time.Time
	CreatedTo      *time.Time
	Sites          []int
	Categories     []int
	Priorities     []ticket.Priority
	Statuses       []ticket.Status
	Assignees      []int
	Approvers      []int
	Origins        []ticket.Origin
	Tags           []int
	AttackVerdicts []AttackVerdictFilter
	Incident       *bool
	Keyword        *string
}

// Bounds of a filter.
const (
	MaxFilterValues  = 100
	MaxKeywordLength = 200
)

// Predicates validates f and returns the predicates it stands for.
func (f *Filter) Predicates() ([]predicate.Ticket, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.Ticket
	for name, n := range map[string]int{
		"sites": len(f.Sites), "categories": len(f.Categories), "priorities": len(f.Priorities),
		"statuses": len(f.Statuses), "assignees": len(f.Assignees), "approvers": len(f.Approvers),
		"origins": len(f.Origins), "tags": len(f.Tags), "attackVerdicts": len(f.AttackVerdicts),
	} {
		if n > MaxFilterValues {
			return nil, errs.Invalid("filter."+name, "at most %d values", MaxFilterValues)
		}
	}
	// Times are compared in UTC, the offset they are stored in (SQLite
	// compares them as text).
	if f.CreatedFrom != nil {
		ps = append(ps, ticket.CreatedAtGTE(f.CreatedFrom.UTC()))
	}
	if f.CreatedTo != nil {
		if f.CreatedFrom != nil && f.CreatedTo.Before(*f.CreatedFrom) {
			return nil, errs.Invalid("filter.createdTo", "must not be before createdFrom")
		}
		ps = append(ps, ticket.CreatedAtLT(f.CreatedTo.UTC()))
	}
	if f.Sites != nil {
		ps = append(ps, ticket.SiteIDIn(f.Sites...))
	}
	if f.Categories != nil {
		ps = append(ps, ticket.CategoryIDIn(f.Categories...))
	}
	if f.Priorities != nil {
		ps = append(ps, ticket.PriorityIn(f.Priorities...))
	}
	if f.Statuses != nil {
		ps = append(ps, ticket.StatusIn(f.Statuses...))
	}
	if f.Origins != nil {
		ps = append(ps, ticket.OriginIn(f.Origins...))
	}
	// People and tags are matched on the join tables alone (indexed by the
	// other side), without joining users or tags.
	if f.Assignees != nil {
		ps = append(ps, inJoin(ticketassignee.Table, ticketassignee.TicketColumn, ticketassignee.UserColumn, f.Assignees))
	}
	if f.Approvers != nil {
		ps = append(ps, inJoin(ticketapprover.Table, ticketapprover.TicketColumn, ticketapprover.UserColumn, f.Approvers))
	}
	if f.Tags != nil {
		ps = append(ps, inJoin(tickettag.Table, tickettag.TicketColumn, tickettag.TagColumn, f.Tags))
	}
	if f.AttackVerdicts != nil {
		or := []predicate.Ticket{nothing} // an empty list matches nothing
		for _, v := range f.AttackVerdicts {
			if v == VerdictUnset {
				or = append(or, ticket.AttackVerdictIsNil())
			} else {
				or = append(or, ticket.AttackVerdictEQ(ticket.AttackVerdict(v)))
			}
		}
		ps = append(ps, ticket.Or(or...))
	}
	if f.Incident != nil {
		ps = append(ps, ticket.Incident(*f.Incident))
	}
	if f.Keyword != nil {
		k := *f.Keyword
		if n := utf8.RuneCountInString(k); n == 0 || n > MaxKeywordLength {
			return nil, errs.Invalid("filter.keyword", "must be 1 to %d characters", MaxKeywordLength)
		}
		ps = append(ps, ticket.Or(ticket.TitleContainsFold(k), ticket.BodyContainsFold(k)))
	}
	return ps, nil
}

// nothing is a predicate no ticket satisfies.
func nothing(s *sql.Selector) { s.Where(sql.False()) }

// inJoin matches tickets with a row in a join table whose other column is
// one of ids. An empty ids matches nothing.
func inJoin(table, ticketCol, otherCol string, ids []int) predicate.Ticket {
	return func(s *sql.Selector) {
		if len(ids) == 0 {
			nothing(s)
			return
		}
		j := sql.Table(table)
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		s.Where(sql.In(s.C(ticket.FieldID),
			sql.Select(j.C(ticketCol)).From(j).Where(sql.In(j.C(otherCol), args...))))
	}
}
