package authz

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
)

// DirectoryPolicy is the policy of the employee directory (employees and
// departments): people's names and addresses, read by those who read
// tickets (an explanation request names its violator, manager and
// auditor), kept by admins. The people acting through an explanation link
// read only what their request shows, through the system context.
func DirectoryPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(),
			privacy.QueryRuleFunc(func(ctx context.Context, _ ent.Query) error {
				_, err := requireTickets(ctx, schematype.PermissionTicketView)
				return orAllow(err)
			}),
		},
		Mutation: privacy.MutationPolicy{DenyIfNoViewer(), AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// SystemOnly is the policy of what only socdesk itself reads and writes
// (stored blobs, link-token hashes): no viewer, admin or not, reaches it;
// the system context (System) bypasses policies.
func SystemOnly() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}
