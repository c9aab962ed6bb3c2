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
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketapprover"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketcitation"
	"socdesk/ent/tickettag"
	"socdesk/ent/ticketwatcher"
	"socdesk/internal/errs"
	"socdesk/internal/netkey"
	"socdesk/internal/sla"
	"socdesk/internal/workflow"
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
	CreatedFrom *time.Time
	CreatedTo   *time.Time
	Sites       []int
	Categories  []int
	Priorities  []ticket.Priority
	Statuses    []ticket.Status
	Assignees   []int
	Approvers   []int
	Origins     []ticket.Origin
	Tags        []int
	// Policies: tickets citing any of these compliance policies.
	Policies       []int
	AttackVerdicts []AttackVerdictFilter
	Incident       *bool
	Keyword        *string
	// IPs or CIDR prefixes the detection's source (destination) IP is one
	// of or in; hosts matched whatever their case (package netkey).
	SourceIPs      []string
	DestinationIPs []string
	Hosts          []string
	// The ticket's explanation status (its latest request's); a ticket
	// without a request matches none.
	ExplanationStatuses []schematype.ExplanationStatus
	// Kinds: the ticket list and stream exclude tasks unless asked
	// (WithoutTasks), the task list selects them alone (OnlyTasks).
	Kinds []ticket.Kind
	// Watchers: users one of whom watches the ticket.
	Watchers []int
	// The due date's bounds: from inclusive, to exclusive; a ticket
	// without a due date matches neither.
	DueFrom *time.Time
	DueTo   *time.Time
	// Overdue: whether the ticket is open past its due date at At (the
	// request's time).
	Overdue *Overdue
	// Schedules: the task schedules that generated the tasks.
	Schedules []int
	// RegisteredBy: the users one of whom created the ticket (its
	// registrant; a ticket a detection rule or the system opened has none).
	RegisteredBy []int
	// SLAStates: tickets in one of these SLA states at its At (package
	// sla's rule); the dues' bounds: from inclusive, to exclusive, a ticket
	// without the due matching neither.
	SLAStates         *SLAStates
	ResponseDueFrom   *time.Time
	ResponseDueTo     *time.Time
	ResolutionDueFrom *time.Time
	ResolutionDueTo   *time.Time
}

// SLAStates selects the tickets in one of States at At (the request's
// time): an empty list matches nothing.
type SLAStates struct {
	States []schematype.SLAState
	At     time.Time
}

// Overdue selects the tickets overdue (or not, Is false) at At: a ticket
// or a task is overdue while unresolved (workflow.ResolvedStatuses: a
// task's OPEN) past its due date.
type Overdue struct {
	Is bool
	At time.Time
}

// SetOverdue sets the Overdue filter of GraphQL's overdue (nil: none) as of
// at (the request's time).
func (f *Filter) SetOverdue(is *bool, at time.Time) error {
	f.Overdue = nil
	if is != nil {
		f.Overdue = &Overdue{Is: *is, At: at}
	}
	return nil
}

// IsOverdue reports whether a ticket of status with due date due is overdue at.
func IsOverdue(status ticket.Status, due *time.Time, at time.Time) bool {
	return !workflow.IsResolved(status) && due != nil && due.Before(bound(at))
}

// WithoutTasks is f (a copy) selecting no tasks, unless it names kinds
// itself: the ticket list's and stream's default.
func WithoutTasks(f *Filter) *Filter {
	g := Filter{}
	if f != nil {
		g = *f
	}
	if g.Kinds == nil {
		g.Kinds = []ticket.Kind{ticket.KindANALYSIS, ticket.KindDETECTION}
	}
	return &g
}

// OnlyTasks is f (a copy) selecting tasks alone.
func OnlyTasks(f *Filter) *Filter {
	g := Filter{}
	if f != nil {
		g = *f
	}
	g.Kinds = []ticket.Kind{ticket.KindTASK}
	return &g
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
	// A ticket without a request has no status ("" in memory, NULL in SQL),
	// which no value of the list is.
	oneOf("ExplanationStatuses", func(f *Filter) []schematype.ExplanationStatus { return f.ExplanationStatuses },
		ticket.ExplanationStatusIn, func(s Snapshot) schematype.ExplanationStatus { return s.ExplanationStatus }),
	// The IPs and hosts are matched on their keys (package netkey), which
	// the tickets' (key, id) indexes serve: an IP or a prefix is one range.
	inRanges("SourceIPs", func(f *Filter) []string { return f.SourceIPs }, ticket.FieldSrcIPKey, func(s Snapshot) string { return s.SrcIPKey }),
	inRanges("DestinationIPs", func(f *Filter) []string { return f.DestinationIPs }, ticket.FieldDstIPKey, func(s Snapshot) string { return s.DstIPKey }),
	{
		field: "Hosts",
		given: func(f *Filter) bool { return f.Hosts != nil },
		validate: func(f *Filter) error {
			if err := maxValues("Hosts", len(f.Hosts)); err != nil {
				return err
			}
			for _, h := range f.Hosts {
				if _, ok := netkey.HostKey(h); !ok || utf8.RuneCountInString(h) > schematype.MaxHostLength || !utf8.ValidString(h) {
					return errs.Invalid("filter.hosts", "each host must be 1 to %d characters of valid UTF-8", schematype.MaxHostLength)
				}
			}
			return nil
		},
		sql: func(f *Filter) predicate.Ticket { return ticket.HostKeyIn(hostKeys(f.Hosts)...) },
		match: func(f *Filter, s Snapshot) bool {
			return s.HostKey != "" && slices.Contains(hostKeys(f.Hosts), s.HostKey)
		},
	},
	// People and tags are matched on the join tables alone (indexed by the
	// other side), without joining users or tags.
	anyOf("Assignees", func(f *Filter) []int { return f.Assignees },
		ticketassignee.Table, ticketassignee.TicketColumn, ticketassignee.UserColumn, func(s Snapshot) []int { return s.Assignees }),
	anyOf("Approvers", func(f *Filter) []int { return f.Approvers },
		ticketapprover.Table, ticketapprover.TicketColumn, ticketapprover.UserColumn, func(s Snapshot) []int { return s.Approvers }),
	anyOf("Tags", func(f *Filter) []int { return f.Tags },
		tickettag.Table, tickettag.TicketColumn, tickettag.TagColumn, func(s Snapshot) []int { return s.Tags }),
	anyOf("Policies", func(f *Filter) []int { return f.Policies },
		ticketcitation.Table, ticketcitation.FieldTicketID, ticketcitation.FieldCompliancePolicyID, func(s Snapshot) []int { return s.Policies }),
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
	oneOf("Kinds", func(f *Filter) []ticket.Kind { return f.Kinds }, ticket.KindIn, func(s Snapshot) ticket.Kind { return s.Kind }),
	anyOf("Watchers", func(f *Filter) []int { return f.Watchers },
		ticketwatcher.Table, ticketwatcher.TicketColumn, ticketwatcher.UserColumn, func(s Snapshot) []int { return s.Watchers }),
	{
		field: "DueFrom",
		given: func(f *Filter) bool { return f.DueFrom != nil },
		sql:   func(f *Filter) predicate.Ticket { return ticket.DueAtGTE(bound(*f.DueFrom)) },
		match: func(f *Filter, s Snapshot) bool { return s.DueAt != nil && !s.DueAt.Before(bound(*f.DueFrom)) },
	},
	{
		field: "DueTo",
		given: func(f *Filter) bool { return f.DueTo != nil },
		validate: func(f *Filter) error {
			if f.DueFrom != nil && f.DueTo.Before(*f.DueFrom) {
				return errs.Invalid("filter.dueTo", "must not be before dueFrom")
			}
			return nil
		},
		sql:   func(f *Filter) predicate.Ticket { return ticket.DueAtLT(bound(*f.DueTo)) },
		match: func(f *Filter, s Snapshot) bool { return s.DueAt != nil && s.DueAt.Before(bound(*f.DueTo)) },
	},
	{
		field: "Overdue",
		given: func(f *Filter) bool { return f.Overdue != nil },
		sql: func(f *Filter) predicate.Ticket {
			p := ticket.And(ticket.StatusNotIn(workflow.ResolvedStatuses...), ticket.DueAtNotNil(), ticket.DueAtLT(bound(f.Overdue.At)))
			if f.Overdue.Is {
				return p
			}
			return ticket.Not(p)
		},
		match: func(f *Filter, s Snapshot) bool { return IsOverdue(s.Status, s.DueAt, f.Overdue.At) == f.Overdue.Is },
	},
	{
		field:    "Schedules",
		given:    func(f *Filter) bool { return f.Schedules != nil },
		validate: func(f *Filter) error { return maxValues("Schedules", len(f.Schedules)) },
		sql: func(f *Filter) predicate.Ticket {
			if len(f.Schedules) == 0 {
				return nothing
			}
			return ticket.ScheduleIDIn(f.Schedules...)
		},
		match: func(f *Filter, s Snapshot) bool {
			return s.ScheduleID != 0 && slices.Contains(f.Schedules, s.ScheduleID)
		},
	},
	// The registrant never changes (registered_by_id is immutable): the
	// snapshot's is the row's, also in a DELETED entry (ChangeRegisteredBy).
	{
		field:    "RegisteredBy",
		given:    func(f *Filter) bool { return f.RegisteredBy != nil },
		validate: func(f *Filter) error { return maxValues("RegisteredBy", len(f.RegisteredBy)) },
		sql: func(f *Filter) predicate.Ticket {
			if len(f.RegisteredBy) == 0 {
				return nothing
			}
			return ticket.RegisteredByIDIn(f.RegisteredBy...)
		},
		match: func(f *Filter, s Snapshot) bool {
			return s.RegisteredBy != 0 && slices.Contains(f.RegisteredBy, s.RegisteredBy)
		},
	},
	{
		field:    "SLAStates",
		given:    func(f *Filter) bool { return f.SLAStates != nil },
		validate: func(f *Filter) error { return maxValues("SLAStates", len(f.SLAStates.States)) },
		sql:      func(f *Filter) predicate.Ticket { return sla.Predicate(f.SLAStates.States, f.SLAStates.At) },
		match: func(f *Filter, s Snapshot) bool {
			st := sla.StateOf(s.SLA, f.SLAStates.At)
			return st != nil && slices.Contains(f.SLAStates.States, *st)
		},
	},
	dueBound("ResponseDueFrom", func(f *Filter) *time.Time { return f.ResponseDueFrom }, true, ticket.ResponseDueAtGTE, func(s Snapshot) *time.Time { return s.SLA.ResponseDue }),
	dueBound("ResponseDueTo", func(f *Filter) *time.Time { return f.ResponseDueTo }, false, ticket.ResponseDueAtLT, func(s Snapshot) *time.Time { return s.SLA.ResponseDue }),
	dueBound("ResolutionDueFrom", func(f *Filter) *time.Time { return f.ResolutionDueFrom }, true, ticket.ResolutionDueAtGTE, func(s Snapshot) *time.Time { return s.SLA.ResolutionDue }),
	dueBound("ResolutionDueTo", func(f *Filter) *time.Time { return f.ResolutionDueTo }, false, ticket.ResolutionDueAtLT, func(s Snapshot) *time.Time { return s.SLA.ResolutionDue }),
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

// dueBound is the criterion of a bound on a due: from (inclusive) or to
// (exclusive); a ticket without the due matches neither.
func dueBound(field string, get func(*Filter) *time.Time, from bool, cmp func(time.Time) predicate.Ticket, val func(Snapshot) *time.Time) criterion {
	return criterion{
		field: field,
		given: func(f *Filter) bool { return get(f) != nil },
		sql:   func(f *Filter) predicate.Ticket { return cmp(bound(*get(f))) },
		match: func(f *Filter, s Snapshot) bool {
			v := val(s)
			return v != nil && v.Before(bound(*get(f))) != from
		},
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

// inRanges is the criterion of a list of IPs and CIDR prefixes on the key
// column col: the ticket's key (val; "" for none) must be in one of the
// list's ranges.
func inRanges(field string, list func(*Filter) []string, col string, val func(Snapshot) string) criterion {
	name := "filter." + strings.ToLower(field[:1]) + field[1:]
	return criterion{
		field: field,
		given: func(f *Filter) bool { return list(f) != nil },
		validate: func(f *Filter) error {
			if err := maxValues(field, len(list(f))); err != nil {
				return err
			}
			for _, v := range list(f) {
				if _, ok := netkey.ParseRange(v); !ok {
					return errs.Invalid(name, "%q is not an IP address or a CIDR prefix (10.1.0.0/16, 2001:db8::/32)", v)
				}
			}
			return nil
		},
		sql: func(f *Filter) predicate.Ticket {
			return func(s *sql.Selector) {
				// No constant FALSE beside the ranges: SQLite's planner
				// would not serve such an OR from the index.
				var or []*sql.Predicate
				for _, r := range ipRanges(list(f)) {
					if r.First == r.Last {
						or = append(or, sql.EQ(s.C(col), r.First))
					} else {
						or = append(or, sql.And(sql.GTE(s.C(col), r.First), sql.LTE(s.C(col), r.Last)))
					}
				}
				if len(or) == 0 {
					nothing(s)
					return
				}
				s.Where(sql.Or(or...))
			}
		},
		match: func(f *Filter, s Snapshot) bool {
			return slices.ContainsFunc(ipRanges(list(f)), func(r netkey.Range) bool { return r.Contains(val(s)) })
		},
	}
}

// ipRanges are the ranges of a validated list of IPs and prefixes.
func ipRanges(list []string) []netkey.Range {
	out := make([]netkey.Range, 0, len(list))
	for _, v := range list {
		if r, ok := netkey.ParseRange(v); ok {
			out = append(out, r)
		}
	}
	return out
}

// hostKeys are the keys of a validated list of hosts.
func hostKeys(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if k, ok := netkey.HostKey(h); ok {
			out = append(out, k)
		}
	}
	return out
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
