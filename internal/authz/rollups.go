package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/statusday"
	"socdesk/ent/statushour"
)

// StatusDayPolicy: the trend's rollups are read like tickets, within the
// viewer's sites; only the ticket service writes them (as the system).
func StatusDayPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{DenyIfNoViewer(), privacy.StatusDayQueryRuleFunc(func(ctx context.Context, q *ent.StatusDayQuery) error {
			return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { q.Where(OnSites(s, statusday.SiteIDIn)) })
		})},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// StatusHourPolicy: as StatusDayPolicy.
func StatusHourPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{DenyIfNoViewer(), privacy.StatusHourQueryRuleFunc(func(ctx context.Context, q *ent.StatusHourQuery) error {
			return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { q.Where(OnSites(s, statushour.SiteIDIn)) })
		})},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}
