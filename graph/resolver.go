// Package graph assembles socdesk's GraphQL API: thin resolvers over the ent
// client and the domain services, and the HTTP handler with its limits and
// error presenter.
package graph

import (
	"log/slog"

	"socdesk/ent"
	"socdesk/internal/admin"
	"socdesk/internal/attachments"
	"socdesk/internal/directory"
	"socdesk/internal/explanations"
	"socdesk/internal/ingest"
	"socdesk/internal/live"
	"socdesk/internal/notify"
	"socdesk/internal/playbooks"
	"socdesk/internal/reputation"
	"socdesk/internal/schedules"
	"socdesk/internal/sla"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
	"socdesk/internal/ticketstats"
)

// Resolver is the root resolver; it holds the dependencies resolvers call.
type Resolver struct {
	Client  *ent.Client
	Tickets *tickets.Service
	Admin   *admin.Service
	Logger  *slog.Logger
	// Hub serves the subscriptions.
	Hub *live.Hub
	// Notify and Playbooks serve the delivery side (channels, preferences,
	// propagation, deliveries, playbooks).
	Notify    *notify.Service
	Playbooks *playbooks.Service
	// Directory keeps the employee directory and explanation categories.
	Directory *directory.Service
	// Attachments stores and signs attachments; PublicURL is the base of
	// their signed download URLs.
	Attachments *attachments.Service
	PublicURL   string
	// Explanations takes the steps of explanation requests.
	Explanations *explanations.Service
	// Schedules keeps task schedules.
	Schedules *schedules.Service
	// Tasks makes and works compliance tasks.
	Tasks *tasks.Service
	// Reputation looks up and serves the reputation of tickets' indicators.
	Reputations *reputation.Service
	// Metrics computes the tickets' response metrics.
	Metrics *ticketstats.Service
	// Ingest keeps detection rules and ingests their events.
	Ingest *ingest.Service
	// SLA keeps service levels: calendars, targets, the tickets' states.
	SLA *sla.Service
}
