package ent

import (
	"encoding/json"

	"socdesk/ent/internal"
	"socdesk/ent/ticket"
)

// ticketIDBase is the first id of the tickets' global id range. A ticket's
// display number is its position in that range, so numbers are sequential and,
// like identity values, never reused.
var ticketIDBase = func() int {
	var starts map[string]int
	if err := json.Unmarshal([]byte(internal.IncrementStarts), &starts); err != nil {
		panic("ent: reading global id ranges: " + err.Error())
	}
	return starts[ticket.Table]
}()

// Number is the ticket's display number (#ID).
func (t *Ticket) Number() int { return TicketNumber(t.ID) }

// TicketNumber returns the display number of the ticket with the given id.
func TicketNumber(id int) int { return id - ticketIDBase + 1 }

// TicketIDFromNumber returns the id of the ticket with display number n.
func TicketIDFromNumber(n int) int { return ticketIDBase + n - 1 }
