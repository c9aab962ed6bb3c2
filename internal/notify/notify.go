// Package notify tells the right people: it decides who hears of each
// ticket change (the Audience table), renders the messages, and delivers
// them, and the propagations analysts ask for, as durable jobs through the
// channels admins configure. It is the one delivery mechanism of socdesk:
// every message to a person goes through a Delivery row and a job.
//
// A change's transaction enqueues a fan-out job per history entry
// (Followers); the fan-out, in a transaction of its own, makes one Delivery
// per recipient and channel and a delivery job for each; the delivery job
// sends it, at least once, with a stable idempotency key (IdempotencyKey).
// Notifications a user chose to receive as a digest are held and sent by a
// digest job at the end of the hour or the day.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"socdesk/ent"
	"socdesk/internal/channels"
	"socdesk/internal/jobs"
	"socdesk/internal/tickets"
)

// Service delivers notifications and propagations.
type Service struct {
	Client  *ent.Client
	Tickets *tickets.Service
	Jobs    *jobs.Engine
	Sender  *channels.Sender
	// PublicURL is socdesk's public base URL, which messages link to.
	PublicURL string
	Log       *slog.Logger
	// Now is the clock digests are timed by (nil: time.Now).
	Now func() time.Time
	// Links mints the personal link an explanation message carries, for
	// employeeID in role on request explanationID, when it is sent
	// (package explanations).
	Links func(ctx context.Context, explanationID, employeeID int, role string) (string, error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Register adds the service's workers to the job engine.
func (s *Service) Register() {
	s.registerWorkers()
}

// IdempotencyKey is the key of delivery id: the same for every attempt and
// redelivery, so that a receiver can drop duplicates.
func IdempotencyKey(id int) string { return fmt.Sprintf("socdesk-delivery-%d", id) }

// TicketLink is the link to ticket number n.
func (s *Service) TicketLink(n int) string {
	return strings.TrimRight(s.PublicURL, "/") + "/tickets/" + fmt.Sprint(n)
}
