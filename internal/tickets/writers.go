package tickets

import (
	"context"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

// What writers of tickets outside the service (package tasks) share with it,
// so that their changes are recorded, followed and announced as its own are.

type serviceKey struct{}

// NewContext returns ctx carrying s, for writers handed only a context and
// a transaction (tasks.Create).
func NewContext(ctx context.Context, s *Service) context.Context {
	return context.WithValue(ctx, serviceKey{}, s)
}

// FromContext is the service NewContext put in ctx, or nil.
func FromContext(ctx context.Context) *Service {
	s, _ := ctx.Value(serviceKey{}).(*Service)
	return s
}

// Record appends one history entry of t in tx, with the trend's rollups, as
// the service's own changes do; Follow then runs what follows it.
func Record(ctx context.Context, tx *ent.Tx, t *ent.Ticket, kind ticketevent.Kind, changes []schematype.FieldChange, reason string) (*ent.TicketEvent, error) {
	return record(ctx, tx, t, kind, changes, reason)
}

// RegisterWriter registers tx as a history writer (see events.RegisterWriterSQL):
// the first step of a transaction that will append history (txn.Run's first).
func (s *Service) RegisterWriter(ctx context.Context, tx *ent.Tx) error {
	return s.registerWriter(ctx, tx)
}

// CheckRefs reports, per input field, ids that are not rows of table
// (category, site, user, tag) the viewer may see.
func (s *Service) CheckRefs(ctx context.Context, fields map[string][]int, table string) error {
	return s.checkRefs(ctx, fields, table)
}

// ValidateTitle checks a ticket's (or task's) title.
func ValidateTitle(field, title string) error { return validateTitle(field, title) }

// ValidateBody checks a body of format.
func ValidateBody(field, body string, format ticket.BodyFormat) error {
	return validateBody(field, body, format)
}

// Distinct returns ids without repeats, at most max of them.
func Distinct(field string, ids []int, max int) ([]int, error) { return distinct(field, ids, max) }
