package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketlink"
	"socdesk/ent/ticketwatcher"
)

// TicketLinkPolicy: a link is seen when both its tickets are, and made or
// removed by editors of both.
func TicketLinkPolicy() ent.Policy {
	scope := func(ctx context.Context, where func(...predicate.TicketLink)) error {
		return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) {
			where(ticketlink.HasFromWith(s.TicketWhere()), ticketlink.HasToWith(s.TicketWhere()))
		})
	}
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			privacy.TicketLinkQueryRuleFunc(func(ctx context.Context, q *ent.TicketLinkQuery) error {
				return scope(ctx, func(ps ...predicate.TicketLink) { q.Where(ps...) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.TicketLinkMutationRuleFunc(func(ctx context.Context, m *ent.TicketLinkMutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
				if err != nil {
					return err
				}
				if v.IsAdmin() {
					return privacy.Allow
				}
				if m.Op().Is(ent.OpCreate) {
					from, _ := m.FromID()
					to, _ := m.ToID()
					n, err := m.Client().Ticket.Query().Where(ticket.IDIn(from, to), ScopeOf(v).TicketWhere()).Count(ctx)
					if err != nil {
						return lookupFailed(err)
					}
					if n != 2 {
						return privacy.Denyf("both tickets must be in the viewer's sites")
					}
					return privacy.Allow
				}
				return scope(ctx, func(ps ...predicate.TicketLink) { m.Where(ps...) })
			}),
		},
	}
}

// TicketWatcherPolicy: watchers are seen with their ticket (and so is the
// watching user: Scope); anyone who sees a ticket may watch it (or stop, or
// change how often they hear), editors may do so for others too.
func TicketWatcherPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{TicketChildPolicy()},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.TicketWatcherMutationRuleFunc(func(ctx context.Context, m *ent.TicketWatcherMutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketView)
				if err != nil {
					return err
				}
				editor := v.Has(schematype.PermissionTicketEdit)
				if m.Op().Is(ent.OpCreate) {
					tid, _ := m.TicketID()
					uid, _ := m.UserID()
					if uid != v.UserID && !editor {
						return privacy.Denyf("only editors make others watch a ticket")
					}
					if ok, err := m.Client().Ticket.Query().Where(ticket.ID(tid)).Exist(ctx); err != nil {
						return lookupFailed(err)
					} else if !ok {
						return privacy.Denyf("ticket not visible")
					}
					return privacy.Allow
				}
				if !editor {
					m.Where(ticketwatcher.UserID(v.UserID))
				}
				if !v.IsAdmin() {
					m.Where(ticketwatcher.HasTicketWith(ScopeOf(v).TicketWhere()))
				}
				return privacy.Allow
			}),
		},
	}
}
