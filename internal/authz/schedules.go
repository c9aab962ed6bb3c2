package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/taskschedule"
	"socdesk/ent/ticket"
)

// TaskSchedulePolicy: schedules are read like the tickets of their site
// (TICKET_VIEW within the viewer's sites) and written by admins and
// TICKET_EDIT users within their sites: a mutation of a schedule elsewhere
// matches no row; creating one on (or moving one to) another site is denied.
func TaskSchedulePolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			privacy.TaskScheduleQueryRuleFunc(func(ctx context.Context, q *ent.TaskScheduleQuery) error {
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { q.Where(s.ScheduleWhere()) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.OnMutationOperation(privacy.AlwaysDenyRule(), ent.OpDelete|ent.OpDeleteOne),
			privacy.TaskScheduleMutationRuleFunc(func(ctx context.Context, m *ent.TaskScheduleMutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
				if err != nil || v.IsAdmin() {
					return orAllow(err)
				}
				s := ScopeOf(v)
				if id, ok := m.SiteID(); ok && !s.SeesSchedule(id) {
					return privacy.Denyf("site is not one of the viewer's sites")
				}
				if !m.Op().Is(ent.OpCreate) {
					m.Where(s.ScheduleWhere())
				}
				return privacy.Allow
			}),
		},
	}
}

// ScheduleChildPolicy is the policy of what hangs off a schedule (its
// watchers): visible with the schedule, written by its editors.
func ScheduleChildPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
				sf, ok := f.(interface {
					WhereHasScheduleWith(...predicate.TaskSchedule)
				})
				if !ok {
					return privacy.Denyf("%T has no schedule", f)
				}
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { sf.WhereHasScheduleWith(s.ScheduleWhere()) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
				if err != nil || v.IsAdmin() {
					return orAllow(err)
				}
				return withinScheduleSites(ctx, m)
			}),
		},
	}
}

// ScheduleEventPolicy: a schedule's history is read with the schedule and
// appended by the services for its editors; it is never changed or deleted.
func ScheduleEventPolicy() ent.Policy {
	p := ScheduleChildPolicy().(privacy.Policy)
	p.Mutation = append(privacy.MutationPolicy{
		privacy.OnMutationOperation(privacy.AlwaysDenyRule(), ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne),
	}, p.Mutation...)
	return p
}

// withinScheduleSites allows a mutation of something that hangs off a
// schedule only inside the viewer's sites.
func withinScheduleSites(ctx context.Context, m ent.Mutation) error {
	s := ScopeFrom(ctx)
	if m.Op().Is(ent.OpCreate) {
		child, ok := m.(interface {
			ScheduleID() (int, bool)
			Client() *ent.Client
		})
		if !ok {
			return privacy.Denyf("%T has no schedule", m)
		}
		id, _ := child.ScheduleID()
		n, err := child.Client().TaskSchedule.Query().Where(taskschedule.ID(id), s.ScheduleWhere()).Count(ctx)
		if err != nil {
			return lookupFailed(err)
		}
		if n != 1 {
			return privacy.Denyf("the schedule is not in the viewer's sites")
		}
		return privacy.Allow
	}
	return privacy.FilterFunc(func(_ context.Context, f privacy.Filter) error {
		sf, ok := f.(interface {
			WhereHasScheduleWith(...predicate.TaskSchedule)
		})
		if !ok {
			return privacy.Denyf("%T has no schedule", m)
		}
		sf.WhereHasScheduleWith(s.ScheduleWhere())
		return privacy.Allow
	}).EvalMutation(ctx, m)
}

// tasksAreNeverDeleted makes a deletion of tickets match no task, whoever
// asks (admins too); the database's trigger refuses one even to socdesk's
// own work and to plain SQL (migration tasks_schedules_policies).
func tasksAreNeverDeleted() privacy.MutationRule {
	return privacy.OnMutationOperation(privacy.TicketMutationRuleFunc(func(ctx context.Context, m *ent.TicketMutation) error {
		m.Where(ticket.KindNEQ(ticket.KindTASK))
		return privacy.Skip
	}), ent.OpDelete|ent.OpDeleteOne)
}
