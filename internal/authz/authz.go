// Package authz is socdesk's authorization: the privacy rules that every ent
// schema's policy is built from. This is the one place that decides who may
// read and change what; resolvers and services never check roles themselves.
//
// The product's rules: admins and TICKET_VIEW users may list and read
// tickets; creating, editing and deleting them needs ADMIN or TICKET_EDIT;
// a non-admin sees only the tickets of the sites assigned to them, in every
// query (lists, node lookups, counts, edges). Reference data (sites,
// categories, tags, users) is administered by admins only.
package authz

import (
	"context"
	"fmt"
	"slices"

	"socdesk/ent"
	"socdesk/ent/apitoken"
	"socdesk/ent/predicate"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

// System is the context of socdesk's own work (bootstrapping, seeding,
// checks that must see past the viewer's scope): policies do not restrict it.
func System(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// DenyIfNoViewer denies every query and mutation made without a viewer
// (the system context, privacy.DecisionContext, bypasses policies entirely),
// and every one of a service account: what it may read, the few policies
// that allow before this rule say (see service.go); what it may write, only
// ingestion does, after MayIngest.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		switch v := viewer.FromContext(ctx); {
		case v == nil:
			return privacy.Denyf("no viewer")
		case v.IsService():
			return privacy.Denyf("service accounts only ingest detections")
		}
		return privacy.Skip
	})
}

// AllowIfAdmin allows admins everything.
func AllowIfAdmin() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsAdmin() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowViewers allows any authenticated viewer to read.
func AllowViewers() privacy.QueryRule {
	return privacy.QueryRuleFunc(func(ctx context.Context, _ ent.Query) error {
		if viewer.FromContext(ctx) != nil {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AdminOnly is the policy of reference data: any viewer reads, admins write.
func AdminOnly() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{DenyIfNoViewer(), AllowViewers()},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// requireTickets denies a non-admin viewer without permission p on tickets.
func requireTickets(ctx context.Context, p schematype.Permission) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.Has(p) {
		if p == schematype.PermissionTicketEdit {
			return nil, privacy.Denyf("editing tickets needs the TICKET_EDIT permission")
		}
		return nil, privacy.Denyf("viewing tickets needs the TICKET_VIEW permission")
	}
	return v, nil
}

// siteScoped narrows a query of anything read like a ticket to the viewer's
// scope (see Scope): where is given the scope.
func siteScoped(ctx context.Context, p schematype.Permission, where func(Scope)) error {
	v, err := requireTickets(ctx, p)
	if err != nil {
		return err
	}
	if s := ScopeOf(v); !s.All() {
		where(s)
	}
	return privacy.Allow
}

// TicketPolicy: reading needs TICKET_VIEW, writing TICKET_EDIT, both only
// within the viewer's sites. A mutation of a ticket outside them matches no
// row; creating one in (or moving one to) another site is denied.
func TicketPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			serviceReadsOwnTickets(),
			DenyIfNoViewer(),
			privacy.TicketQueryRuleFunc(func(ctx context.Context, q *ent.TicketQuery) error {
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { q.Where(s.TicketWhere()) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			tasksAreNeverDeleted(),
			privacy.TicketMutationRuleFunc(func(ctx context.Context, m *ent.TicketMutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
				if err != nil {
					return allowTransition(ctx, viewer.FromContext(ctx), m)
				}
				if v.IsAdmin() {
					return privacy.Allow
				}
				if o, ok := m.Origin(); ok && o == ticket.OriginSYSTEM {
					return privacy.Denyf("only administrators (detection integrations) open SYSTEM tickets")
				}
				s := ScopeOf(v)
				if id, ok := m.SiteID(); ok && !s.SeesTicket(id) {
					return privacy.Denyf("site is not one of the viewer's sites")
				}
				if !m.Op().Is(ent.OpCreate) {
					m.Where(s.TicketWhere())
				}
				return privacy.Allow
			}),
		},
	}
}

// TicketChildPolicy is the policy of what hangs off a ticket (memos,
// attachments, join rows): visible with its ticket, written by editors.
func TicketChildPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			serviceReadsOwnTicketChildren(),
			DenyIfNoViewer(),
			privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
				tf, ok := f.(interface{ WhereHasTicketWith(...predicate.Ticket) })
				if !ok {
					return privacy.Denyf("%T has no ticket", f)
				}
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { tf.WhereHasTicketWith(s.TicketWhere()) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketEdit)
				if err != nil || v.IsAdmin() {
					return orAllow(err)
				}
				return withinSites(ctx, v, m)
			}),
		},
	}
}

// orAllow is err, or Allow when there is none.
func orAllow(err error) error {
	if err != nil {
		return err
	}
	return privacy.Allow
}

// withinSites allows a mutation of something that hangs off a ticket only
// inside the viewer's sites: a new one's ticket must be visible to them, and
// changes and deletions match only rows of their sites' tickets.
func withinSites(ctx context.Context, v *viewer.Viewer, m ent.Mutation) error {
	if m.Op().Is(ent.OpCreate) {
		child, ok := m.(interface {
			TicketID() (int, bool)
			Client() *ent.Client
		})
		if !ok {
			return privacy.Denyf("%T has no ticket", m)
		}
		id, _ := child.TicketID()
		n, err := child.Client().Ticket.Query().Where(ticket.ID(id), ScopeOf(v).TicketWhere()).Count(ctx)
		if err != nil {
			return lookupFailed(err)
		}
		if n != 1 {
			return privacy.Denyf("the ticket is not in the viewer's sites")
		}
		return privacy.Allow
	}
	// Each mutation's Filter returns its own type: privacy.FilterFunc
	// finds it (a plain interface assertion on Filter() privacy.Filter
	// matches none of them).
	return privacy.FilterFunc(func(_ context.Context, f privacy.Filter) error {
		tf, ok := f.(interface{ WhereHasTicketWith(...predicate.Ticket) })
		if !ok {
			return privacy.Denyf("%T has no ticket", m)
		}
		tf.WhereHasTicketWith(ScopeOf(v).TicketWhere())
		return privacy.Allow
	}).EvalMutation(ctx, m)
}

// TicketEventPolicy: history is read like its ticket — through the ticket
// while it exists, through the site it was deleted from afterwards — and
// appended by the domain services for viewers of the ticket's site (an
// assignee's transition, a viewer's watch); it is never changed or deleted.
func TicketEventPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			serviceReadsOwnHistory(),
			DenyIfNoViewer(),
			privacy.TicketEventQueryRuleFunc(func(ctx context.Context, q *ent.TicketEventQuery) error {
				return siteScoped(ctx, schematype.PermissionTicketView, func(s Scope) { q.Where(s.EntryWhere()) })
			}),
		},
		Mutation: privacy.MutationPolicy{
			privacy.OnMutationOperation(privacy.AlwaysDenyRule(), ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne),
			DenyIfNoViewer(),
			privacy.TicketEventMutationRuleFunc(func(ctx context.Context, m *ent.TicketEventMutation) error {
				v, err := requireTickets(ctx, schematype.PermissionTicketView)
				if err != nil {
					return err
				}
				if site, _ := m.SiteID(); !ScopeOf(v).SeesTicket(site) {
					return privacy.Denyf("history is written only for tickets of the viewer's sites")
				}
				return privacy.Allow
			}),
		},
	}
}

// SitePolicy: a non-admin sees only their own sites; admins write.
func SitePolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			serviceReadsSitesOfOwnTickets(),
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.SiteQueryRuleFunc(func(ctx context.Context, q *ent.SiteQuery) error {
				q.Where(ScopeFrom(ctx).SiteWhere())
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// UserPolicy: a non-admin sees the users who share a site with them, the
// admins, themselves and the people of the tickets they see (Scope); admins
// write.
func UserPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			serviceReadsItself(),
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.UserQueryRuleFunc(func(ctx context.Context, q *ent.UserQuery) error {
				q.Where(ScopeFrom(ctx).UserWhere())
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// APITokenPolicy: users see their own tokens, admins all; only admins (and
// the system context, e.g. `socdesk token create`) issue and revoke them.
func APITokenPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			AllowIfAdmin(),
			privacy.APITokenQueryRuleFunc(func(ctx context.Context, q *ent.APITokenQuery) error {
				q.Where(apitoken.UserID(viewer.FromContext(ctx).UserID))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// RolesOf says how the viewer stands to a ticket of siteID with the given
// assignees and approvers, in the workflow table's terms.
func RolesOf(v *viewer.Viewer, siteID int, assigneeIDs, approverIDs []int) workflow.Role {
	var r workflow.Role
	if v == nil {
		return r
	}
	if v.Has(schematype.PermissionTicketEdit) && ScopeOf(v).SeesTicket(siteID) {
		r |= workflow.Editor
	}
	if slices.Contains(assigneeIDs, v.UserID) {
		r |= workflow.Assignee
	}
	if slices.Contains(approverIDs, v.UserID) {
		r |= workflow.Approver
	}
	return r
}

// workflowFields are what a transition writes: the status (the version and
// updated_at follow every change, closed_at the status: the Ticket's hooks
// write them after this policy has looked).
// A task's resolution moves with its status (the service sets it only on a
// task's transition).
var workflowFields = []string{ticket.FieldStatus, ticket.FieldVersion, ticket.FieldUpdatedAt, ticket.FieldResolution}

// allowTransition lets a non-editor — an assignee, an approver — change a
// ticket's status when, and only when, the workflow table gives their role
// that transition from the ticket's current status.
func allowTransition(ctx context.Context, v *viewer.Viewer, m *ent.TicketMutation) error {
	deny := privacy.Denyf("editing tickets needs the TICKET_EDIT permission")
	if !m.Op().Is(ent.OpUpdateOne) || len(m.AddedEdges())+len(m.RemovedEdges())+len(m.ClearedEdges()) > 0 {
		return deny
	}
	for _, f := range append(m.Fields(), append(m.AddedFields(), m.ClearedFields()...)...) {
		if !slices.Contains(workflowFields, f) {
			return deny
		}
	}
	id, idOK := m.ID()
	to, statusOK := m.Status()
	if !idOK || !statusOK {
		return deny
	}
	t, err := WithPeople(m.Client().Ticket.Query().Where(ticket.ID(id)).WithCategory()).Only(ctx)
	if err != nil {
		return notFoundOr(err, privacy.Denyf("ticket not visible"))
	}
	wt := WorkflowTicket(t)
	assignees, approvers := People(t)
	if !workflow.Permits(wt, to, RolesOf(v, t.SiteID, assignees, approvers)) {
		return privacy.Denyf("the workflow does not let the viewer move this ticket from %s to %s", t.Status, to)
	}
	return privacy.Allow
}

// WorkflowTicket is what the workflow table needs of t (its category and
// people loaded).
func WorkflowTicket(t *ent.Ticket) workflow.Ticket {
	assignees, approvers := People(t)
	wt := workflow.Ticket{Status: t.Status, HasAssignee: len(assignees) > 0, HasApprover: len(approvers) > 0}
	if t.Edges.Category != nil {
		wt.Workflow = t.Edges.Category.Workflow
	}
	return wt
}

// WithPeople loads with q's tickets the ids of their assignees and approvers
// for the rules (roles, workflow, history). They come from the join rows,
// seen with the ticket, not from the users: a person the viewer may not see
// (UserPolicy) is still on the ticket.
func WithPeople(q *ent.TicketQuery) *ent.TicketQuery {
	return q.WithTicketAssignees().WithTicketApprovers()
}

// People are the ids of t's assignees and approvers: from the rows
// WithPeople loads, or else from the users loaded with t.
func People(t *ent.Ticket) (assignees, approvers []int) {
	if t.Edges.TicketAssignees != nil || t.Edges.TicketApprovers != nil {
		assignees, approvers = []int{}, []int{}
		for _, a := range t.Edges.TicketAssignees {
			assignees = append(assignees, a.UserID)
		}
		for _, a := range t.Edges.TicketApprovers {
			approvers = append(approvers, a.UserID)
		}
		return assignees, approvers
	}
	return UserIDs(t.Edges.Assignees), UserIDs(t.Edges.Approvers)
}

// HasPeople reports whether t was read with its people.
func HasPeople(t *ent.Ticket) bool {
	return (t.Edges.TicketAssignees != nil && t.Edges.TicketApprovers != nil) || (t.Edges.Assignees != nil && t.Edges.Approvers != nil)
}

// UserIDs are the ids of us.
func UserIDs(us []*ent.User) []int {
	out := make([]int, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// MemoPolicy: memos are read with their ticket; editors, assignees and
// approvers of the ticket write them; only its author edits a memo; none is
// deleted (they are part of the record).
func MemoPolicy() ent.Policy {
	child := TicketChildPolicy()
	return privacy.Policy{
		Query: privacy.QueryPolicy{child},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.MemoMutationRuleFunc(func(ctx context.Context, m *ent.MemoMutation) error {
				v := viewer.FromContext(ctx)
				switch {
				case m.Op().Is(ent.OpCreate):
					tid, _ := m.TicketID()
					t, err := WithPeople(m.Client().Ticket.Query().Where(ticket.ID(tid))).Only(ctx)
					if err != nil {
						return notFoundOr(err, privacy.Denyf("ticket not visible"))
					}
					if assignees, approvers := People(t); RolesOf(v, t.SiteID, assignees, approvers) == 0 {
						return privacy.Denyf("memos are written by the ticket's assignees, approvers and editors")
					}
					if a, ok := m.AuthorID(); !ok || a != v.UserID {
						return privacy.Denyf("a memo's author is the viewer")
					}
					return privacy.Allow
				case m.Op().Is(ent.OpUpdateOne):
					id, _ := m.ID()
					mm, err := m.Client().Memo.Get(ctx, id)
					if err != nil {
						return notFoundOr(err, privacy.Denyf("memo not visible"))
					}
					if mm.AuthorID == nil || *mm.AuthorID != v.UserID {
						return privacy.Denyf("only its author edits a memo")
					}
					return privacy.Allow
				}
				return privacy.Denyf("memos are not deleted or changed in bulk")
			}),
		},
	}
}

// notFoundOr is deny when err says the row a rule loads is not there (not
// visible is not there), and otherwise the database's failure itself: a rule
// that could not look refuses nothing, and the client gets INTERNAL (logged).
func notFoundOr(err, deny error) error {
	if ent.IsNotFound(err) {
		return deny
	}
	return lookupFailed(err)
}

// lookupFailed is a rule's database failure, passed on as internal.
func lookupFailed(err error) error {
	return fmt.Errorf("authorization: loading the row to decide on: %w", err)
}
