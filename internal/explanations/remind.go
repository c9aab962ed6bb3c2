package explanations

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/jobs"
	"socdesk/internal/tickets"
)

// RemindEvery is how often due reminders are looked for.
const RemindEvery = time.Minute

// maxRemindersPerRun bounds one run's reminders (the next run takes the rest).
const maxRemindersPerRun = 100

// RemindArgs is the periodic job that reminds violators of deadlines.
type RemindArgs struct{}

// Kind implements river.JobArgs.
func (RemindArgs) Kind() string { return "explanations.remind" }

type remindWorker struct {
	river.WorkerDefaults[RemindArgs]
	s *Service
}

func (w *remindWorker) Work(ctx context.Context, _ *river.Job[RemindArgs]) error {
	_, err := w.s.RemindDue(ctx)
	return err
}

// Register adds the reminder job to the job engine.
func (s *Service) Register() {
	jobs.Every(s.Jobs, RemindEvery, river.Worker[RemindArgs](&remindWorker{s: s}))
}

// RemindDue reminds the violator of every request waiting for them whose
// deadline is within RemindBefore and not yet passed, once per waiting
// period (reminded_at, cleared when the request waits for them again): a
// REMIND step, a history entry and a message each. It returns how many.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	ctx = authz.System(ctx)
	now := s.NowUTC()
	ids, err := s.Client.ExplanationRequest.Query().Where(
		explanationrequest.StatusIn(Waiting...), explanationrequest.RemindedAtIsNil(),
		explanationrequest.DeadlineGT(now), explanationrequest.DeadlineLTE(now.Add(s.RemindBefore)),
	).Order(ent.Asc(explanationrequest.FieldDeadline)).Limit(maxRemindersPerRun).IDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		done, err := s.remind(ctx, id, now)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// remind reminds request id's violator unless another replica or a step
// got there first.
func (s *Service) remind(ctx context.Context, id int, now time.Time) (bool, error) {
	cur, err := s.Client.ExplanationRequest.Get(ctx, id)
	if err != nil {
		return false, err
	}
	done := false
	_, err = s.Tickets.Explain(ctx, "id", cur.TicketID, ticketevent.KindEXPLANATION_UPDATED, func(ctx context.Context, tx *ent.Tx, _ *ent.Ticket) (tickets.ExplanationStep, error) {
		old, err := s.locked(ctx, tx, id)
		if err != nil {
			return tickets.ExplanationStep{}, err
		}
		if old.RemindedAt != nil || !slices.Contains(Waiting, old.Status) {
			return tickets.ExplanationStep{}, errAlready
		}
		r, err := tx.ExplanationRequest.UpdateOne(old).SetRemindedAt(now).Save(ctx)
		if err != nil {
			return tickets.ExplanationStep{}, err
		}
		from := old.Status
		done = true
		return s.taken(ctx, tx, r, &from, Remind, Actor{Role: System}, "", nil, nil)
	})
	if errors.Is(err, errAlready) {
		return false, nil
	}
	return done && err == nil, err
}

// errAlready rolls back a reminder someone else has sent.
var errAlready = errors.New("already reminded")
