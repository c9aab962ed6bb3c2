package tickets

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/internal/errs"
)

// ExplanationStep is a step of an explanation request on a ticket, as
// package explanations describes it to the ticket's history.
type ExplanationStep struct {
	// Change is the history's ChangeExplanation entry ({id, action, from,
	// to, role}).
	Change map[string]any
	// Status is the ticket's explanation status after the step (the status
	// of its latest request); nil leaves it.
	Status *schematype.ExplanationStatus
}

// Explain takes a step of an explanation request on ticket id as one change
// of the ticket: write runs in the change's transaction with the ticket
// locked (the viewer must see it: NOT_FOUND naming field otherwise), writes
// the request's side and describes the step; the ticket's explanation status
// follows it, its version increments, and one history entry of kind
// (EXPLANATION_REQUESTED or EXPLANATION_UPDATED) records the step and, when
// it moved, the status, announced and followed like every change.
func (s *Service) Explain(ctx context.Context, field string, id int, kind ticketevent.Kind,
	write func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ExplanationStep, error),
) (*ent.Ticket, error) {
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		t, evs, err := s.change(ctx, tx, id, nil, kind, "", func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
			step, err := write(ctx, tx, old)
			if err != nil {
				return nil, err
			}
			changes := []schematype.FieldChange{{Field: schematype.ChangeExplanation, To: step.Change}}
			if to := step.Status; to != nil && (old.ExplanationStatus == nil || *old.ExplanationStatus != *to) {
				var from any
				if old.ExplanationStatus != nil {
					from = *old.ExplanationStatus
				}
				m.SetExplanationStatus(*to)
				changes = append(changes, schematype.FieldChange{Field: schematype.ChangeExplanationStatus, From: from, To: *to})
			}
			return changes, nil
		})
		if e, ok := errs.As(err); ok && e.Code == errs.NotFound && e.Field == "" {
			return nil, nil, &errs.Error{Code: errs.NotFound, Field: field, Message: e.Message}
		}
		return t, evs, err
	})
}
