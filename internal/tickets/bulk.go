package tickets

import (
	"context"
	"strings"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
	"socdesk/internal/workflow"
)

// MaxBulk bounds the tickets of one bulk call.
const MaxBulk = 1000

// BulkChange is what a bulk action does to each ticket (GraphQL
// BulkTicketChange): the list's toolbar actions. Fields left nil do nothing.
type BulkChange struct {
	AssigneeIDs   []int
	ApproverIDs   []int
	Action        *workflow.Action // RESTART or CLOSE
	TagIDs        []int            // replaces the tags; empty removes them all
	AttackVerdict *ticket.AttackVerdict
	Incident      *bool
}

// BulkResult is the outcome for one ticket: the ticket, or its error.
type BulkResult struct {
	ID     int
	Ticket *ent.Ticket
	Err    error
}

// Bulk applies change to each ticket through the same rules as the
// single-ticket operations, each ticket in a transaction of its own: one
// ticket's failure leaves the others' success in place.
func (s *Service) Bulk(ctx context.Context, ids []int, change BulkChange) ([]BulkResult, error) {
	switch {
	case len(ids) == 0:
		return nil, errs.Invalid("ids", "give at least one ticket")
	case len(ids) > MaxBulk:
		return nil, errs.Invalid("ids", "at most %d tickets per call, not %d", MaxBulk, len(ids))
	case change.AssigneeIDs == nil && change.ApproverIDs == nil && change.Action == nil &&
		change.TagIDs == nil && change.AttackVerdict == nil && change.Incident == nil:
		return nil, errs.Invalid("change", "names no change")
	case change.Action != nil && *change.Action != workflow.Restart && *change.Action != workflow.Close:
		return nil, errs.Invalid("change.action", "bulk actions are RESTART and CLOSE")
	}
	ids, err := distinct("ids", ids, MaxBulk)
	if err != nil {
		return nil, err
	}
	out := make([]BulkResult, len(ids))
	for i, id := range ids {
		out[i].ID = id
		out[i].Ticket, out[i].Err = s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
			return s.bulkOne(ctx, tx, id, change)
		})
		if e, ok := errs.As(out[i].Err); ok && e.Field != "" {
			// The single-ticket rules name their own arguments; here they sit in change.
			out[i].Err = &errs.Error{Code: e.Code, Field: "change." + strings.TrimPrefix(e.Field, "input."), Message: e.Message, Err: e.Err}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func (s *Service) bulkOne(ctx context.Context, tx *ent.Tx, id int, c BulkChange) (*ent.Ticket, []*ent.TicketEvent, error) {
	var (
		all []*ent.TicketEvent
		t   *ent.Ticket
	)
	step := func(fn func() (*ent.Ticket, []*ent.TicketEvent, error)) error {
		got, evs, err := fn()
		if err != nil {
			return err
		}
		t = got
		all = append(all, evs...)
		return nil
	}
	// A RESTART starts the ticket over first, so that assignees given with it
	// are the new ones, not the ones it removes.
	restart := c.Action != nil && *c.Action == workflow.Restart
	if restart {
		if err := step(func() (*ent.Ticket, []*ent.TicketEvent, error) {
			return s.transition(ctx, tx, id, TransitionInput{Action: *c.Action})
		}); err != nil {
			return nil, nil, err
		}
	}
	if c.AssigneeIDs != nil || c.ApproverIDs != nil {
		if err := step(func() (*ent.Ticket, []*ent.TicketEvent, error) {
			return s.assign(ctx, tx, id, AssignInput{AssigneeIDs: c.AssigneeIDs, ApproverIDs: c.ApproverIDs})
		}); err != nil {
			return nil, nil, err
		}
	}
	if c.TagIDs != nil || c.AttackVerdict != nil || c.Incident != nil {
		if err := step(func() (*ent.Ticket, []*ent.TicketEvent, error) {
			return s.update(ctx, tx, id, UpdateInput{TagIDs: c.TagIDs, AttackVerdict: c.AttackVerdict, Incident: c.Incident}, nil)
		}); err != nil {
			return nil, nil, err
		}
	}
	if c.Action != nil && !restart {
		if err := step(func() (*ent.Ticket, []*ent.TicketEvent, error) {
			return s.transition(ctx, tx, id, TransitionInput{Action: *c.Action})
		}); err != nil {
			return nil, nil, err
		}
	}
	return t, all, nil
}
