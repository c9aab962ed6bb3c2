package tickets

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/memo"
	"socdesk/ent/site"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketapprover"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
)

// DeleteUser deletes a user who has no part in any ticket's record. One who
// is assigned, approves, registered a ticket, wrote a memo, watches one or
// acted in any history stays: deleting them would change tickets without a
// trace and blank the record of who did what.
func (s *Service) DeleteUser(ctx context.Context, id int) error {
	// Only those who may change users learn what a user takes part in.
	if err := user.Policy.EvalMutation(ctx, s.Client.User.UpdateOneID(id).Mutation()); err != nil {
		return err
	}
	sys := authz.System(ctx) // references the viewer may not see still count
	for what, exists := range map[string]func(context.Context) (bool, error){
		"is assigned to tickets":    s.Client.TicketAssignee.Query().Where(ticketassignee.UserID(id)).Exist,
		"approves tickets":          s.Client.TicketApprover.Query().Where(ticketapprover.UserID(id)).Exist,
		"registered tickets":        s.Client.Ticket.Query().Where(ticket.RegisteredByID(id)).Exist,
		"wrote memos":               s.Client.Memo.Query().Where(memo.AuthorID(id)).Exist,
		"watches tickets":           s.Client.TicketWatcher.Query().Where(ticketwatcher.UserID(id)).Exist,
		"appears in ticket history": s.Client.TicketEvent.Query().Where(ticketevent.ActorID(id)).Exist,
	} {
		ok, err := exists(sys)
		if err != nil {
			return err
		}
		if ok {
			return errs.New(errs.Conflict, "the user %s: they are part of the tickets' record and cannot be deleted (remove their permissions and tokens instead)", what)
		}
	}
	return s.Client.User.DeleteOneID(id).Exec(ctx)
}

// checkCanSee refuses, as bad input in field, people who could not see a
// ticket of siteID: an assignee, approver or watcher must be able to open it.
func (s *Service) checkCanSee(ctx context.Context, field string, ids []int, siteID int) error {
	if len(ids) == 0 {
		return nil
	}
	users, err := s.Client.User.Query().Where(user.IDIn(ids...)).
		WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }).All(authz.System(ctx))
	if err != nil {
		return err
	}
	for _, u := range users {
		if !authz.ScopeOf(authz.AsViewer(u)).SeesTicket(siteID) {
			return errs.Invalid(field, "%s cannot see tickets of this site (needs TICKET_VIEW and the site)", u.Login)
		}
	}
	return nil
}
