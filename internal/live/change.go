package live

import (
	"time"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

// Change is one committed change of a ticket, as pushed to a subscriber of
// ticketEvents (GraphQL TicketChange). A change that took the ticket out
// of what its subscriber may see is sent closed: the ticket's id and
// number, the kind of change and its place in the stream, nothing of what
// the change wrote.
type Change struct {
	// ev is the history row of the change.
	ev *ent.TicketEvent
	// Ticket is the ticket as it is now (without edges loaded, so that each
	// subscriber's selection loads them under its own viewer), or nil once
	// it is deleted, or out of the subscriber's sites.
	Ticket *ent.Ticket
	// InView tells whether the ticket, as the change left it, is in the
	// subscriber's view: on a site it sees and matching its filter.
	InView bool
	// closed: the subscriber may not see the ticket as the change left it.
	closed bool
}

// Cursor is the opaque position of the change in the stream.
func (c *Change) Cursor() string { return EncodeCursor(Position{Tx: c.ev.Tx, ID: c.ev.ID}) }

// Kind is the kind of history entry.
func (c *Change) Kind() ticketevent.Kind { return c.ev.Kind }

// TicketID is the ticket's id, also once it is deleted (the number gives it).
func (c *Change) TicketID() int { return ent.TicketIDFromNumber(c.ev.TicketNumber) }

// TicketNumber is the ticket's display number.
func (c *Change) TicketNumber() int { return c.ev.TicketNumber }

// At is when the change committed.
func (c *Change) At() time.Time { return c.ev.CreatedAt }

// Event is the history entry of the change; nil when closed.
func (c *Change) Event() *ent.TicketEvent {
	if c.closed {
		return nil
	}
	return c.ev
}

// ActorID is who made the change; nil for the system, and when closed.
func (c *Change) ActorID() *int {
	if c.closed {
		return nil
	}
	return c.ev.ActorID
}

// Changes are the fields changed, from → to; none when closed.
func (c *Change) Changes() []schematype.FieldChange {
	if c.closed {
		return []schematype.FieldChange{}
	}
	return c.ev.Changes
}

// PreviousStatus is the status before a change of status.
func (c *Change) PreviousStatus() *ticket.Status {
	for _, ch := range c.Changes() {
		if ch.Field == schematype.ChangeStatus {
			if s, ok := ch.From.(string); ok && s != "" {
				st := ticket.Status(s)
				return &st
			}
			if s, ok := ch.From.(ticket.Status); ok && s != "" {
				return &s
			}
		}
	}
	return nil
}
