package schedules

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/taskschedule"
	"socdesk/ent/taskscheduleevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/runes"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
)

// Generation's pace.
const (
	// GenerateEvery is how often due occurrences are looked for.
	GenerateEvery = time.Minute
	// DefaultBatch is how many schedules one transaction takes.
	DefaultBatch = 200
	// maxBatchesPerRun bounds one run (the next run takes the rest).
	maxBatchesPerRun = 1000
	// RetryFor is how long after it fell due an occurrence whose task
	// failed unexpectedly is retried (each run) before it is skipped.
	RetryFor = time.Hour
)

// Creator makes an occurrence's task in tx with its history: tasks.Create,
// which with ScheduleID and OccurrenceAt of a task made already returns
// (nil, false, nil), changing nothing.
type Creator func(ctx context.Context, tx *ent.Tx, n tasks.New) (*ent.Ticket, bool, error)

func (s *Service) creator() Creator {
	if s.CreateTask != nil {
		return s.CreateTask
	}
	return tasks.Create
}

// GenerateArgs is the periodic job that generates the due occurrences.
type GenerateArgs struct{}

// Kind implements river.JobArgs.
func (GenerateArgs) Kind() string { return "schedules.generate" }

type generateWorker struct {
	river.WorkerDefaults[GenerateArgs]
	s *Service
}

func (w *generateWorker) Work(ctx context.Context, _ *river.Job[GenerateArgs]) error {
	_, err := w.s.Generate(ctx)
	return err
}

// Register adds the generation job to the job engine: every minute, and
// once at start, so that occurrences missed while socdesk was down are made
// without waiting.
func (s *Service) Register() {
	jobs.EveryFromStart(s.Jobs, GenerateEvery, river.Worker[GenerateArgs](&generateWorker{s: s}))
}

// Generate makes the tasks of every due occurrence of the active
// schedules, a batch of schedules per transaction, and returns how many it
// made. Replicas running it together share the schedules (SKIP LOCKED on
// PostgreSQL; SQLite has one writer); a task made twice is a no-op anyway.
func (s *Service) Generate(ctx context.Context) (int, error) {
	ctx = tickets.NewContext(authz.System(ctx), s.Tickets)
	total := 0
	var retry []int // schedules left for the next run: not taken again in this one
	for range maxBatchesPerRun {
		n, more, err := s.generateBatch(ctx, &retry)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
	return total, nil
}

func (s *Service) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return DefaultBatch
}

func (s *Service) maxMissed() int {
	if s.MaxMissed > 0 {
		return s.MaxMissed
	}
	return DefaultMaxMissed
}

// advance is where a schedule's next and last occurrences move to;
// pause: the schedule is paused (its recurrence no longer reads); retry: an
// occurrence failed and is retried by the next run, not by this one.
type advance struct {
	next, last   *time.Time
	pause, retry bool
}

func (a advance) key() string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s %s %t", f(a.next), f(a.last), a.pause)
}

// generateBatch generates one batch, leaving out the schedules in retry
// and adding to it those that fail now; more: a full batch was taken.
func (s *Service) generateBatch(ctx context.Context, retry *[]int) (made int, more bool, err error) {
	now := s.NowUTC()
	var failed []int
	err = txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		made, failed = 0, nil
		q := tx.TaskSchedule.Query().
			Where(taskschedule.Active(true), taskschedule.NextOccurrenceAtLTE(now)).
			Order(ent.Asc(taskschedule.FieldNextOccurrenceAt), ent.Asc(taskschedule.FieldID)).Limit(s.batch())
		if len(*retry) > 0 {
			q.Where(taskschedule.IDNotIn(*retry...))
		}
		if s.Dialect == dialect.Postgres {
			// Only the schedule rows: the eager loads below read their edges.
			q.ForUpdate(sql.WithLockAction(sql.SkipLocked), sql.WithLockTables(taskschedule.Table))
		}
		due, err := q.WithWatchers().WithTags(func(q *ent.TagQuery) { q.Select("id") }).
			WithPolicies(func(q *ent.CompliancePolicyQuery) { q.Select("id") }).All(ctx)
		if err != nil {
			return err
		}
		more = len(due) == s.batch()
		var events []*ent.TaskScheduleEventCreate
		groups := map[string]struct {
			advance
			ids []int
		}{}
		for _, sch := range due {
			evs, adv, n, err := s.generateOne(ctx, tx, sch, now)
			if err != nil {
				return fmt.Errorf("schedule %d: %w", sch.ID, err)
			}
			made += n
			events = append(events, evs...)
			if adv.retry {
				failed = append(failed, sch.ID)
			}
			g := groups[adv.key()]
			g.advance = adv
			g.ids = append(g.ids, sch.ID)
			groups[adv.key()] = g
		}
		if len(events) > 0 {
			if err := tx.TaskScheduleEvent.CreateBulk(events...).Exec(ctx); err != nil {
				return err
			}
		}
		// Schedules moving to the same occurrences (daily ones at the same
		// time) move in one statement.
		for _, g := range groups {
			u := tx.TaskSchedule.Update().Where(taskschedule.IDIn(g.ids...))
			if g.pause {
				u.SetActive(false).AddVersion(1) // as Pause does
			}
			if g.next == nil {
				u.ClearNextOccurrenceAt()
			} else {
				u.SetNextOccurrenceAt(*g.next)
			}
			if g.last != nil {
				u.SetLastOccurrenceAt(*g.last)
			}
			if err := u.Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	}, s.Tickets.RegisterWriter)
	if err == nil {
		*retry = append(*retry, failed...)
	}
	return made, more && err == nil, err
}

// generateOne makes sch's due occurrences (the latest maxMissed of those
// up to now) and says what to record and where the schedule moves.
//
// Each occurrence's task is made under a savepoint, so that whatever fails
// for one schedule undoes its own writes only and the batch goes on:
//   - a refusal (BAD_USER_INPUT, FORBIDDEN: the schedule names what a task
//     may no longer carry) is recorded SKIPPED, and the schedule moves on;
//   - an unexpected error is logged and the occurrence retried by the next
//     runs (the schedule stays at it, and this run takes it no more) until
//     RetryFor after it fell due; then it is recorded SKIPPED, saying an
//     internal error (the detail is the log's), and the schedule moves on.
//
// So an occurrence is made, or recorded SKIPPED with why, and one failing
// schedule holds up no other. Only the savepoint statements failing (the
// transaction itself broken) fail the batch.
func (s *Service) generateOne(ctx context.Context, tx *ent.Tx, sch *ent.TaskSchedule, now time.Time) ([]*ent.TaskScheduleEventCreate, advance, int, error) {
	adv := advance{last: sch.LastOccurrenceAt}
	var events []*ent.TaskScheduleEventCreate
	r, err := RuleOf(sch)
	if err != nil {
		// Valid when saved, so the zone database changed or the row was
		// edited by hand: paused, visibly, until it is changed and resumed.
		s.logError("schedule's recurrence no longer reads: paused until it is changed", sch.ID, err)
		events = append(events, tx.TaskScheduleEvent.Create().SetScheduleID(sch.ID).SetKind(taskscheduleevent.KindPAUSED).
			SetReason(runes.Cut("paused by socdesk: the schedule's recurrence no longer reads ("+err.Error()+"); change it, then resume the schedule", MaxReasonRunes)).
			SetChanges([]schematype.FieldChange{{Field: schematype.ChangeActive, From: true, To: false}}))
		return events, advance{next: sch.NextOccurrenceAt, last: sch.LastOccurrenceAt, pause: true}, 0, nil
	}
	due, skipped, first, last := r.Missed(sch.NextOccurrenceAt.Add(-time.Nanosecond), now, s.maxMissed())
	ev := func(kind taskscheduleevent.Kind, reason string, change any) {
		events = append(events, tx.TaskScheduleEvent.Create().SetScheduleID(sch.ID).SetKind(kind).SetReason(runes.Cut(reason, MaxReasonRunes)).
			SetChanges([]schematype.FieldChange{{Field: schematype.ChangeOccurrence, To: change}}))
	}
	if skipped > 0 {
		ev(taskscheduleevent.KindSKIPPED, fmt.Sprintf("%d missed occurrences skipped (at most %d are generated after a stop)", skipped, s.maxMissed()),
			map[string]any{"count": skipped, "first": first.UTC(), "last": last.UTC()})
	}
	made := 0
	for _, at := range due {
		var t *ent.Ticket
		var created bool
		err := savepoint(ctx, tx, func() (err error) {
			t, created, err = s.creator()(ctx, tx, s.taskOf(sch, r, at))
			return err
		})
		at := at.UTC()
		var broken *txBroken
		if errors.As(err, &broken) || (err != nil && ctx.Err() != nil) {
			return nil, adv, 0, err
		}
		if e, ok := errs.As(err); ok && (e.Code == errs.BadUserInput || e.Code == errs.Forbidden) {
			ev(taskscheduleevent.KindSKIPPED, "the task was refused: "+e.Error(), map[string]any{"at": at, "count": 1})
			continue
		}
		if err != nil {
			s.logError("making the task of occurrence "+at.Format(time.RFC3339)+" failed", sch.ID, err)
			if now.Sub(at) < RetryFor {
				adv.next, adv.retry = &at, true
				return events, adv, made, nil
			}
			ev(taskscheduleevent.KindSKIPPED, "the task could not be made (internal error), retried for "+RetryFor.String(),
				map[string]any{"at": at, "count": 1})
			continue
		}
		adv.last = &at
		if !created {
			continue // another attempt made it
		}
		made++
		ev(taskscheduleevent.KindGENERATED, "occurrence "+at.In(r.Location()).Format("2006-01-02 15:04 MST"),
			map[string]any{"at": at, "ticket": t.Number()})
	}
	if next, ok := r.Next(now); ok {
		next = next.UTC()
		adv.next = &next
	}
	return events, adv, made, nil
}

// txBroken is a savepoint statement's failure: the transaction is unusable.
type txBroken struct{ err error }

func (e *txBroken) Error() string { return e.err.Error() }
func (e *txBroken) Unwrap() error { return e.err }

// savepoint runs fn under a savepoint of tx, rolled back when fn fails.
func savepoint(ctx context.Context, tx *ent.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT schedule_occurrence"); err != nil {
		return &txBroken{err}
	}
	ferr := fn()
	if ferr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT schedule_occurrence"); err != nil {
			return &txBroken{errors.Join(ferr, err)}
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT schedule_occurrence"); err != nil {
		return &txBroken{errors.Join(ferr, err)}
	}
	return ferr
}

// taskOf is occurrence at's task of sch.
func (s *Service) taskOf(sch *ent.TaskSchedule, r *Rule, at time.Time) tasks.New {
	date := " — " + at.In(r.Location()).Format("2006-01-02")
	name := sch.Name
	for utf8.RuneCountInString(name)+utf8.RuneCountInString(date) > MaxNameRunes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	due := r.Due(at, sch.DueInDays).UTC()
	id, occ := sch.ID, at.UTC()
	t := tasks.New{Title: name + date, Description: sch.Description, SiteID: sch.SiteID, CategoryID: sch.CategoryID,
		OwnerID: sch.OwnerID, DueAt: &due, QueryFilter: sch.QueryFilter, QuerySearch: sch.QuerySearch,
		ScheduleID: &id, OccurrenceAt: &occ}
	for _, w := range sch.Edges.Watchers {
		t.Watchers = append(t.Watchers, tasks.Watcher{UserID: w.UserID, Notify: ticketwatcher.Notify(w.Notify)})
	}
	for _, tg := range sch.Edges.Tags {
		t.TagIDs = append(t.TagIDs, tg.ID)
	}
	for _, p := range sch.Edges.Policies {
		t.PolicyIDs = append(t.PolicyIDs, p.ID)
	}
	return t
}

func (s *Service) logError(msg string, id int, err error) {
	if s.Log != nil {
		s.Log.Error("schedules: "+msg, "schedule", id, "err", err)
	}
}
