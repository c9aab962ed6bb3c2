package ticketstats

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // IANA zones also where the host has no zoneinfo

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/predicate"
	"socdesk/ent/schema"
	"socdesk/ent/site"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/workflow"
)

// Bounds of a metrics query.
const (
	// MaxRange bounds to - from: a year, leap day included (so at most
	// 367 days, 54 weeks or 13 months of periods).
	MaxRange = 366 * 24 * time.Hour
	// MaxGroups bounds the groups of a result.
	MaxGroups = 1000
	// MaxEmbeddedTickets bounds the tickets one query measures on SQLite,
	// where the history is read and measured in Go.
	MaxEmbeddedTickets = 50_000
)

// Group is a dimension the metrics are grouped by (GraphQL MetricGroup).
type Group string

// The dimensions.
const (
	GroupCategory Group = "CATEGORY"
	GroupSite     Group = "SITE"
	GroupPriority Group = "PRIORITY"
	// GroupAssignee: a ticket counts in the group of each of its current
	// assignees (in one group of none when it has none).
	GroupAssignee Group = "ASSIGNEE"
	// GroupPeriod: the period of the ticket's creation, in the time zone.
	GroupPeriod Group = "PERIOD"
)

// Period is the length of GroupPeriod's periods (GraphQL MetricPeriod).
type Period string

// The periods: calendar days, ISO weeks (from Monday) and months.
const (
	PeriodDay   Period = "DAY"
	PeriodWeek  Period = "WEEK"
	PeriodMonth Period = "MONTH"
)

// Query asks for the metrics of the tickets created in [From, To) that
// match Filter and the viewer may see.
type Query struct {
	Filter  *tickets.Filter
	GroupBy []Group
	// Period is GroupPeriod's (DAY when nil).
	Period   *Period
	From, To time.Time
	TimeZone string
}

// Result is the metrics of a query, one entry per group (one group for all
// when not grouped), ordered by period, then category, site, priority and
// assignee ids.
type Result struct {
	From, To time.Time
	// AsOf is the instant the figures are as of: To, or the request's time
	// when To is later. The history after it is not read.
	AsOf     time.Time
	TimeZone string
	GroupBy  []Group
	Period   *Period
	Groups   []*GroupMetrics
}

// GroupMetrics are the metrics of one group. A key is set when the result
// is grouped by it (Assignee nil with ASSIGNEE: the unassigned tickets).
// An SLA compliance rate fits beside Response and Resolution.
type GroupMetrics struct {
	Category    *ent.Category
	Site        *ent.Site
	Priority    *ticket.Priority
	Assignee    *ent.User
	PeriodStart *time.Time
	// Tickets is how many tickets the group has.
	Tickets int
	// Response: creation to the first response (MTTA); Resolution:
	// creation to the final resolution (MTTR).
	Response, Resolution Durations
	// TimeInStatus has each status some ticket of the group was in, in the
	// workflows' order.
	TimeInStatus []StatusTime

	key key
}

// Durations summarize durations in seconds (to the millisecond); the
// figures are nil when Count is 0.
type Durations struct {
	// Count is how many tickets the figures cover: those responded to
	// (resolved) as of AsOf.
	Count          int
	Mean, P50, P90 *float64
}

// StatusTime is the time a group's tickets spent in a status, in seconds
// (to the millisecond): Total over the Tickets that were in it, Mean per
// such ticket.
type StatusTime struct {
	Status      ticket.Status
	Tickets     int
	Total, Mean float64
}

// key identifies a group: the ids of its keys (0, "" or -1 when not
// grouped by it; an unassigned group has Assignee 0 with ASSIGNEE).
type key struct {
	Period   int
	Category int
	Site     int
	Priority string
	Assignee int
}

// Service computes metrics with the viewer in the context (the data
// layer's site rule applies: only the tickets the viewer may see count).
type Service struct {
	Client  *ent.Client
	Dialect string
	// Now is the request's time; time.Now when nil.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// plan is a validated query: the tickets' predicates, the period
// boundaries (ends[i] is the end of period i) and the instant measured at.
type plan struct {
	q      Query
	preds  []predicate.Ticket
	loc    *time.Location
	starts []time.Time
	ends   []time.Time
	asOf   time.Time
	by     map[Group]bool
}

// Compute returns the metrics of q: on PostgreSQL in two statements
// (percentiles by percentile_cont), elsewhere by reading the history and
// measuring it in Go (at most MaxEmbeddedTickets tickets); both say the
// same (ticketstats_test compares them).
func (s *Service) Compute(ctx context.Context, q Query) (*Result, error) {
	p, err := s.plan(q)
	if err != nil {
		return nil, err
	}
	var groups map[key]*GroupMetrics
	if s.Dialect == dialect.Postgres {
		groups, err = s.inSQL(ctx, p)
	} else {
		groups, err = s.inMemory(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	return s.result(ctx, p, groups)
}

func (s *Service) plan(q Query) (*plan, error) {
	loc, err := time.LoadLocation(q.TimeZone)
	if err != nil || q.TimeZone == "" || q.TimeZone == "Local" {
		return nil, errs.Invalid("timeZone", "unknown time zone %q (want an IANA name such as Europe/Paris)", q.TimeZone)
	}
	from, to := q.From.UTC().Truncate(time.Microsecond), q.To.UTC().Truncate(time.Microsecond)
	switch {
	case !to.After(from):
		return nil, errs.Invalid("to", "must be after from")
	case to.Sub(from) > MaxRange:
		return nil, errs.Invalid("to", "at most %d days after from", int(MaxRange/(24*time.Hour)))
	}
	p := &plan{q: q, loc: loc, by: map[Group]bool{}}
	p.q.From, p.q.To = from, to
	if len(q.GroupBy) > 5 {
		return nil, errs.Invalid("groupBy", "at most 5 dimensions")
	}
	for _, g := range q.GroupBy {
		if p.by[g] {
			return nil, errs.Invalid("groupBy", "%s is given twice", g)
		}
		p.by[g] = true
	}
	if !p.by[GroupPeriod] && q.Period != nil {
		return nil, errs.Invalid("period", "needs PERIOD in groupBy")
	}
	preds, err := tickets.WithoutTasks(q.Filter).Predicates()
	if err != nil {
		return nil, err
	}
	p.asOf = to
	if now := s.now().UTC().Truncate(time.Microsecond); now.Before(to) {
		p.asOf = now
	}
	// No ticket is created after now; with an injected clock, none counts.
	p.preds = append(preds, ticket.CreatedAtGTE(from), ticket.CreatedAtLT(p.asOf))
	if p.by[GroupPeriod] {
		p.starts, p.ends = periods(from, to, loc, p.period())
	}
	return p, nil
}

// period is the length of the periods.
func (p *plan) period() Period {
	if p.q.Period == nil {
		return PeriodDay
	}
	return *p.q.Period
}

// periods are the periods covering [from, to) in loc: their starts (the
// first at or before from) and ends, in UTC.
func periods(from, to time.Time, loc *time.Location, p Period) (starts, ends []time.Time) {
	l := from.In(loc)
	y, m, d := l.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	switch p {
	case PeriodWeek:
		start = time.Date(y, m, d-(int(l.Weekday())+6)%7, 0, 0, 0, 0, loc)
	case PeriodMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
	}
	for start.Before(to) {
		y, m, d := start.Date()
		var next time.Time
		switch p {
		case PeriodWeek:
			next = time.Date(y, m, d+7, 0, 0, 0, 0, loc)
		case PeriodMonth:
			next = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
		default:
			next = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		}
		starts, ends = append(starts, start.UTC()), append(ends, next.UTC())
		start = next
	}
	return starts, ends
}

// periodOf is the index of the period at, which is in [from, to).
func (p *plan) periodOf(at time.Time) int {
	i, _ := slices.BinarySearchFunc(p.ends, at, func(end, at time.Time) int {
		if !at.Before(end) {
			return -1
		}
		return 1
	})
	return i
}

// result puts the groups in order and loads their keys' entities (the
// viewer's: a user the viewer may not see stays nil).
func (s *Service) result(ctx context.Context, p *plan, groups map[key]*GroupMetrics) (*Result, error) {
	if len(groups) > MaxGroups {
		return nil, errs.Invalid("groupBy", "more than %d groups: group by fewer dimensions or narrow the range", MaxGroups)
	}
	r := &Result{From: p.q.From, To: p.q.To, AsOf: p.asOf, TimeZone: p.q.TimeZone, GroupBy: p.q.GroupBy}
	if r.GroupBy == nil {
		r.GroupBy = []Group{}
	}
	if p.by[GroupPeriod] {
		per := p.period()
		r.Period = &per
	}
	if len(groups) == 0 && len(p.q.GroupBy) == 0 {
		groups = map[key]*GroupMetrics{{}: {}} // one group of nothing
	}
	var cats, sites, users []int
	for k, g := range groups {
		g.key = k
		r.Groups = append(r.Groups, g)
		if p.by[GroupCategory] {
			cats = append(cats, k.Category)
		}
		if p.by[GroupSite] {
			sites = append(sites, k.Site)
		}
		if p.by[GroupAssignee] && k.Assignee != 0 {
			users = append(users, k.Assignee)
		}
	}
	slices.SortFunc(r.Groups, func(a, b *GroupMetrics) int {
		x, y := a.key, b.key
		for _, c := range [...]int{x.Period - y.Period, x.Category - y.Category, x.Site - y.Site,
			int(rank(x.Priority)) - int(rank(y.Priority)), x.Assignee - y.Assignee} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
	byCat, err := index(s.Client.Category.Query().Where(category.IDIn(cats...)).All, p.by[GroupCategory], func(c *ent.Category) int { return c.ID })(ctx)
	if err != nil {
		return nil, err
	}
	bySite, err := index(s.Client.Site.Query().Where(site.IDIn(sites...)).All, p.by[GroupSite], func(c *ent.Site) int { return c.ID })(ctx)
	if err != nil {
		return nil, err
	}
	byUser, err := index(s.Client.User.Query().Where(user.IDIn(users...)).All, len(users) > 0, func(c *ent.User) int { return c.ID })(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range r.Groups {
		k := g.key
		g.Category, g.Site, g.Assignee = byCat[k.Category], bySite[k.Site], byUser[k.Assignee]
		if p.by[GroupPriority] {
			pr := ticket.Priority(k.Priority)
			g.Priority = &pr
		}
		if p.by[GroupPeriod] {
			g.PeriodStart = &p.starts[k.Period]
		}
		slices.SortStableFunc(g.TimeInStatus, func(a, b StatusTime) int { return statusRank(a.Status) - statusRank(b.Status) })
		if g.TimeInStatus == nil {
			g.TimeInStatus = []StatusTime{}
		}
	}
	return r, nil
}

func index[T any](all func(context.Context) ([]T, error), want bool, id func(T) int) func(context.Context) (map[int]T, error) {
	return func(ctx context.Context) (map[int]T, error) {
		out := map[int]T{}
		if !want {
			return out, nil
		}
		xs, err := all(ctx)
		for _, x := range xs {
			out[id(x)] = x
		}
		return out, err
	}
}

func rank(p string) int8 {
	if p == "" {
		return -1
	}
	return schema.PriorityRank(p)
}

// statusRank orders statuses as the workflows do (others after).
func statusRank(s ticket.Status) int {
	if i := slices.Index(workflow.Order, s); i >= 0 {
		return i
	}
	return len(workflow.Order)
}

// seconds is a duration in microseconds as the API gives it: seconds to
// the millisecond (both paths round the same way).
func seconds(us float64) float64 { return math.Round(us/1e3) / 1e3 }

func ptr(f float64) *float64 { return &f }

// MarshalGQL implements graphql.Marshaler.
func (g Group) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(g))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (g *Group) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch x := Group(s); x {
	case GroupCategory, GroupSite, GroupPriority, GroupAssignee, GroupPeriod:
		*g = x
		return nil
	}
	return fmt.Errorf("%v is not a valid MetricGroup", v)
}

// MarshalGQL implements graphql.Marshaler.
func (p Period) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (p *Period) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch x := Period(s); x {
	case PeriodDay, PeriodWeek, PeriodMonth:
		*p = x
		return nil
	}
	return fmt.Errorf("%v is not a valid MetricPeriod", v)
}
