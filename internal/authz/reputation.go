package authz

import (
	"context"
	"errors"

	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
)

// ReadsTickets denies a viewer who may not read tickets (TICKET_VIEW, or
// TICKET_EDIT, or an admin): what reference data about tickets, such as the
// detection templates, asks of its readers.
func ReadsTickets(ctx context.Context) error {
	_, err := requireTickets(ctx, schematype.PermissionTicketView)
	return err
}

// LooksUpReputation allows a reputation lookup for a ticket of site to the
// ticket's editors (admins, TICKET_EDIT of the site): lookups spend the
// provider's quota, which viewers share. The system context (the
// on-ingestion job) is allowed.
func LooksUpReputation(ctx context.Context, site int) error {
	if d, ok := privacy.DecisionFromContext(ctx); ok && errors.Is(d, privacy.Allow) {
		return nil
	}
	if err := editsSite(ctx, site, true); !errors.Is(err, privacy.Allow) {
		return err
	}
	return nil
}
