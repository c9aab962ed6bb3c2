package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/internal/viewer"
)

// AttachmentPolicy is TicketChildPolicy, and besides: an attachment's
// uploader may delete it while they see its ticket, editor or not any more
// (package attachments).
func AttachmentPolicy() ent.Policy {
	child := TicketChildPolicy()
	return privacy.Policy{
		Query: privacy.QueryPolicy{child},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(),
			privacy.AttachmentMutationRuleFunc(func(ctx context.Context, m *ent.AttachmentMutation) error {
				v := viewer.FromContext(ctx)
				if m.Op().Is(ent.OpCreate) || v.IsAdmin() || v.Has(schematype.PermissionTicketEdit) ||
					!v.Has(schematype.PermissionTicketView) || !m.Op().Is(ent.OpDeleteOne|ent.OpDelete) {
					return privacy.Skip // the ticket's editors: TicketChildPolicy
				}
				m.Where(attachment.UploadedByID(v.UserID), attachment.HasTicketWith(ScopeOf(v).TicketWhere()))
				return privacy.Allow
			}),
			child,
		},
	}
}
