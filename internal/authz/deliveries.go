package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/delivery"
	"socdesk/ent/playbookrun"
	"socdesk/ent/predicate"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/internal/viewer"
)

// DeliveryPolicy: a delivery is read like the history of its ticket (see
// OfTicket), by its recipient too only while they see the ticket; a
// digest, which spans tickets, by its recipient and admins only. Editors of the ticket's site make
// propagations; the delivery workers (the system context) and admins
// (retrying) change them.
func DeliveryPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.DeliveryQueryRuleFunc(func(ctx context.Context, q *ent.DeliveryQuery) error {
				v := viewer.FromContext(ctx)
				q.Where(delivery.Or(
					delivery.And(delivery.RecipientID(v.UserID), delivery.SiteIDIsNil()), // their digests
					delivery.And(delivery.SiteIDNotNil(), DeliveryWhere(ScopeOf(v))),
				))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.OnMutationOperation(privacy.DeliveryMutationRuleFunc(func(ctx context.Context, m *ent.DeliveryMutation) error {
				site, ok := m.SiteID()
				return editsSite(ctx, site, ok)
			}), ent.OpCreate),
			privacy.AlwaysDenyRule(),
		},
	}
}

// DeliveryWhere is OfTicket for deliveries.
func DeliveryWhere(s Scope) predicate.Delivery {
	return OfTicket(s, TicketColumns[predicate.Delivery]{
		HasTicketWith: delivery.HasTicketWith, TicketIDIsNil: delivery.TicketIDIsNil,
		SiteIDIn: delivery.SiteIDIn, Or: delivery.Or, And: delivery.And,
	})
}

// PlaybookRunPolicy: a run is read like the history of its ticket; editors
// of the ticket's site start runs; the workers (the system context) record
// their progress.
func PlaybookRunPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			privacy.PlaybookRunQueryRuleFunc(func(ctx context.Context, q *ent.PlaybookRunQuery) error {
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) {
					q.Where(OfTicket(s, TicketColumns[predicate.PlaybookRun]{
						HasTicketWith: playbookrun.HasTicketWith, TicketIDIsNil: playbookrun.TicketIDIsNil,
						SiteIDIn: playbookrun.SiteIDIn, Or: playbookrun.Or, And: playbookrun.And,
					}))
				})
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.OnMutationOperation(privacy.PlaybookRunMutationRuleFunc(func(ctx context.Context, m *ent.PlaybookRunMutation) error {
				site, ok := m.SiteID()
				return editsSite(ctx, site, ok)
			}), ent.OpCreate),
			privacy.AlwaysDenyRule(),
		},
	}
}

// editsSite allows a viewer with TICKET_EDIT on the site a row is created
// for.
func editsSite(ctx context.Context, site int, known bool) error {
	v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
	if err != nil {
		return err
	}
	if !known || !ScopeOf(v).SeesTicket(site) {
		return privacy.Denyf("only for tickets of the viewer's sites")
	}
	return privacy.Allow
}
