package tickets

import (
	"context"
	"slices"
	"time"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
)

// TaskUpdate changes a task's fields (GraphQL UpdateTaskInput); nil fields
// stay. Its status moves through the workflow (Transition) only.
type TaskUpdate struct {
	Title       *string
	Description *string
	OwnerID     *int
	ClearOwner  *bool
	DueAt       *time.Time
	ClearDueAt  *bool
	TagIDs      []int
	PolicyIDs   []int
}

// UpdateTask edits a task as Update edits a ticket (one UPDATED entry, the
// optimistic version), its owner and cited policies included. Only editors
// may (the data layer's policy): an owner without TICKET_EDIT works the
// task through its transitions and memos.
func (s *Service) UpdateTask(ctx context.Context, id int, in TaskUpdate, expectedVersion *int) (*ent.Ticket, error) {
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		return s.change(ctx, tx, id, expectedVersion, ticketevent.KindUPDATED, "", func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
			if old.Kind != ticket.KindTASK {
				return nil, errs.New(errs.NotFound, "no task with this id")
			}
			ch, err := s.applyUpdate(ctx, old, UpdateInput{Title: in.Title, Body: in.Description, DueAt: in.DueAt, ClearDueAt: in.ClearDueAt, TagIDs: in.TagIDs, PolicyIDs: in.PolicyIDs}, m)
			if err != nil {
				return nil, err
			}
			before, _ := authz.People(old)
			before = sorted(before)
			switch {
			case in.ClearOwner != nil && *in.ClearOwner:
				if in.OwnerID != nil {
					return nil, errs.Invalid("input.clearOwner", "cannot be given with ownerID")
				}
				if len(before) > 0 {
					m.ClearAssignees()
					ch = append(ch, schematype.FieldChange{Field: schematype.ChangeAssignees, From: before, To: []int{}})
				}
			case in.OwnerID != nil && !slices.Equal(before, []int{*in.OwnerID}):
				if err := s.checkRefs(ctx, map[string][]int{"input.ownerID": {*in.OwnerID}}, user.Table); err != nil {
					return nil, err
				}
				if err := s.checkCanSee(ctx, "input.ownerID", []int{*in.OwnerID}, old.SiteID); err != nil {
					return nil, err
				}
				m.ClearAssignees()
				m.AddAssigneeIDs(*in.OwnerID)
				ch = append(ch, schematype.FieldChange{Field: schematype.ChangeAssignees, From: before, To: []int{*in.OwnerID}})
			}
			return ch, nil
		})
	})
}
