// Package workflow defines the ticket workflows a category can follow: their
// statuses and where a ticket starts.
package workflow

import (
	"socdesk/ent/category"
	"socdesk/ent/ticket"
)

// Statuses lists each workflow's statuses in the order of their lifecycle.
var Statuses = map[category.Workflow][]ticket.Status{
	category.WorkflowAPPROVAL: {
		ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED,
		ticket.StatusAPPROVED, ticket.StatusREJECTED, ticket.StatusCLOSED,
	},
	category.WorkflowINCIDENT_RESPONSE: {
		ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED, ticket.StatusCLOSED,
	},
}

// InitialStatus is the status a new ticket of the workflow starts in: an
// approval ticket is NEW, or ASSIGNED when created with an assignee; an
// incident starts in TRIAGE.
func InitialStatus(w category.Workflow, hasAssignee bool) ticket.Status {
	switch {
	case w == category.WorkflowINCIDENT_RESPONSE:
		return ticket.StatusTRIAGE
	case hasAssignee:
		return ticket.StatusASSIGNED
	}
	return ticket.StatusNEW
}
