package schedules

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/schematype"
	"socdesk/ent/tag"
	"socdesk/ent/taskschedule"
	"socdesk/ent/taskscheduleevent"
	"socdesk/ent/taskschedulewatcher"
	"socdesk/ent/user"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// Bounds of a schedule's input.
const (
	MaxNameRunes        = schematype.MaxTitleLength
	MaxDescriptionRunes = 20000
	MaxSearchRunes      = 10000
	MaxReasonRunes      = 2000
	MaxWatchers         = tasks.MaxWatchers // each task gets them all
	MaxTags             = tickets.MaxTags
	MaxFilterBytes      = 64 << 10
	// MaxCopy bounds copyLibrarySchedules' ids.
	MaxCopy = 100
	// DefaultMaxMissed is how many missed occurrences of a schedule are
	// generated after a stop (the latest ones); older ones are skipped.
	DefaultMaxMissed = 1
	// MaxMissedLimit bounds Service.MaxMissed (SOCDESK_SCHEDULE_MAX_MISSED).
	MaxMissedLimit = 100
)

// Service keeps task schedules and generates their tasks.
type Service struct {
	Client  *ent.Client
	Dialect string
	// Jobs runs the generation (Register); nil in services that only edit.
	Jobs *jobs.Engine
	// Now is the clock of occurrences (nil: time.Now).
	Now func() time.Time
	// MaxMissed: at most this many missed occurrences per schedule are
	// generated (the latest); 0: DefaultMaxMissed.
	MaxMissed int
	// Batch is how many schedules one generation transaction takes
	// (0: DefaultBatch).
	Batch int
	// Tickets records the generated tasks' history (tasks.Create goes
	// through it).
	Tickets *tickets.Service
	// CreateTask makes an occurrence's task (nil: tasks.Create).
	CreateTask Creator
	Log        *slog.Logger
}

// NowUTC is the service's clock.
func (s *Service) NowUTC() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// WatcherInput is a watcher of a schedule (GraphQL TaskScheduleWatcherInput).
type WatcherInput struct {
	UserID int
	Notify taskschedulewatcher.Notify
}

// QueryInput is a schedule's query: a saved ticket filter or an external
// search string kept verbatim (GraphQL TaskScheduleQueryInput).
type QueryInput struct {
	Filter *tickets.Filter
	Search *string
	// FilterJSON is Filter as the client wrote it (graph fills it from the
	// request's arguments): what is stored and shown.
	FilterJSON json.RawMessage
}

// RecurrenceInput is a preset at a time of day, or an RRULE (GraphQL
// TaskRecurrenceInput).
type RecurrenceInput struct {
	Preset    *Preset
	TimeOfDay *string
	// Weekday of WEEKLY and BIWEEKLY (default: startsAt's).
	Weekday *Weekday
	RRule   *string
}

// Weekday names a day (GraphQL Weekday).
type Weekday string

// Input creates or changes a schedule (GraphQL CreateTaskScheduleInput and
// UpdateTaskScheduleInput): on an update, what is nil is unchanged.
type Input struct {
	Name        *string
	Description *string
	SiteID      *int
	CategoryID  *int
	OwnerID     *int
	Watchers    []*WatcherInput
	Query       *QueryInput
	Recurrence  *RecurrenceInput
	StartsAt    *time.Time
	TimeZone    *string
	DueInDays   *int
	PolicyIDs   []int
	TagIDs      []int
	Active      *bool
}

func actorID(ctx context.Context) *int {
	if v := viewer.FromContext(ctx); v != nil && v.UserID != 0 {
		id := v.UserID
		return &id
	}
	return nil
}

// Recurrence is a schedule's recurrence as GraphQL shows it.
type Recurrence struct {
	RRule  string
	Preset *Preset
	Text   string
}

// RecurrenceOf describes s's recurrence.
func RecurrenceOf(s *ent.TaskSchedule) Recurrence {
	r := Recurrence{RRule: s.Recurrence, Text: Text(s.Recurrence)}
	if p, _ := PresetOf(s.Recurrence); p != "" {
		r.Preset = &p
	}
	return r
}

// Query is a schedule's (or a task's) query as GraphQL shows it.
type Query struct {
	Filter any
	Search *string
}

// QueryOf is s's query.
func QueryOf(s *ent.TaskSchedule) Query {
	q := Query{Search: s.QuerySearch}
	if len(s.QueryFilter) > 0 {
		var v any
		if json.Unmarshal(s.QueryFilter, &v) == nil {
			q.Filter = v
		}
	}
	return q
}

// RuleOf is s's recurrence rule.
func RuleOf(s *ent.TaskSchedule) (*Rule, error) {
	loc, err := Zone("timeZone", s.TimeZone)
	if err != nil {
		return nil, err
	}
	return parse("recurrence", s.Recurrence, s.StartsAt, loc, false)
}

// NextOccurrences are s's next count (at most MaxOccurrences) occurrences
// from now, whether it is active or not.
func (s *Service) NextOccurrences(sch *ent.TaskSchedule, count int) ([]time.Time, error) {
	if count < 0 || count > MaxOccurrences {
		return nil, errs.Invalid("count", "must be between 0 and %d", MaxOccurrences)
	}
	r, err := RuleOf(sch)
	if err != nil {
		return nil, err
	}
	from := s.NowUTC()
	if sch.StartsAt.After(from) {
		from = sch.StartsAt.Add(-time.Nanosecond)
	}
	return r.NextOccurrences(from, count), nil
}

var weekdayOf = map[Weekday]time.Weekday{"SUNDAY": time.Sunday, "MONDAY": time.Monday, "TUESDAY": time.Tuesday,
	"WEDNESDAY": time.Wednesday, "THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday}

// recurrence validates in against startsAt in loc and returns the RRULE.
func recurrence(in *RecurrenceInput, startsAt time.Time, loc *time.Location) (*Rule, error) {
	const field = "input.recurrence"
	if (in.Preset == nil) == (in.RRule == nil) {
		return nil, errs.Invalid(field, "give either preset (with timeOfDay) or rrule")
	}
	s := ""
	if in.Preset != nil {
		if in.TimeOfDay == nil {
			return nil, errs.Invalid(field+".timeOfDay", "is required with a preset")
		}
		local := startsAt.In(loc)
		wd := local.Weekday()
		if in.Weekday != nil {
			d, ok := weekdayOf[*in.Weekday]
			if !ok {
				return nil, errs.Invalid(field+".weekday", "unknown weekday %q", *in.Weekday)
			}
			wd = d
		}
		var err error
		if s, err = PresetRule(field, *in.Preset, *in.TimeOfDay, wd, local.Month(), local.Day()); err != nil {
			return nil, err
		}
	} else {
		if in.TimeOfDay != nil || in.Weekday != nil {
			return nil, errs.Invalid(field+".timeOfDay", "goes with a preset; an rrule says its time (BYHOUR, BYMINUTE)")
		}
		s = *in.RRule
	}
	return Parse(field+".rrule", s, startsAt, loc)
}

func text(field string, s *string, maxRunes int, required bool) error {
	if s == nil {
		return nil
	}
	if required && strings.TrimSpace(*s) == "" {
		return errs.Invalid(field, "must not be empty")
	}
	if !utf8.ValidString(*s) || utf8.RuneCountInString(*s) > maxRunes {
		return errs.Invalid(field, "must be at most %d characters of valid UTF-8", maxRunes)
	}
	return nil
}

// check validates what in gives, bounds first (it changes nothing).
func check(in Input) error {
	if err := text("input.name", in.Name, MaxNameRunes, true); err != nil {
		return err
	}
	if err := text("input.description", in.Description, MaxDescriptionRunes, false); err != nil {
		return err
	}
	if in.DueInDays != nil && (*in.DueInDays < 0 || *in.DueInDays > MaxDueInDays) {
		return errs.Invalid("input.dueInDays", "must be between 0 and %d", MaxDueInDays)
	}
	if len(in.Watchers) > MaxWatchers {
		return errs.Invalid("input.watchers", "at most %d", MaxWatchers)
	}
	seen := map[int]bool{}
	for _, w := range in.Watchers {
		if w == nil || seen[w.UserID] {
			return errs.Invalid("input.watchers", "each user at most once")
		}
		seen[w.UserID] = true
		if w.Notify == "" {
			w.Notify = taskschedulewatcher.NotifyALL
		}
		if err := taskschedulewatcher.NotifyValidator(w.Notify); err != nil {
			return errs.Invalid("input.watchers.notify", "must be ALL or OPEN_CLOSE")
		}
	}
	if len(in.TagIDs) > MaxTags {
		return errs.Invalid("input.tagIDs", "at most %d", MaxTags)
	}
	if len(in.PolicyIDs) > tickets.MaxPolicies {
		return errs.Invalid("input.policyIDs", "at most %d", tickets.MaxPolicies)
	}
	if q := in.Query; q != nil {
		if q.Filter != nil && q.Search != nil {
			return errs.Invalid("input.query", "give a filter or a search, not both")
		}
		if q.Filter != nil {
			if _, err := q.Filter.Predicates(); err != nil {
				if e, ok := errs.As(err); ok && e.Field != "" {
					return errs.Invalid("input.query."+e.Field, "%s", e.Message)
				}
				return err
			}
			if len(q.FilterJSON) > MaxFilterBytes {
				return errs.Invalid("input.query.filter", "at most %d bytes", MaxFilterBytes)
			}
		}
		if err := text("input.query.search", q.Search, MaxSearchRunes, true); err != nil {
			return err
		}
	}
	return nil
}

// references checks the ids in the input exist (as the viewer sees them).
func references(ctx context.Context, tx *ent.Tx, in Input) error {
	if in.CategoryID != nil {
		c, err := tx.Category.Get(ctx, *in.CategoryID)
		if ent.IsNotFound(err) {
			return errs.Invalid("input.categoryID", "no such category")
		}
		if err != nil {
			return err
		}
		if c.Workflow != category.WorkflowTASK {
			return errs.Invalid("input.categoryID", "must be a category of the TASK workflow")
		}
	}
	users := slices.Collect(func(yield func(int) bool) {
		if in.OwnerID != nil && !yield(*in.OwnerID) {
			return
		}
		for _, w := range in.Watchers {
			if !yield(w.UserID) {
				return
			}
		}
	})
	if len(users) > 0 {
		slices.Sort(users)
		users = slices.Compact(users)
		n, err := tx.User.Query().Where(user.IDIn(users...)).Count(ctx)
		if err != nil {
			return err
		}
		if n != len(users) {
			field := "input.watchers"
			if in.OwnerID != nil {
				if c, _ := tx.User.Query().Where(user.IDIn(*in.OwnerID)).Count(ctx); c == 0 {
					field = "input.ownerID"
				}
			}
			return errs.Invalid(field, "no such user")
		}
	}
	if len(in.TagIDs) > 0 {
		if n, err := tx.Tag.Query().Where(tag.IDIn(in.TagIDs...)).Count(ctx); err != nil {
			return err
		} else if n != len(dedup(in.TagIDs)) {
			return errs.Invalid("input.tagIDs", "no such tag")
		}
	}
	if len(in.PolicyIDs) > 0 {
		if n, err := tx.CompliancePolicy.Query().Where(compliancepolicy.IDIn(in.PolicyIDs...)).Count(ctx); err != nil {
			return err
		} else if n != len(dedup(in.PolicyIDs)) {
			return errs.Invalid("input.policyIDs", "no such policy")
		}
	}
	return nil
}

// people refuses an owner or watchers who could not see the tasks a
// schedule of siteID generates (the tasks' own rule, tasks.CanSee).
func people(ctx context.Context, tx *ent.Tx, siteID int, ownerID *int, watchers []*WatcherInput) error {
	if ownerID != nil {
		if err := tasks.CanSee(ctx, tx, "input.ownerID", []int{*ownerID}, siteID); err != nil {
			return err
		}
	}
	ids := make([]int, len(watchers))
	for i, w := range watchers {
		ids[i] = w.UserID
	}
	return tasks.CanSee(ctx, tx, "input.watchers", dedup(ids), siteID)
}

func dedup(ids []int) []int {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Service) zone(in Input, def string) (*time.Location, string, error) {
	name := def
	if in.TimeZone != nil {
		name = *in.TimeZone
	}
	loc, err := Zone("input.timeZone", name)
	return loc, name, err
}

// startOf is a schedule's start: given (to the second), or now (to the minute).
func (s *Service) startOf(t *time.Time) time.Time {
	if t != nil {
		return t.UTC().Truncate(time.Second)
	}
	return s.NowUTC().Truncate(time.Minute)
}

// firstAfterNow is r's first occurrence at or after max(now, start); nil
// when there is none.
func (s *Service) firstAfterNow(r *Rule, start time.Time) *time.Time {
	from := s.NowUTC()
	if start.After(from) {
		from = start
	}
	t, ok := r.Next(from.Add(-time.Nanosecond))
	if !ok {
		return nil
	}
	t = t.UTC()
	return &t
}

// Create makes a schedule (GraphQL createTaskSchedule) with its CREATED
// history entry.
func (s *Service) Create(ctx context.Context, in Input) (*ent.TaskSchedule, error) {
	return s.create(ctx, in, nil)
}

func (s *Service) create(ctx context.Context, in Input, libraryID *string) (*ent.TaskSchedule, error) {
	if in.Name == nil {
		return nil, errs.Invalid("input.name", "is required")
	}
	if in.SiteID == nil {
		return nil, errs.Invalid("input.siteID", "is required")
	}
	if in.Recurrence == nil {
		return nil, errs.Invalid("input.recurrence", "is required")
	}
	if err := check(in); err != nil {
		return nil, err
	}
	loc, zoneName, err := s.zone(in, "UTC")
	if err != nil {
		return nil, err
	}
	start := s.startOf(in.StartsAt)
	rule, err := recurrence(in.Recurrence, start, loc)
	if err != nil {
		return nil, err
	}
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.TaskSchedule, error) {
		return s.insert(ctx, tx, in, rule, start, zoneName, libraryID, nil)
	})
}

// insert makes a checked schedule in tx with its CREATED entry (its
// changes: the library entry copied, and what the copy left out).
func (s *Service) insert(ctx context.Context, tx *ent.Tx, in Input, rule *Rule, start time.Time, zoneName string, libraryID, reason *string) (*ent.TaskSchedule, error) {
	if err := references(ctx, tx, in); err != nil {
		return nil, err
	}
	if err := people(ctx, tx, *in.SiteID, in.OwnerID, in.Watchers); err != nil {
		return nil, err
	}
	active := in.Active == nil || *in.Active
	c := tx.TaskSchedule.Create().SetName(strings.TrimSpace(*in.Name)).SetSiteID(*in.SiteID).
		SetNillableDescription(in.Description).SetNillableCategoryID(in.CategoryID).SetNillableOwnerID(in.OwnerID).
		SetNillableCreatedByID(actorID(ctx)).SetRecurrence(rule.String()).SetStartsAt(start).SetTimeZone(zoneName).
		SetNillableDueInDays(in.DueInDays).SetActive(active).SetNillableNextOccurrenceAt(s.firstAfterNow(rule, start)).
		SetNillableLibraryID(libraryID).AddTagIDs(dedup(in.TagIDs)...).AddPolicyIDs(dedup(in.PolicyIDs)...)
	if q := in.Query; q != nil {
		if q.Filter != nil {
			c.SetQueryFilter(filterJSON(q))
		}
		c.SetNillableQuerySearch(q.Search)
	}
	sch, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := setWatchers(ctx, tx, sch.ID, in.Watchers); err != nil {
		return nil, err
	}
	var changes []schematype.FieldChange
	if libraryID != nil {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeLibrary, To: *libraryID})
	}
	return sch, record(ctx, tx, sch.ID, taskscheduleevent.KindCREATED, reason, changes)
}

// filterJSON is the filter as stored: as the client wrote it when known,
// else as socdesk reads it.
func filterJSON(q *QueryInput) json.RawMessage {
	if len(q.FilterJSON) > 0 {
		return q.FilterJSON
	}
	b, _ := json.Marshal(q.Filter)
	return b
}

func setWatchers(ctx context.Context, tx *ent.Tx, scheduleID int, ws []*WatcherInput) error {
	if len(ws) == 0 {
		return nil
	}
	bulk := make([]*ent.TaskScheduleWatcherCreate, len(ws))
	for i, w := range ws {
		bulk[i] = tx.TaskScheduleWatcher.Create().SetScheduleID(scheduleID).SetUserID(w.UserID).SetNotify(w.Notify)
	}
	return tx.TaskScheduleWatcher.CreateBulk(bulk...).Exec(ctx)
}

func record(ctx context.Context, tx *ent.Tx, id int, kind taskscheduleevent.Kind, reason *string, changes []schematype.FieldChange) error {
	if changes == nil {
		changes = []schematype.FieldChange{}
	}
	return tx.TaskScheduleEvent.Create().SetScheduleID(id).SetKind(kind).SetNillableActorID(actorID(ctx)).
		SetNillableReason(reason).SetChanges(changes).Exec(ctx)
}

// locked reads schedule id for a change (locked on PostgreSQL).
func (s *Service) locked(ctx context.Context, tx *ent.Tx, id int, expectedVersion *int) (*ent.TaskSchedule, error) {
	q := tx.TaskSchedule.Query().Where(taskschedule.ID(id)).WithWatchers().WithTags().WithPolicies()
	if s.Dialect == "postgres" {
		q.ForUpdate()
	}
	sch, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: "no such task schedule"}
	}
	if err != nil {
		return nil, err
	}
	if expectedVersion != nil && *expectedVersion != sch.Version {
		return nil, errs.New(errs.Conflict, "the task schedule is at version %d, not %d: reload it and try again", sch.Version, *expectedVersion)
	}
	return sch, nil
}

func ids[T any](xs []T, id func(T) int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	slices.Sort(out)
	return out
}

// Update changes a schedule (GraphQL updateTaskSchedule); a change of its
// recurrence, start or zone recomputes its next occurrence from now.
func (s *Service) Update(ctx context.Context, id int, in Input, expectedVersion *int) (*ent.TaskSchedule, error) {
	if in.Active != nil {
		return nil, errs.Invalid("input.active", "pause or resume the schedule instead")
	}
	if err := check(in); err != nil {
		return nil, err
	}
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.TaskSchedule, error) {
		old, err := s.locked(ctx, tx, id, expectedVersion)
		if err != nil {
			return nil, err
		}
		if err := references(ctx, tx, in); err != nil {
			return nil, err
		}
		// The owner and watchers it will have must see the site it will be on.
		siteID, ownerID, watchers := old.SiteID, old.OwnerID, in.Watchers
		if in.SiteID != nil {
			siteID = *in.SiteID
		}
		if in.OwnerID != nil {
			ownerID = in.OwnerID
		}
		if in.Watchers == nil {
			for _, w := range old.Edges.Watchers {
				watchers = append(watchers, &WatcherInput{UserID: w.UserID})
			}
		}
		if err := people(ctx, tx, siteID, ownerID, watchers); err != nil {
			return nil, err
		}
		loc, zoneName, err := s.zone(in, old.TimeZone)
		if err != nil {
			return nil, err
		}
		start := old.StartsAt
		if in.StartsAt != nil {
			start = s.startOf(in.StartsAt)
		}
		rr := old.Recurrence
		var rule *Rule
		if in.Recurrence != nil {
			rule, err = recurrence(in.Recurrence, start, loc)
		} else {
			rule, err = Parse("input.recurrence.rrule", rr, start, loc)
		}
		if err != nil {
			return nil, err
		}
		var ch []schematype.FieldChange
		diff := func(f schematype.ChangedField, from, to any, changed bool) {
			if changed {
				ch = append(ch, schematype.FieldChange{Field: f, From: from, To: to})
			}
		}
		u := tx.TaskSchedule.UpdateOne(old).AddVersion(1)
		if in.Name != nil {
			n := strings.TrimSpace(*in.Name)
			diff(schematype.ChangeName, old.Name, n, n != old.Name)
			u.SetName(n)
		}
		if in.Description != nil {
			diff(schematype.ChangeDescription, old.Description, *in.Description, *in.Description != old.Description)
			u.SetDescription(*in.Description)
		}
		if in.SiteID != nil {
			diff(schematype.ChangeSite, old.SiteID, *in.SiteID, *in.SiteID != old.SiteID)
			u.SetSiteID(*in.SiteID)
		}
		if in.CategoryID != nil {
			diff(schematype.ChangeCategory, old.CategoryID, *in.CategoryID, old.CategoryID == nil || *old.CategoryID != *in.CategoryID)
			u.SetCategoryID(*in.CategoryID)
		}
		if in.OwnerID != nil {
			diff(schematype.ChangeOwner, old.OwnerID, *in.OwnerID, old.OwnerID == nil || *old.OwnerID != *in.OwnerID)
			u.SetOwnerID(*in.OwnerID)
		}
		timing := false
		if rule.String() != old.Recurrence {
			diff(schematype.ChangeRecurrence, old.Recurrence, rule.String(), true)
			timing = true
		}
		if !start.Equal(old.StartsAt) {
			diff(schematype.ChangeStartsAt, old.StartsAt, start, true)
			timing = true
		}
		if zoneName != old.TimeZone {
			diff(schematype.ChangeTimeZone, old.TimeZone, zoneName, true)
			timing = true
		}
		u.SetRecurrence(rule.String()).SetStartsAt(start).SetTimeZone(zoneName)
		if timing {
			next := s.firstAfterNow(rule, start)
			diff(schematype.ChangeNextOccurrence, old.NextOccurrenceAt, next, true)
			u.SetNillableNextOccurrenceAt(next)
			if next == nil {
				u.ClearNextOccurrenceAt()
			}
		}
		if in.DueInDays != nil {
			diff(schematype.ChangeDueInDays, old.DueInDays, *in.DueInDays, *in.DueInDays != old.DueInDays)
			u.SetDueInDays(*in.DueInDays)
		}
		if q := in.Query; q != nil {
			oldQ := QueryOf(old)
			u.ClearQueryFilter().ClearQuerySearch()
			var to any
			if q.Filter != nil {
				f := filterJSON(q)
				u.SetQueryFilter(f)
				to = json.RawMessage(f)
			}
			if q.Search != nil {
				u.SetQuerySearch(*q.Search)
				to = *q.Search
			}
			from := oldQ.Filter
			if from == nil && oldQ.Search != nil {
				from = *oldQ.Search
			}
			diff(schematype.ChangeQuery, from, to, true)
		}
		if in.TagIDs != nil {
			was := ids(old.Edges.Tags, func(t *ent.Tag) int { return t.ID })
			now := dedup(in.TagIDs)
			diff(schematype.ChangeTags, was, now, !slices.Equal(was, now))
			u.ClearTags().AddTagIDs(now...)
		}
		if in.PolicyIDs != nil {
			was := ids(old.Edges.Policies, func(p *ent.CompliancePolicy) int { return p.ID })
			now := dedup(in.PolicyIDs)
			diff(schematype.ChangePolicies, was, now, !slices.Equal(was, now))
			u.ClearPolicies().AddPolicyIDs(now...)
		}
		if in.Watchers != nil {
			type w struct {
				User   int    `json:"user"`
				Notify string `json:"notify"`
			}
			var was, now []w
			for _, x := range old.Edges.Watchers {
				was = append(was, w{x.UserID, string(x.Notify)})
			}
			for _, x := range in.Watchers {
				now = append(now, w{x.UserID, string(x.Notify)})
			}
			cmp := func(a, b w) int { return a.User - b.User }
			slices.SortFunc(was, cmp)
			slices.SortFunc(now, cmp)
			if !slices.Equal(was, now) {
				diff(schematype.ChangeWatchers, was, now, true)
				if _, err := tx.TaskScheduleWatcher.Delete().Where(taskschedulewatcher.ScheduleID(id)).Exec(ctx); err != nil {
					return nil, err
				}
				if err := setWatchers(ctx, tx, id, in.Watchers); err != nil {
					return nil, err
				}
			}
		}
		sch, err := u.Save(ctx)
		if err != nil {
			return nil, err
		}
		return sch, record(ctx, tx, id, taskscheduleevent.KindUPDATED, nil, ch)
	})
}

// Pause stops a schedule's generation (GraphQL pauseTaskSchedule); pausing
// a paused schedule changes nothing.
func (s *Service) Pause(ctx context.Context, id int, reason *string) (*ent.TaskSchedule, error) {
	return s.setActive(ctx, id, false, reason)
}

// Resume restarts a schedule's generation from now (GraphQL
// resumeTaskSchedule): the occurrences of the paused period are not made.
func (s *Service) Resume(ctx context.Context, id int, reason *string) (*ent.TaskSchedule, error) {
	return s.setActive(ctx, id, true, reason)
}

func (s *Service) setActive(ctx context.Context, id int, active bool, reason *string) (*ent.TaskSchedule, error) {
	if err := text("reason", reason, MaxReasonRunes, false); err != nil {
		return nil, err
	}
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.TaskSchedule, error) {
		old, err := s.locked(ctx, tx, id, nil)
		if err != nil || old.Active == active {
			return old, err
		}
		u := tx.TaskSchedule.UpdateOne(old).SetActive(active).AddVersion(1)
		ch := []schematype.FieldChange{{Field: schematype.ChangeActive, From: old.Active, To: active}}
		kind := taskscheduleevent.KindPAUSED
		if active {
			kind = taskscheduleevent.KindRESUMED
			r, err := RuleOf(old)
			if err != nil {
				return nil, err
			}
			next := s.firstAfterNow(r, old.StartsAt)
			if next == nil {
				u.ClearNextOccurrenceAt()
			} else {
				u.SetNextOccurrenceAt(*next)
			}
			ch = append(ch, schematype.FieldChange{Field: schematype.ChangeNextOccurrence, From: old.NextOccurrenceAt, To: next})
		}
		sch, err := u.Save(ctx)
		if err != nil {
			return nil, err
		}
		return sch, record(ctx, tx, id, kind, reason, ch)
	})
}

// MarshalGQL implements graphql.Marshaler.
func (d Weekday) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(d))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (d *Weekday) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if _, known := weekdayOf[Weekday(s)]; !ok || !known {
		return fmt.Errorf("%v is not a valid Weekday", v)
	}
	*d = Weekday(s)
	return nil
}
