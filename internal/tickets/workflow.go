package tickets

import (
	"context"
	"slices"
	"strings"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

// MaxReasonLength bounds a transition's reason.
const MaxReasonLength = 2000

// TransitionInput asks for a workflow transition (GraphQL transitionTicket).
type TransitionInput struct {
	Action workflow.Action
	// ToStatus names the target of a MOVE (incidents).
	ToStatus        *ticket.Status
	Reason          *string
	ExpectedVersion *int
}

// Transition takes a workflow action on a ticket, as the workflow table
// allows the viewer: INVALID_TRANSITION when the table has no such move from
// the ticket's status, FORBIDDEN when it is not the viewer's to take,
// CONFLICT when expectedVersion is stale. Concurrent transitions of one
// ticket queue on its row lock, so two can never both win.
func (s *Service) Transition(ctx context.Context, id int, in TransitionInput) (*ent.Ticket, error) {
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		return s.transition(ctx, tx, id, in)
	})
}

func (s *Service) transition(ctx context.Context, tx *ent.Tx, id int, in TransitionInput) (*ent.Ticket, []*ent.TicketEvent, error) {
	reason := ""
	if in.Reason != nil {
		reason = strings.TrimSpace(*in.Reason)
		if n := len([]rune(reason)); n > MaxReasonLength {
			return nil, nil, errs.Invalid("reason", "must be at most %d characters", MaxReasonLength)
		}
	}
	if in.Action == workflow.Move && in.ToStatus == nil {
		return nil, nil, errs.Invalid("toStatus", "is required to MOVE a ticket")
	}
	if in.Action != workflow.Move && in.ToStatus != nil {
		return nil, nil, errs.Invalid("toStatus", "is only for MOVE")
	}
	return s.change(ctx, tx, id, in.ExpectedVersion, ticketevent.KindTRANSITIONED, reason, func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
		// A target outside the workflow is bad input (an action the workflow
		// lacks altogether is an invalid transition, below).
		if w := authz.WorkflowTicket(old).Workflow; in.ToStatus != nil && workflow.HasAction(w, in.Action) && !workflow.Valid(w, *in.ToStatus) {
			return nil, errs.Invalid("toStatus", "%s is not a status of the %s workflow", *in.ToStatus, w)
		}
		d := workflow.Decide(authz.WorkflowTicket(old), in.Action, in.ToStatus, Roles(ctx, old), reason)
		switch d.Outcome {
		case workflow.Invalid:
			return nil, errs.New(errs.InvalidTransition, "%s", d.Why)
		case workflow.Forbidden:
			return nil, errs.New(errs.Forbidden, "forbidden: %s", d.Why)
		case workflow.Unmet:
			if strings.Contains(d.Why, "reason") {
				return nil, errs.Invalid("reason", "%s", d.Why)
			}
			return nil, errs.New(errs.InvalidTransition, "%s", d.Why)
		}
		m.SetStatus(d.To) // closedAt follows, by the Ticket's hook; change records it
		changes := []schematype.FieldChange{{Field: schematype.ChangeStatus, From: old.Status, To: d.To}}
		if old.Kind == ticket.KindTASK { // a task's resolution is the reason it was closed or invalidated for
			changes = append(changes, taskResolution(old, d.To, reason, m)...)
		}
		assignees, _ := authz.People(old)
		if before := sorted(assignees); d.ClearsAssignees && len(before) > 0 {
			m.ClearAssignees()
			changes = append(changes, schematype.FieldChange{Field: schematype.ChangeAssignees, From: before, To: []int{}})
		}
		return changes, nil
	})
}

// Roles is how the viewer stands to t (loaded by lock, with its people).
func Roles(ctx context.Context, t *ent.Ticket) workflow.Role {
	assignees, approvers := authz.People(t)
	return authz.RolesOf(viewer.FromContext(ctx), t.SiteID, assignees, approvers)
}

// AvailableActions is what the viewer may do to t now, loading what the
// table needs when t was read without it.
func (s *Service) AvailableActions(ctx context.Context, t *ent.Ticket) ([]workflow.Option, error) {
	if t.Edges.Category == nil || !authz.HasPeople(t) {
		var err error
		t, err = authz.WithPeople(s.Client.Ticket.Query().Where(ticket.ID(t.ID)).WithCategory()).Only(ctx)
		if err != nil {
			return nil, err
		}
	}
	return workflow.Available(authz.WorkflowTicket(t), Roles(ctx, t)), nil
}

// AssignInput replaces a ticket's assignees and/or approvers (GraphQL
// assignTicket); nil leaves them as they are.
type AssignInput struct {
	AssigneeIDs     []int
	ApproverIDs     []int
	ExpectedVersion *int
}

// Assign sets who works on a ticket and who approves it. An approval ticket
// that is NEW becomes ASSIGNED with an assignee, and an ASSIGNED one with no
// assignee left is NEW again. Only editors assign (the data layer's policy).
func (s *Service) Assign(ctx context.Context, id int, in AssignInput) (*ent.Ticket, error) {
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		return s.assign(ctx, tx, id, in)
	})
}

func (s *Service) assign(ctx context.Context, tx *ent.Tx, id int, in AssignInput) (*ent.Ticket, []*ent.TicketEvent, error) {
	if in.AssigneeIDs == nil && in.ApproverIDs == nil {
		return nil, nil, errs.Invalid("assigneeIDs", "give assigneeIDs, approverIDs or both")
	}
	var err error
	for _, f := range []struct {
		field string
		ids   *[]int
	}{{"assigneeIDs", &in.AssigneeIDs}, {"approverIDs", &in.ApproverIDs}} {
		if *f.ids == nil {
			continue
		}
		if *f.ids, err = distinct(f.field, *f.ids, MaxPeople); err != nil {
			return nil, nil, err
		}
		slices.Sort(*f.ids) // compared with, and recorded like, the sorted ids before
	}
	return s.change(ctx, tx, id, in.ExpectedVersion, ticketevent.KindASSIGNED, "", func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
		// People are checked once the ticket is found: one who cannot see it
		// hears NOT_FOUND, whoever they name.
		if err := s.checkRefs(ctx, map[string][]int{"assigneeIDs": in.AssigneeIDs, "approverIDs": in.ApproverIDs}, user.Table); err != nil {
			return nil, err
		}
		if err := s.checkCanSee(ctx, "assigneeIDs", in.AssigneeIDs, old.SiteID); err != nil {
			return nil, err
		}
		if err := s.checkCanSee(ctx, "approverIDs", in.ApproverIDs, old.SiteID); err != nil {
			return nil, err
		}
		var changes []schematype.FieldChange
		wt := authz.WorkflowTicket(old)
		if workflow.OneOwner(wt.Workflow) {
			if len(in.AssigneeIDs) > 1 {
				return nil, errs.Invalid("assigneeIDs", "a task has one owner, not %d", len(in.AssigneeIDs))
			}
			if len(in.ApproverIDs) > 0 {
				return nil, errs.Invalid("approverIDs", "a task has no approvers")
			}
		}
		if in.AssigneeIDs != nil {
			before, _ := authz.People(old)
			before = sorted(before)
			if !slices.Equal(before, in.AssigneeIDs) {
				m.ClearAssignees()
				m.AddAssigneeIDs(in.AssigneeIDs...)
				changes = append(changes, schematype.FieldChange{Field: schematype.ChangeAssignees, From: before, To: in.AssigneeIDs})
			}
			wt.HasAssignee = len(in.AssigneeIDs) > 0
		}
		if in.ApproverIDs != nil {
			_, before := authz.People(old)
			before = sorted(before)
			if !slices.Equal(before, in.ApproverIDs) {
				m.ClearApprovers()
				m.AddApproverIDs(in.ApproverIDs...)
				changes = append(changes, schematype.FieldChange{Field: schematype.ChangeApprovers, From: before, To: in.ApproverIDs})
			}
		}
		// Given assignees settle the status even when they are the same ones
		// (a RESTARTed ticket that keeps its assignee becomes ASSIGNED again);
		// approvers alone never move it.
		if to := workflow.AfterAssignment(wt); to != old.Status && in.AssigneeIDs != nil {
			m.SetStatus(to)
			changes = append(changes, schematype.FieldChange{Field: schematype.ChangeStatus, From: old.Status, To: to})
		}
		return changes, nil
	})
}

// sorted is a sorted copy of ids (empty, not nil, for an empty list: the
// history records [] there): the history lists people and tags by id.
func sorted(ids []int) []int {
	if ids == nil {
		return nil
	}
	out := append(make([]int, 0, len(ids)), ids...)
	slices.Sort(out)
	return out
}

// taskResolution keeps a task's resolution with its status: the note of the
// findings or the reason once CLOSED or INVALID, none when OPEN again.
func taskResolution(old *ent.Ticket, to ticket.Status, reason string, m *ent.TicketMutation) []schematype.FieldChange {
	var from any
	if old.Resolution != nil {
		from = *old.Resolution
	}
	if to == ticket.StatusOPEN {
		if old.Resolution == nil {
			return nil
		}
		m.ClearResolution()
		return []schematype.FieldChange{{Field: schematype.ChangeResolution, From: from, To: nil}}
	}
	m.SetResolution(reason)
	return []schematype.FieldChange{{Field: schematype.ChangeResolution, From: from, To: reason}}
}
