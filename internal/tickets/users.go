package tickets

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/site"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
)

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
