package authz

import (
	"context"
	"slices"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/detectionrule"
	"socdesk/ent/predicate"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/tag"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/viewer"
)

// Service accounts (role SERVICE) are the detection pipelines' identities.
// They ingest through the detection rules that name them (MayIngest) and
// read what they registered: those tickets, with their evidence, history,
// people rows, site, category and tags, and themselves. Everything else is
// denied them by DenyIfNoViewer; the rules below come before it in the
// policies that allow these reads.

// serviceID is the viewer's id when the viewer is a service account.
func serviceID(ctx context.Context) (int, bool) {
	v := viewer.FromContext(ctx)
	if !v.IsService() {
		return 0, false
	}
	return v.UserID, true
}

// ownTickets are the tickets the service account id registered.
func ownTickets(id int) predicate.Ticket { return ticket.RegisteredByID(id) }

func serviceReadsOwnTickets() privacy.QueryRule {
	return privacy.TicketQueryRuleFunc(func(ctx context.Context, q *ent.TicketQuery) error {
		if id, ok := serviceID(ctx); ok {
			q.Where(ownTickets(id))
			return privacy.Allow
		}
		return privacy.Skip
	})
}

func serviceReadsOwnTicketChildren() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		id, ok := serviceID(ctx)
		if !ok {
			return privacy.Skip
		}
		tf, ok := f.(interface{ WhereHasTicketWith(...predicate.Ticket) })
		if !ok {
			return privacy.Denyf("%T has no ticket", f)
		}
		tf.WhereHasTicketWith(ownTickets(id))
		return privacy.Allow
	})
}

func serviceReadsOwnHistory() privacy.QueryRule {
	return privacy.TicketEventQueryRuleFunc(func(ctx context.Context, q *ent.TicketEventQuery) error {
		if id, ok := serviceID(ctx); ok {
			q.Where(ticketevent.HasTicketWith(ownTickets(id)))
			return privacy.Allow
		}
		return privacy.Skip
	})
}

func serviceReadsSitesOfOwnTickets() privacy.QueryRule {
	return privacy.SiteQueryRuleFunc(func(ctx context.Context, q *ent.SiteQuery) error {
		if id, ok := serviceID(ctx); ok {
			q.Where(site.HasTicketsWith(ownTickets(id)))
			return privacy.Allow
		}
		return privacy.Skip
	})
}

func serviceReadsItself() privacy.QueryRule {
	return privacy.UserQueryRuleFunc(func(ctx context.Context, q *ent.UserQuery) error {
		if id, ok := serviceID(ctx); ok {
			q.Where(user.ID(id))
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// ReferencePolicy is AdminOnly for the reference data a ticket shows
// (categories, tags), which a service account reads on its own tickets.
func ReferencePolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			privacy.QueryRuleFunc(func(ctx context.Context, q ent.Query) error {
				id, ok := serviceID(ctx)
				if !ok {
					return privacy.Skip
				}
				switch q := q.(type) {
				case *ent.CategoryQuery:
					q.Where(category.HasTicketsWith(ownTickets(id)))
				case *ent.TagQuery:
					q.Where(tag.HasTicketsWith(ownTickets(id)))
				default:
					return privacy.Denyf("service accounts only ingest detections")
				}
				return privacy.Allow
			}),
			DenyIfNoViewer(), AllowViewers(),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// DetectionRulePolicy: admins manage detection rules; editors (TICKET_EDIT)
// read those of their sites; nobody else sees them (a service account
// reaches its rules only through ingestion, MayIngest).
func DetectionRulePolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.DetectionRuleQueryRuleFunc(func(ctx context.Context, q *ent.DetectionRuleQuery) error {
				v := viewer.FromContext(ctx)
				if !v.Has(schematype.PermissionTicketEdit) {
					q.Where(nothingAt)
					return privacy.Allow
				}
				q.Where(detectionrule.SiteIDIn(v.SiteIDs...))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// MayIngest reports whether v may ingest events through rule (whose
// ingesters are loaded): an enabled rule, by an administrator or by a
// service account the rule names. A webhook sender is authenticated by the
// rule's own HMAC key instead (package ingest). Ingestion then writes in
// the system context: this is its authorization.
func MayIngest(v *viewer.Viewer, rule *ent.DetectionRule) bool {
	switch {
	case v == nil || !rule.Enabled:
		return false
	case v.IsAdmin():
		return true
	case v.IsService():
		return slices.ContainsFunc(rule.Edges.Ingesters, func(u *ent.User) bool { return u.ID == v.UserID })
	}
	return false
}
