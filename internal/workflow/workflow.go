// Package workflow defines the ticket workflows a category can follow: their
// statuses, the transitions between them, and who may take each. The table
// below is the one definition; the ticket service, the data layer's policy
// and Ticket.availableActions all read it.
package workflow

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"socdesk/ent/category"
	"socdesk/ent/ticket"
)

// Action is a transition a user asks for.
type Action string

// The actions of both workflows.
const (
	Start   Action = "START"   // assignee: ASSIGNED or REJECTED → IN_PROGRESS
	Submit  Action = "SUBMIT"  // assignee: IN_PROGRESS → SUBMITTED, needs an approver
	Approve Action = "APPROVE" // approver: SUBMITTED → APPROVED
	Reject  Action = "REJECT"  // approver: SUBMITTED → REJECTED, with a reason
	Close   Action = "CLOSE"   // from any status → CLOSED
	Reopen  Action = "REOPEN"  // CLOSED → ASSIGNED or NEW (approval), TRIAGE (incident)
	Restart Action = "RESTART" // any status → the workflow's first status; approval tickets lose their assignees
	Move    Action = "MOVE"    // incidents: to a named working status
	// Invalidate: tasks, OPEN → INVALID, with the reason.
	Invalidate Action = "INVALIDATE"
)

// Actions lists every action.
var Actions = []Action{Start, Submit, Approve, Reject, Close, Reopen, Restart, Move, Invalidate}

// MarshalGQL implements graphql.Marshaler.
func (a Action) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(a))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (a *Action) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(Actions, Action(s)) {
		return fmt.Errorf("%v is not a valid TicketAction", v)
	}
	*a = Action(s)
	return nil
}

// Role is how a user stands to a ticket; a user can hold several.
type Role uint8

// The roles.
const (
	Assignee Role = 1 << iota // one of the ticket's assignees (an incident's owner)
	Approver                  // one of the ticket's approvers
	Editor                    // ADMIN or TICKET_EDIT within the ticket's site
)

// Ticket is what the table needs to know of a ticket.
type Ticket struct {
	Workflow    category.Workflow
	Status      ticket.Status
	HasAssignee bool
	HasApprover bool
}

// Transition is one row of the table.
type Transition struct {
	Action Action
	From   []ticket.Status // nil: any status but the target
	// To is the target; for MOVE, any of Targets.
	To      ticket.Status
	Targets []ticket.Status
	By      Role
	// NeedsApprover: only when the ticket has an approver (submitting).
	NeedsApprover bool
	// NeedsReason: a reason must be given (rejecting; closing or
	// invalidating a task, whose resolution it becomes).
	NeedsReason bool
	// ClearsAssignees: the transition removes the assignees (an approval
	// RESTART: NEW means assigned to no one, so the ticket starts over).
	ClearsAssignees bool
}

var (
	// A rejected ticket goes back to work, an approved one on to be closed:
	// REJECTED comes before APPROVED.
	approvalStatuses = []ticket.Status{
		ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED,
		ticket.StatusREJECTED, ticket.StatusAPPROVED, ticket.StatusCLOSED,
	}
	incidentWorking  = []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED}
	incidentStatuses = append(slices.Clone(incidentWorking), ticket.StatusCLOSED)
	// A task is open until closed with its findings or found invalid.
	taskStatuses = []ticket.Status{ticket.StatusOPEN, ticket.StatusCLOSED, ticket.StatusINVALID}
)

// table is every workflow's transitions.
var table = map[category.Workflow][]Transition{
	category.WorkflowAPPROVAL: {
		{Action: Start, From: []ticket.Status{ticket.StatusASSIGNED, ticket.StatusREJECTED}, To: ticket.StatusIN_PROGRESS, By: Assignee},
		{Action: Submit, From: []ticket.Status{ticket.StatusIN_PROGRESS}, To: ticket.StatusSUBMITTED, By: Assignee, NeedsApprover: true},
		{Action: Approve, From: []ticket.Status{ticket.StatusSUBMITTED}, To: ticket.StatusAPPROVED, By: Approver},
		{Action: Reject, From: []ticket.Status{ticket.StatusSUBMITTED}, To: ticket.StatusREJECTED, By: Approver, NeedsReason: true},
		{Action: Close, To: ticket.StatusCLOSED, By: Editor},
		{Action: Reopen, From: []ticket.Status{ticket.StatusCLOSED}, By: Editor}, // To: see reopenTarget
		{Action: Restart, To: ticket.StatusNEW, By: Editor, ClearsAssignees: true},
	},
	category.WorkflowINCIDENT_RESPONSE: {
		{Action: Move, From: incidentWorking, Targets: incidentWorking, By: Assignee | Editor},
		{Action: Close, To: ticket.StatusCLOSED, By: Assignee | Editor},
		{Action: Reopen, From: []ticket.Status{ticket.StatusCLOSED}, To: ticket.StatusTRIAGE, By: Assignee | Editor},
		// An incident's owner stays on RESTART: TRIAGE is not "unassigned"
		// (an incident is created in TRIAGE with or without an owner), the
		// owner can take every incident action from it, and an incident being
		// re-triaged still needs someone answerable for it.
		{Action: Restart, To: ticket.StatusTRIAGE, By: Editor},
	},
	// A task's owner (its assignee) works and closes it; editors may too.
	// Closing needs the note of the findings, invalidating the reason;
	// reopening clears it (the history keeps it).
	category.WorkflowTASK: {
		{Action: Close, From: []ticket.Status{ticket.StatusOPEN}, To: ticket.StatusCLOSED, By: Assignee | Editor, NeedsReason: true},
		{Action: Invalidate, From: []ticket.Status{ticket.StatusOPEN}, To: ticket.StatusINVALID, By: Assignee | Editor, NeedsReason: true},
		{Action: Reopen, From: []ticket.Status{ticket.StatusCLOSED, ticket.StatusINVALID}, To: ticket.StatusOPEN, By: Assignee | Editor},
	},
}

// Statuses lists each workflow's statuses in the order of their lifecycle.
var Statuses = map[category.Workflow][]ticket.Status{
	category.WorkflowAPPROVAL:          approvalStatuses,
	category.WorkflowINCIDENT_RESPONSE: incidentStatuses,
	category.WorkflowTASK:              taskStatuses,
}

// Order is every status of tickets in the order the product shows them (the
// trend's segments): the approval statuses, then the incident ones, CLOSED,
// which both workflows end in, last; each workflow's Statuses in their
// order. Tasks are no part of the trend: TaskOnly, their own statuses, come
// after Order in the schema's enum.
var Order = slices.Concat(approvalStatuses[:len(approvalStatuses)-1], incidentStatuses)

// TaskOnly are the statuses only tasks take.
var TaskOnly = []ticket.Status{ticket.StatusOPEN, ticket.StatusINVALID}

// OneOwner reports whether the workflow's tickets have a single assignee
// (their owner) and no approvers: tasks.
func OneOwner(w category.Workflow) bool { return w == category.WorkflowTASK }

// InitialStatus is the status a new ticket of the workflow starts in: an
// approval ticket is NEW, or ASSIGNED when created with an assignee; an
// incident starts in TRIAGE.
func InitialStatus(w category.Workflow, hasAssignee bool) ticket.Status {
	switch {
	case w == category.WorkflowTASK:
		return ticket.StatusOPEN
	case w == category.WorkflowINCIDENT_RESPONSE:
		return ticket.StatusTRIAGE
	case hasAssignee:
		return ticket.StatusASSIGNED
	}
	return ticket.StatusNEW
}

// AfterAssignment is the status of a ticket once its assignees change: a NEW
// approval ticket that gets an assignee becomes ASSIGNED, an ASSIGNED one
// that loses all its assignees is NEW again. Other statuses stay.
func AfterAssignment(t Ticket) ticket.Status {
	if t.Workflow != category.WorkflowAPPROVAL {
		return t.Status
	}
	switch {
	case t.Status == ticket.StatusNEW && t.HasAssignee:
		return ticket.StatusASSIGNED
	case t.Status == ticket.StatusASSIGNED && !t.HasAssignee:
		return ticket.StatusNEW
	}
	return t.Status
}

// Outcome is what the table says of a requested transition.
type Outcome int

// The outcomes.
const (
	Allowed   Outcome = iota
	Invalid           // the workflow has no such transition from this status
	Forbidden         // it has, but not for the user's roles
	Unmet             // allowed, but a condition fails (no approver, no reason)
)

// Decision is the table's answer for one request.
type Decision struct {
	Outcome Outcome
	To      ticket.Status
	// ClearsAssignees: taking it removes the ticket's assignees.
	ClearsAssignees bool
	// Why explains an outcome other than Allowed.
	Why string
}

// Decide looks up action (to target, for MOVE) on t for a user with roles.
func Decide(t Ticket, action Action, target *ticket.Status, roles Role, reason string) Decision {
	for _, tr := range table[t.Workflow] {
		if tr.Action != action {
			continue
		}
		to, ok := tr.target(t, target)
		if !ok || !tr.from(t.Status, to) {
			continue
		}
		switch {
		case tr.By&roles == 0:
			return Decision{Outcome: Forbidden, To: to, Why: string(action) + " is for the ticket's " + tr.By.String()}
		case tr.NeedsApprover && !t.HasApprover:
			return Decision{Outcome: Unmet, To: to, Why: "the ticket has no approver to submit to"}
		case tr.NeedsReason && reason == "":
			return Decision{Outcome: Unmet, To: to, Why: "a reason is required"}
		}
		return Decision{Outcome: Allowed, To: to, ClearsAssignees: tr.ClearsAssignees}
	}
	return Decision{Outcome: Invalid, Why: string(action) + " is not possible from " + string(t.Status) + " in the " + string(t.Workflow) + " workflow"}
}

// Option is an action a user can take now.
type Option struct {
	Action   Action
	ToStatus ticket.Status
}

// Available lists what a user with roles may do to t now, in table order —
// what a dashboard shows as buttons. Actions whose conditions are unmet (a
// submit without an approver, say) are left out.
func Available(t Ticket, roles Role) []Option {
	var out []Option
	for _, tr := range table[t.Workflow] {
		targets := []ticket.Status{tr.To}
		if tr.Action == Move {
			targets = tr.Targets
		}
		for _, to := range targets {
			to := to
			if d := Decide(t, tr.Action, &to, roles, "a reason the user will give"); d.Outcome == Allowed {
				out = append(out, Option{Action: tr.Action, ToStatus: d.To})
			}
		}
	}
	return out
}

// Permits reports whether a user with roles may move t to status to by some
// transition of the table whose conditions t meets (a reason, which is not
// part of the ticket, is the service's to check): the data layer's check on a
// status change.
func Permits(t Ticket, to ticket.Status, roles Role) bool {
	for _, tr := range table[t.Workflow] {
		target := to
		if got, ok := tr.target(t, &target); ok && got == to && tr.from(t.Status, to) && tr.By&roles != 0 &&
			!(tr.NeedsApprover && !t.HasApprover) {
			return true
		}
	}
	return false
}

// HasAction reports whether workflow w has action at all.
func HasAction(w category.Workflow, action Action) bool {
	return slices.ContainsFunc(table[w], func(tr Transition) bool { return tr.Action == action })
}

// Valid reports whether status belongs to workflow w.
func Valid(w category.Workflow, status ticket.Status) bool {
	return slices.Contains(Statuses[w], status)
}

func (tr Transition) target(t Ticket, want *ticket.Status) (ticket.Status, bool) {
	switch {
	case tr.Action == Move:
		if want == nil || !slices.Contains(tr.Targets, *want) {
			return "", false
		}
		return *want, true
	case tr.Action == Reopen && tr.To == "":
		if t.HasAssignee {
			return ticket.StatusASSIGNED, true
		}
		return ticket.StatusNEW, true
	}
	return tr.To, true
}

func (tr Transition) from(status, to ticket.Status) bool {
	if tr.From == nil {
		return status != to
	}
	return slices.Contains(tr.From, status) && status != to
}

func (r Role) String() string {
	var s []string
	for _, x := range []struct {
		r    Role
		name string
	}{{Assignee, "assignee"}, {Approver, "approver"}, {Editor, "editors"}} {
		if r&x.r != 0 {
			s = append(s, x.name)
		}
	}
	if len(s) == 0 {
		return "nobody"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += " or " + x
	}
	return out
}
