package tickets

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
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
// filter given must hold; a list filter holds when any of its values does (an
// empty list matches nothing). Every field is one row of criteria.
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

// criterion is one filter of the ticket list: whether it is given, how it is
// validated, its SQL predicate and its match in memory (for the live hub),
// side by side so that the two halves say the same. filter_test checks, on
// both databases, that they select the same tickets, and that every field of
// Filter has its row.
type criterion struct {
	field    string // the Filter field, and (lower-cased first) the GraphQL one
	given    func(*Filter) bool
	validate func(*Filter) error // nil: nothing beyond a list's bound
	sql      func(*Filter) predicate.Ticket
	match    func(*Filter, Snapshot) bool
}

// criteria are the rows of the filter, in the order they are checked.
var criteria = []criterion{
	{
		field: "CreatedFrom",
		given: func(f *Filter) bool { return f.CreatedFrom != nil },
		sql:   func(f *Filter) predicate.Ticket { return ticket.CreatedAtGTE(bound(*f.CreatedFrom)) },
		match: func(f *Filter, s Snapshot) bool { return !s.CreatedAt.Before(bound(*f.CreatedFrom)) },
	},
	{
		field: "CreatedTo",
		given: func(f *Filter) bool { return f.CreatedTo != nil },
		validate: func(f *Filter) error {
			if f.CreatedFrom != nil && f.CreatedTo.Before(*f.CreatedFrom) {
				return errs.Invalid("filter.createdTo", "must not be before createdFrom")
			}
			return nil
		},
		sql:   func(f *Filter) predicate.Ticket { return ticket.CreatedAtLT(bound(*f.CreatedTo)) },
		match: func(f *Filter, s Snapshot) bool { return s.CreatedAt.Before(bound(*f.CreatedTo)) },
	},
	oneOf("Sites", func(f *Filter) []int { return f.Sites }, ticket.SiteIDIn, func(s Snapshot) int { return s.SiteID }),
	oneOf("Categories", func(f *Filter) []int { return f.Categories }, ticket.CategoryIDIn, func(s Snapshot) int { return s.CategoryID }),
	oneOf("Priorities", func(f *Filter) []ticket.Priority { return f.Priorities }, ticket.PriorityIn, func(s Snapshot) ticket.Priority { return s.Priority }),
	oneOf("Statuses", func(f *Filter) []ticket.Status { return f.Statuses }, ticket.StatusIn, func(s Snapshot) ticket.Status { return s.Status }),
	oneOf("Origins", func(f *Filter) []ticket.Origin { return f.Origins }, ticket.OriginIn, func(s Snapshot) ticket.Origin { return s.Origin }),
	// People and tags are matched on the join tables alone (indexed by the
	// other side), without joining users or tags.
	anyOf("Assignees", func(f *Filter) []int { return f.Assignees },
		ticketassignee.Table, ticketassignee.TicketColumn, ticketassignee.UserColumn, func(s Snapshot) []int { return s.Assignees }),
	anyOf("Approvers", func(f *Filter) []int { return f.Approvers },
		ticketapprover.Table, ticketapprover.TicketColumn, ticketapprover.UserColumn, func(s Snapshot) []int { return s.Approvers }),
	anyOf("Tags", func(f *Filter) []int { return f.Tags },
		tickettag.Table, tickettag.TicketColumn, tickettag.TagColumn, func(s Snapshot) []int { return s.Tags }),
	{
		field:    "AttackVerdicts",
		given:    func(f *Filter) bool { return f.AttackVerdicts != nil },
		validate: func(f *Filter) error { return maxValues("AttackVerdicts", len(f.AttackVerdicts)) },
		sql: func(f *Filter) predicate.Ticket {
			or := []predicate.Ticket{nothing}
			for _, v := range f.AttackVerdicts {
				if v == VerdictUnset {
					or = append(or, ticket.AttackVerdictIsNil())
				} else {
					or = append(or, ticket.AttackVerdictEQ(ticket.AttackVerdict(v)))
				}
			}
			return ticket.Or(or...)
		},
		match: func(f *Filter, s Snapshot) bool {
			return slices.ContainsFunc(f.AttackVerdicts, func(v AttackVerdictFilter) bool {
				if v == VerdictUnset {
					return s.AttackVerdict == nil
				}
				return s.AttackVerdict != nil && string(*s.AttackVerdict) == string(v)
			})
		},
	},
	{
		field: "Incident",
		given: func(f *Filter) bool { return f.Incident != nil },
		sql:   func(f *Filter) predicate.Ticket { return ticket.Incident(*f.Incident) },
		match: func(f *Filter, s Snapshot) bool { return s.Incident == *f.Incident },
	},
	{
		// The keyword is found in the title or the body, whatever the case:
		// both halves lower-case with Go's strings.ToLower (see containsFold).
		field: "Keyword",
		given: func(f *Filter) bool { return f.Keyword != nil },
		validate: func(f *Filter) error {
			k := *f.Keyword
			switch n := utf8.RuneCountInString(k); {
			case n == 0 || n > MaxKeywordLength:
				return errs.Invalid("filter.keyword", "must be 1 to %d characters", MaxKeywordLength)
			case !utf8.ValidString(k):
				return errs.Invalid("filter.keyword", "must be valid UTF-8")
			case strings.ContainsRune(k, 0):
				return errs.Invalid("filter.keyword", "must not contain NUL (U+0000)")
			}
			return nil
		},
		sql: func(f *Filter) predicate.Ticket {
			k := strings.ToLower(*f.Keyword)
			return ticket.Or(containsFold(ticket.FieldTitle, k), containsFold(ticket.FieldBody, k))
		},
		match: func(f *Filter, s Snapshot) bool {
			k := strings.ToLower(*f.Keyword)
			return strings.Contains(strings.ToLower(s.Title), k) || strings.Contains(strings.ToLower(s.Body), k)
		},
	},
}

// Predicates validates f and returns the predicates it stands for.
func (f *Filter) Predicates() ([]predicate.Ticket, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.Ticket
	for _, c := range criteria {
		if !c.given(f) {
			continue
		}
		if c.validate != nil {
			if err := c.validate(f); err != nil {
				return nil, err
			}
		}
		ps = append(ps, c.sql(f))
	}
	return ps, nil
}

// Matches reports whether a ticket in state s passes the filter: the same
// criteria as Predicates, evaluated in memory. f must have been validated.
func (f *Filter) Matches(s Snapshot) bool {
	if f == nil {
		return true
	}
	for _, c := range criteria {
		if c.given(f) && !c.match(f, s) {
			return false
		}
	}
	return true
}

// bound is a time bound as both halves compare it: in UTC (the offset times
// are stored in; SQLite compares them as text) and to the microsecond
// (PostgreSQL's precision, which would round a finer parameter).
func bound(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func maxValues(field string, n int) error {
	if n > MaxFilterValues {
		return errs.Invalid("filter."+strings.ToLower(field[:1])+field[1:], "at most %d values", MaxFilterValues)
	}
	return nil
}

// oneOf is the criterion of a list filter on a column of the ticket: the
// ticket's value (val) must be one of the list's.
func oneOf[T comparable](field string, list func(*Filter) []T, in func(...T) predicate.Ticket, val func(Snapshot) T) criterion {
	return criterion{
		field:    field,
		given:    func(f *Filter) bool { return list(f) != nil },
		validate: func(f *Filter) error { return maxValues(field, len(list(f))) },
		sql:      func(f *Filter) predicate.Ticket { return in(list(f)...) },
		match:    func(f *Filter, s Snapshot) bool { return slices.Contains(list(f), val(s)) },
	}
}

// anyOf is the criterion of a list filter on a join table of the ticket's:
// one of the ticket's ids (vals) must be one of the list's.
func anyOf(field string, list func(*Filter) []int, table, ticketCol, otherCol string, vals func(Snapshot) []int) criterion {
	return criterion{
		field:    field,
		given:    func(f *Filter) bool { return list(f) != nil },
		validate: func(f *Filter) error { return maxValues(field, len(list(f))) },
		sql:      func(f *Filter) predicate.Ticket { return inJoin(table, ticketCol, otherCol, list(f)) },
		match: func(f *Filter, s Snapshot) bool {
			want := list(f)
			return slices.ContainsFunc(vals(s), func(id int) bool { return slices.Contains(want, id) })
		},
	}
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

// containsFold is the keyword's SQL on one column: the lower-cased column
// contains k, lower-cased already (by strings.ToLower, as the memory half).
//
// SQLite: lower() is strings.ToLower itself (package store registers it),
// and instr() finds k as it is, so this is the memory half exactly.
// PostgreSQL: ILIKE, which the column's trigram index serves, lower-cases
// both sides with the server locale's lower(). Where that maps letters as Go
// does (C.UTF-8, en_US.UTF-8 and the like: filter_test checks the server it
// runs on), the halves agree; a server whose locale folds otherwise (C or
// POSIX fold ASCII letters only, a Turkish one maps I to dotless ı) selects
// fewer non-ASCII matches than the live stream: the residual difference.
func containsFold(col, k string) predicate.Ticket {
	return func(s *sql.Selector) {
		c := s.C(col)
		if s.Dialect() == dialect.Postgres {
			s.Where(sql.P(func(b *sql.Builder) { b.WriteString(c).WriteString(" ILIKE ").Arg("%" + escapeLike(k) + "%") }))
			return
		}
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("instr(lower(").WriteString(c).WriteString("), ").Arg(k).WriteString(") > 0")
		}))
	}
}

// escapeLike escapes LIKE's wildcards (and its escape character, the
// backslash) in s.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
