package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/internal/viewer"
)

// AttachmentPolicy is TicketChildPolicy, and besides: changes and
// deletions match only attachments of the viewer's sites' tickets, and an
// attachment's uploader may delete it while they see its ticket, editor
// or not any more (package attachments).
func AttachmentPolicy() ent.Policy {
	child := TicketChildPolicy()
	return privacy.Policy{
		Query: privacy.QueryPolicy{child},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.AttachmentMutationRuleFunc(func(ctx context.Context, m *ent.AttachmentMutation) error {
				v := viewer.FromContext(ctx)
				if m.Op().Is(ent.OpCreate) || v.IsAdmin() {
					return privacy.Skip // the ticket's editors create: TicketChildPolicy
				}
				scope := attachment.HasTicketWith(ScopeOf(v).TicketWhere())
				switch {
				case v.Has(schematype.PermissionTicketEdit):
					m.Where(scope)
				case v.Has(schematype.PermissionTicketView) && m.Op().Is(ent.OpDeleteOne|ent.OpDelete):
					m.Where(attachment.UploadedByID(v.UserID), scope)
				default:
					return privacy.Skip
				}
				return privacy.Allow
			}),
			child,
		},
	}
}
