package schedules

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
)

// DirectCreate is a Creator that writes the task's ticket itself, without
// the history tasks.Create records: it stands in until package tasks is
// merged, and is then replaced by tasks.Create.
func DirectCreate(ctx context.Context, tx *ent.Tx, t Task) (*ent.Ticket, bool, error) {
	ctx = authz.System(ctx)
	if t.ScheduleID != nil && t.OccurrenceAt != nil {
		made, err := tx.Ticket.Query().Where(ticket.ScheduleID(*t.ScheduleID), ticket.OccurrenceAt(*t.OccurrenceAt)).Exist(ctx)
		if err != nil || made {
			return nil, false, err
		}
	}
	cat := t.CategoryID
	if cat == nil {
		id, err := tx.Category.Query().Where(category.WorkflowEQ(category.WorkflowTASK)).FirstID(ctx)
		if ent.IsNotFound(err) {
			// Replicas may make it together: one does.
			if err = tx.Category.Create().SetName("Tasks").SetWorkflow(category.WorkflowTASK).
				OnConflictColumns(category.FieldName).DoNothing().Exec(ctx); err == nil || err.Error() == "sql: no rows in result set" {
				id, err = tx.Category.Query().Where(category.WorkflowEQ(category.WorkflowTASK)).FirstID(ctx)
			}
		}
		if err != nil {
			return nil, false, err
		}
		cat = &id
	}
	c := tx.Ticket.Create().SetKind(ticket.KindTASK).SetTitle(t.Title).SetBody(t.Description).
		SetBodyFormat(ticket.BodyFormatMARKDOWN).SetSiteID(t.SiteID).SetCategoryID(*cat).SetStatus(ticket.StatusOPEN).
		SetNillableDueAt(t.DueAt).SetNillableScheduleID(t.ScheduleID).SetNillableOccurrenceAt(t.OccurrenceAt).
		SetNillableQuerySearch(t.QuerySearch).AddTagIDs(t.TagIDs...).AddPolicyIDs(t.PolicyIDs...)
	if len(t.QueryFilter) > 0 {
		c.SetQueryFilter(t.QueryFilter)
	}
	if t.OwnerID != nil {
		c.AddAssigneeIDs(*t.OwnerID)
	}
	tk, err := c.Save(ctx)
	if err != nil {
		return nil, false, err
	}
	return tk, true, nil
}
