package workflow

import (
	"slices"

	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

// The moments a ticket's service levels and response metrics are measured
// by, declared once: the SLA clocks (internal/sla) stop at them and the
// metrics (MTTA, MTTR) are read from the history by them.

// ResponseKinds are the history entries that answer a ticket: its first
// one after the creation (an assignment, or a status change such as
// acknowledging, starting or triaging on) is the ticket's first response.
// An assignment made at the creation (a detection rule's auto-assignment)
// is part of the CREATED entry and answers nothing.
var ResponseKinds = []ticketevent.Kind{ticketevent.KindASSIGNED, ticketevent.KindTRANSITIONED}

// ResolvedStatuses end a ticket's resolution clock: entering one resolves
// the ticket (a reopening starts the clock again from where it stood).
var ResolvedStatuses = []ticket.Status{ticket.StatusRESOLVED, ticket.StatusCLOSED, ticket.StatusINVALID}

// WaitingStatuses wait on someone other than the assignees (an approver):
// the SLA clocks pause while a ticket is in one, by default.
var WaitingStatuses = []ticket.Status{ticket.StatusSUBMITTED}

// IsResponse reports whether a history entry of kind answers the ticket.
func IsResponse(kind ticketevent.Kind) bool { return slices.Contains(ResponseKinds, kind) }

// IsResolved reports whether status resolves a ticket.
func IsResolved(status ticket.Status) bool { return slices.Contains(ResolvedStatuses, status) }
