package tickets

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/evidence"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketlink"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

// Detections: what ingestion (package ingest) does to tickets, beside
// opening them (PrepareCreate, CreateTx).

// PrepareDetections checks, once for many events, what the DETECTION
// tickets of a rule share (in without title and detection: its category,
// site, people, tags); WithDetection then checks each event's own part.
func (s *Service) PrepareDetections(ctx context.Context, in CreateInput) (*Prepared, error) {
	in.Kind = ticket.KindDETECTION
	if err := s.validateRefs(ctx, &in); err != nil {
		return nil, err
	}
	cat, err := s.Client.Category.Get(authz.System(ctx), in.CategoryID)
	if err != nil {
		return nil, err
	}
	if cat.Workflow == category.WorkflowTASK {
		return nil, errs.Invalid("input.categoryID", "the category holds tasks, not detections")
	}
	return &Prepared{in: in, cat: cat}, nil
}

// WithDetection is p for another event of the same rule: its title,
// detection fields and evidence checked alone, the rest (category, site,
// people, tags) as p checked it.
func (p *Prepared) WithDetection(title string, d *Detection, records []any) (*Prepared, error) {
	if err := validateTitle("event.title", title); err != nil {
		return nil, err
	}
	if err := validateDetection("event", d); err != nil {
		return nil, err
	}
	objs, err := validateEvidence("event", ticket.KindDETECTION, 0, records)
	if err != nil {
		return nil, err
	}
	q := *p
	q.in.Title, q.in.Detection, q.in.Evidence, q.records = title, d, records, objs
	return &q, nil
}

// Redetection is a repeat of the attack a DETECTION ticket stands for.
type Redetection struct {
	// At is when it was detected (it moves lastDetectedAt when later).
	At time.Time
	// Record is the event, kept as an evidence record.
	Record map[string]any
	// Bound is how many evidence records the ticket keeps: the oldest are
	// dropped past it, and counted in evidenceDropped.
	Bound int
	// Reopen reopens the ticket first when it is closed.
	Reopen bool
	// Reason is the reopening's, in the history.
	Reason string
}

// Redetect counts a repeat on the ticket id in tx: duplicateCount + 1,
// lastDetectedAt moved, the record appended (the oldest dropped past the
// bound) and a DUPLICATE history entry; a closed ticket is first reopened
// (TRANSITIONED, as the workflow reopens it for an editor) when r.Reopen.
// The ticket's row lock serializes repeats of one attack. The caller runs
// Follow with the entries.
func (s *Service) Redetect(ctx context.Context, tx *ent.Tx, id int, r Redetection) (*ent.Ticket, []*ent.TicketEvent, error) {
	var evs []*ent.TicketEvent
	old, err := s.lock(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	if old.Kind != ticket.KindDETECTION {
		return nil, nil, errs.Invalid("ticketID", "only DETECTION tickets count repeats")
	}
	if r.Reopen && old.Status == ticket.StatusCLOSED {
		d := workflow.Decide(authz.WorkflowTicket(old), workflow.Reopen, nil, workflow.Editor, r.Reason)
		if d.Outcome != workflow.Allowed {
			return nil, nil, errs.New(errs.InvalidTransition, "%s", d.Why)
		}
		t, tevs, err := s.change(ctx, tx, id, nil, ticketevent.KindTRANSITIONED, r.Reason, func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
			m.SetStatus(d.To)
			return []schematype.FieldChange{{Field: schematype.ChangeStatus, From: old.Status, To: d.To}}, nil
		})
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, tevs...)
		old = t
	}
	had, err := tx.Evidence.Query().Where(evidence.TicketID(id)).Count(ctx)
	if err != nil {
		return nil, nil, err
	}
	drop := 0
	if r.Bound > 0 && had+1 > r.Bound {
		drop = had + 1 - r.Bound
	}
	if drop > 0 {
		oldest := func(sel *sql.Selector) {
			t := sql.Table(evidence.Table)
			sel.Where(sql.In(sel.C(evidence.FieldID),
				sql.Select(t.C(evidence.FieldID)).From(t).Where(sql.EQ(t.C(evidence.FieldTicketID), id)).
					OrderBy(t.C(evidence.FieldID)).Limit(drop)))
		}
		if _, err := tx.Evidence.Delete().Where(oldest).Exec(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Evidence.Create().SetTicketID(id).SetRecord(r.Record).Exec(ctx); err != nil {
		return nil, nil, err
	}
	changes := []schematype.FieldChange{
		{Field: schematype.ChangeDuplicateCount, From: old.DuplicateCount, To: old.DuplicateCount + 1},
		{Field: schematype.ChangeEvidence, To: map[string]any{"count": 1, "total": had + 1 - drop}},
	}
	u := tx.Ticket.UpdateOne(old).AddDuplicateCount(1)
	if at := r.At.UTC().Truncate(time.Microsecond); old.LastDetectedAt == nil || at.After(*old.LastDetectedAt) {
		u.SetLastDetectedAt(at)
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeLastDetectedAt, From: old.LastDetectedAt, To: at})
	}
	if drop > 0 {
		u.AddEvidenceDropped(drop)
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeEvidenceDropped, From: old.EvidenceDropped, To: old.EvidenceDropped + drop})
	}
	t, err := u.Save(ctx)
	if err != nil {
		return nil, nil, err
	}
	ev, err := record(ctx, tx, t, ticketevent.KindDUPLICATE, changes, "")
	if err != nil {
		return nil, nil, err
	}
	return t, append(evs, ev), nil
}

// LinkRepeat links the ticket opened for a repeat of an attack (from) to
// the one that counted it before (to), RELATED, recorded on both: in tx,
// the caller runs Follow with the entries.
func (s *Service) LinkRepeat(ctx context.Context, tx *ent.Tx, from, to *ent.Ticket) ([]*ent.TicketEvent, error) {
	c := tx.TicketLink.Create().SetFromID(from.ID).SetToID(to.ID).SetKind(ticketlink.KindRELATED)
	if v := viewer.FromContext(ctx); v != nil {
		c.SetCreatedByID(v.UserID)
	}
	l, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	return linkHistory(ctx, tx, ticketevent.KindLINKED, l, from, to)
}
