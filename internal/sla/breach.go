package sla

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
)

// Annotator appends to a ticket's history in a transaction of its own,
// followed and announced as every change (tickets.Service.Annotate).
type Annotator interface {
	Annotate(ctx context.Context, field string, id int,
		fn func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error)) error
}

// BreachArgs is the job that records a clock's breach at its due. It is
// inserted whenever a due is set or moved (unique by its arguments), and
// does nothing when it finds the ticket's due moved since, the clock met,
// paused or already breached: only the job of the current due acts.
type BreachArgs struct {
	TicketID int                 `json:"ticket_id"`
	Clock    schematype.SLAClock `json:"clock"`
	Due      time.Time           `json:"due"`
}

// Kind implements river.JobArgs.
func (BreachArgs) Kind() string { return "sla.breach" }

type breachWorker struct {
	river.WorkerDefaults[BreachArgs]
	s *Service
}

func (w *breachWorker) Work(ctx context.Context, job *river.Job[BreachArgs]) error {
	// A job worked before its due (a replica's clock behind the
	// database's) waits for it.
	if early := job.Args.Due.Sub(w.s.NowUTC()); early > 0 {
		return river.JobSnooze(early)
	}
	_, err := w.s.Breach(ctx, job.Args)
	return err
}

// Register adds the breach worker to the job engine.
func (s *Service) Register() {
	river.AddWorker(s.Jobs.Workers(), river.Worker[BreachArgs](&breachWorker{s: s}))
}

// Breach records a's clock breached, unless it is not (yet, or any more):
// an SLA_BREACHED history entry with the clock and its due, which the live
// stream publishes and the notifications tell the assignees, their
// escalation contacts and the watchers of. It reports whether it recorded.
func (s *Service) Breach(ctx context.Context, a BreachArgs) (bool, error) {
	now := s.NowUTC()
	done := false
	err := s.Tickets.Annotate(authz.System(ctx), "id", a.TicketID, func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		f := fieldsOf(t, a.Clock)
		due := *f.due
		if t.Kind == ticket.KindTASK || due == nil || !due.Equal(a.Due) || *f.done != nil || *f.breached != nil ||
			t.SLAPausedSince != nil || now.Before(*due) {
			return "", nil, nil
		}
		n := *t
		*fieldsOf(&n, a.Clock).breached = &now
		if err := s.save(ctx, tx, t, &n); err != nil {
			return "", nil, err
		}
		done = true
		return ticketevent.KindSLA_BREACHED, []schematype.FieldChange{{Field: schematype.ChangeSLA,
			To: map[string]any{"clock": a.Clock, "dueAt": due.UTC().Format(time.RFC3339Nano)}}}, nil
	})
	if e, ok := errs.As(err); ok && e.Code == errs.NotFound {
		return false, nil // deleted since
	}
	return done && err == nil, err
}
