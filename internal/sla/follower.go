package sla

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/businesscalendar"
	"socdesk/ent/category"
	"socdesk/ent/schema"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/jobs"
	"socdesk/internal/workflow"
)

// DefaultAtRisk is the share of a clock's allowed time after which it is
// AT_RISK.
const DefaultAtRisk = 0.75

// Service keeps the service levels of tickets.
type Service struct {
	Client *ent.Client
	Jobs   *jobs.Engine
	// Tickets records a breach in the ticket's history (tickets.Service).
	Tickets Annotator
	// Now is the clock of the SLA clocks (nil: time.Now).
	Now func() time.Time
	// AtRisk is the share of the allowed time after which a clock is
	// AT_RISK (0: DefaultAtRisk).
	AtRisk float64
	// PauseStatuses are the statuses in which the clocks stand still
	// (nil: workflow.WaitingStatuses; empty: none).
	PauseStatuses []ticket.Status
	// ExplanationOpen, when set, reports whether a ticket's explanation
	// status is that of a request still open: the clocks stand still
	// meanwhile (nil: explanations do not pause them).
	ExplanationOpen func(schematype.ExplanationStatus) bool

	zones sync.Map // time zone name → *time.Location
}

// NowUTC is the service's clock, to PostgreSQL's microsecond.
func (s *Service) NowUTC() time.Time {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	return now.UTC().Truncate(time.Microsecond)
}

func (s *Service) share() float64 {
	if s.AtRisk <= 0 || s.AtRisk >= 1 {
		return DefaultAtRisk
	}
	return s.AtRisk
}

// State is t's SLA state now (the Ticket.slaState field).
func (s *Service) State(t *ent.Ticket) *schematype.SLAState { return StateOf(ClocksOf(t), s.NowUTC()) }

// stopped reports whether t's clocks stand still: in a pausing status,
// while an explanation request is open, once resolved.
func (s *Service) stopped(t *ent.Ticket) bool {
	pause := s.PauseStatuses
	if pause == nil {
		pause = workflow.WaitingStatuses
	}
	return slices.Contains(pause, t.Status) || workflow.IsResolved(t.Status) ||
		s.ExplanationOpen != nil && t.ExplanationStatus != nil && s.ExplanationOpen(*t.ExplanationStatus)
}

// Follow keeps the service levels of the tickets whose history evs
// appended, in the change's transaction tx (a tickets.Service follower):
// on creation it starts the clocks and sets the dues from the category's
// targets and the site's calendar; a change of priority, category or site
// recomputes them; a response, a resolution and a reopening are noted;
// entering a pause stops the clocks and leaving it moves the dues out by
// the time paused. Each due set or moved gets its breach job. Tasks have
// no service levels; tickets older than them get none.
func (s *Service) Follow(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
	for _, ev := range evs {
		if err := s.follow(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

var recomputedBy = []schematype.ChangedField{schematype.ChangePriority, schematype.ChangeCategory, schematype.ChangeSite}

func (s *Service) follow(ctx context.Context, tx *ent.Tx, ev *ent.TicketEvent) error {
	t := ev.Edges.Ticket
	created := ev.Kind == ticketevent.KindCREATED
	if t == nil || ev.TicketID == nil || ev.Kind == ticketevent.KindDELETED || t.Kind == ticket.KindTASK ||
		!created && t.SLAStartedAt == nil {
		return nil
	}
	ctx = authz.System(ctx)
	now := s.NowUTC()
	n := *t // what the ticket's SLA fields become
	if created {
		n.SLAStartedAt, n.SLAPausedSince, n.SLAPausedSeconds, n.SLAPausedBusinessSeconds = &now, nil, 0, 0
		n.RespondedAt, n.ResolvedAt = nil, nil
	} else if workflow.IsResponse(ev.Kind) && n.RespondedAt == nil {
		n.RespondedAt = &now
	}
	if !workflow.IsResolved(t.Status) {
		n.ResolvedAt = nil
	} else if n.ResolvedAt == nil {
		n.ResolvedAt = &now
	}
	recompute := created || slices.ContainsFunc(ev.Changes, func(c schematype.FieldChange) bool {
		return slices.Contains(recomputedBy, c.Field)
	})
	var cal *Calendar
	calendar := func() (Calendar, error) {
		if cal == nil {
			c, err := s.calendarOf(ctx, tx, t.SiteID)
			if err != nil {
				return Calendar{}, err
			}
			cal = &c
		}
		return *cal, nil
	}
	switch stopped := s.stopped(t); {
	case stopped && n.SLAPausedSince == nil:
		n.SLAPausedSince = &now
	case !stopped && n.SLAPausedSince != nil:
		c, err := calendar()
		if err != nil {
			return err
		}
		since := *n.SLAPausedSince
		n.SLAPausedSeconds += int64(now.Sub(since) / time.Second)
		n.SLAPausedBusinessSeconds += int64(c.Between(since, now) / time.Second)
		n.SLAPausedSince, recompute = nil, true
	}
	if recompute {
		c, err := calendar()
		if err != nil {
			return err
		}
		if err := s.setDues(ctx, tx, &n, c, now); err != nil {
			return err
		}
	}
	return s.save(ctx, tx, t, &n)
}

// setDues computes n's dues and at-risk instants, clears a breach whose
// clock now runs again, and enqueues the breach jobs of the running clocks.
func (s *Service) setDues(ctx context.Context, tx *ent.Tx, n *ent.Ticket, c Calendar, now time.Time) error {
	levels, err := tx.Category.Query().Where(category.ID(n.CategoryID)).Select(category.FieldServiceLevels).Only(ctx)
	if err != nil {
		return err
	}
	p := Paused{Wall: time.Duration(n.SLAPausedSeconds) * time.Second, Business: time.Duration(n.SLAPausedBusinessSeconds) * time.Second}
	for _, k := range []schematype.SLAClock{schematype.ClockResponse, schematype.ClockResolution} {
		due, risk := c.Due(*n.SLAStartedAt, TargetFor(levels.ServiceLevels, n.Priority, k), s.share(), p)
		due, risk = due.Truncate(time.Microsecond), risk.Truncate(time.Microsecond)
		f := fieldsOf(n, k)
		*f.due, *f.risk = &due, &risk
		if due.After(now) {
			*f.breached = nil
		}
		if *f.done != nil || *f.breached != nil {
			continue
		}
		opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
		// A due already past goes now: a job given a ScheduledAt waits
		// for River's scheduler even when it is past.
		if due.After(time.Now()) {
			opts.ScheduledAt = due
		}
		if _, err := s.Jobs.Insert(ctx, BreachArgs{TicketID: n.ID, Clock: k, Due: due}, opts); err != nil {
			return err
		}
	}
	return nil
}

// clockFields point at one clock's fields of a ticket.
type clockFields struct{ due, risk, done, breached **time.Time }

func fieldsOf(t *ent.Ticket, k schematype.SLAClock) clockFields {
	if k == schematype.ClockResponse {
		return clockFields{&t.ResponseDueAt, &t.ResponseRiskAt, &t.RespondedAt, &t.ResponseBreachedAt}
	}
	return clockFields{&t.ResolutionDueAt, &t.ResolutionRiskAt, &t.ResolvedAt, &t.ResolutionBreachedAt}
}

// save writes n's SLA fields where they differ from t's, and sets them on
// t (the ticket the change returns and its followers read).
func (s *Service) save(ctx context.Context, tx *ent.Tx, t, n *ent.Ticket) error {
	u := tx.Ticket.Update().Where(ticket.ID(t.ID))
	changed := false
	setTime := func(old, now *time.Time, set func(time.Time) *ent.TicketUpdate, clear func() *ent.TicketUpdate) {
		if sameTime(old, now) {
			return
		}
		changed = true
		if now == nil {
			clear()
		} else {
			set(*now)
		}
	}
	setTime(t.RespondedAt, n.RespondedAt, u.SetRespondedAt, u.ClearRespondedAt)
	setTime(t.ResolvedAt, n.ResolvedAt, u.SetResolvedAt, u.ClearResolvedAt)
	setTime(t.ResponseDueAt, n.ResponseDueAt, u.SetResponseDueAt, u.ClearResponseDueAt)
	setTime(t.ResolutionDueAt, n.ResolutionDueAt, u.SetResolutionDueAt, u.ClearResolutionDueAt)
	setTime(t.ResponseRiskAt, n.ResponseRiskAt, u.SetResponseRiskAt, u.ClearResponseRiskAt)
	setTime(t.ResolutionRiskAt, n.ResolutionRiskAt, u.SetResolutionRiskAt, u.ClearResolutionRiskAt)
	setTime(t.SLAStartedAt, n.SLAStartedAt, u.SetSLAStartedAt, u.ClearSLAStartedAt)
	setTime(t.SLAPausedSince, n.SLAPausedSince, u.SetSLAPausedSince, u.ClearSLAPausedSince)
	setTime(t.ResponseBreachedAt, n.ResponseBreachedAt, u.SetResponseBreachedAt, u.ClearResponseBreachedAt)
	setTime(t.ResolutionBreachedAt, n.ResolutionBreachedAt, u.SetResolutionBreachedAt, u.ClearResolutionBreachedAt)
	if t.SLAPausedSeconds != n.SLAPausedSeconds || t.SLAPausedBusinessSeconds != n.SLAPausedBusinessSeconds {
		changed = true
		u.SetSLAPausedSeconds(n.SLAPausedSeconds).SetSLAPausedBusinessSeconds(n.SLAPausedBusinessSeconds)
	}
	n.ResponseDueKey, n.ResolutionDueKey = dueKey(n.ResponseDueAt), dueKey(n.ResolutionDueAt)
	if !t.ResponseDueKey.Equal(n.ResponseDueKey) || !t.ResolutionDueKey.Equal(n.ResolutionDueKey) {
		changed = true
		u.SetResponseDueKey(n.ResponseDueKey).SetResolutionDueKey(n.ResolutionDueKey)
	}
	if !changed {
		return nil
	}
	if err := u.Exec(ctx); err != nil {
		return err
	}
	*t = *n
	return nil
}

// dueKey is a due as the orderings' key: a ticket without one sorts last.
func dueKey(due *time.Time) time.Time {
	if due == nil {
		return schema.SLANoDue
	}
	return *due
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// calendarOf is the calendar of site: its own, else the default, else
// DefaultSpec.
func (s *Service) calendarOf(ctx context.Context, tx *ent.Tx, siteID int) (Calendar, error) {
	cals, err := tx.BusinessCalendar.Query().
		Where(businesscalendar.Or(businesscalendar.SiteID(siteID), businesscalendar.IsDefault(true))).All(ctx)
	if err != nil {
		return Calendar{}, err
	}
	spec := DefaultSpec
	for _, c := range cals {
		if c.SiteID != nil && *c.SiteID == siteID {
			spec = SpecOf(c)
			break
		}
		spec = SpecOf(c) // the default
	}
	return s.compile(spec)
}

// SpecOf is a stored calendar's spec.
func SpecOf(c *ent.BusinessCalendar) CalendarSpec {
	return CalendarSpec{TimeZone: c.TimeZone, WorkingDays: c.WorkingDays, DayStart: c.DayStart, DayEnd: c.DayEnd, Holidays: c.Holidays}
}

// compile is Compile with the time zones read once.
func (s *Service) compile(spec CalendarSpec) (Calendar, error) {
	if loc, ok := s.zones.Load(spec.TimeZone); ok {
		c, err := Compile(CalendarSpec{TimeZone: "UTC", WorkingDays: spec.WorkingDays, DayStart: spec.DayStart, DayEnd: spec.DayEnd, Holidays: spec.Holidays})
		c.Location = loc.(*time.Location)
		return c, err
	}
	c, err := Compile(spec)
	if err == nil {
		s.zones.Store(spec.TimeZone, c.Location)
	}
	return c, err
}
