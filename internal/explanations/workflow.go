// Package explanations is the explanation workflow: a ticket's editors ask
// the employee who caused a detection (the violator) to explain it; the
// violator's manager, and optionally an auditor, review the answer. The
// table below is the one definition of who moves a request from which
// status to which; the GraphQL operations, the link-authorized portal
// operations and the personal page all take their steps through Service.
//
// Every step appends an ExplanationStep, moves the request, sets the
// ticket's explanation status (its latest request's) and appends one ticket
// history entry, all in one transaction through package tickets; the
// people concerned are mailed through package notify's delivery engine,
// each with a personal link (a random token of which only the SHA-256 is
// kept) minted when their message is sent.
package explanations

import (
	"slices"
	"time"

	"socdesk/ent/explanationrequest"
	"socdesk/ent/explanationstep"
	"socdesk/ent/predicate"
	"socdesk/ent/schematype"
	"socdesk/internal/errs"
)

// Action is a step of the workflow.
type Action = explanationstep.Action

// Role is how the one taking a step stands to the request.
type Role = explanationstep.Role

// Status is where a request stands.
type Status = schematype.ExplanationStatus

// The actions.
const (
	Request       = explanationstep.ActionREQUEST
	Submit        = explanationstep.ActionSUBMIT
	Return        = explanationstep.ActionRETURN
	Accept        = explanationstep.ActionACCEPT
	AuditReturn   = explanationstep.ActionAUDIT_RETURN
	AuditComplete = explanationstep.ActionAUDIT_COMPLETE
	Withdraw      = explanationstep.ActionWITHDRAW
	Remind        = explanationstep.ActionREMIND
)

// The roles.
const (
	Editor   = explanationstep.RoleEDITOR // the ticket's editors (the data layer decides who they are)
	Violator = explanationstep.RoleVIOLATOR
	Manager  = explanationstep.RoleMANAGER
	Auditor  = explanationstep.RoleAUDITOR
	System   = explanationstep.RoleSYSTEM
)

// Transition is one row of the table.
type Transition struct {
	Action Action
	By     Role
	From   []Status // nil: any status that has not ended
	To     Status
	// ToWithAuditor is the target instead of To when the request has an
	// auditor (accepting).
	ToWithAuditor Status
	// NeedsComment: a comment must be given (an answer's text, a return's
	// reason, a withdrawal's reason).
	NeedsComment bool
}

// Waiting are the statuses in which the request waits for the violator:
// one past its deadline in them is overdue.
var Waiting = []Status{schematype.ExplanationNew, schematype.ExplanationReturned, schematype.ExplanationAuditReturned}

// Ended are the statuses a request ends in; its links work no more.
var Ended = []Status{schematype.ExplanationClosed, schematype.ExplanationAuditCompleted}

// table is the workflow (REQUEST, the creation, leads to NEW; REMIND, the
// system's reminder, moves nothing).
var table = []Transition{
	{Action: Submit, By: Violator, From: Waiting, To: schematype.ExplanationSubmitted, NeedsComment: true},
	{Action: Return, By: Manager, From: []Status{schematype.ExplanationSubmitted}, To: schematype.ExplanationReturned, NeedsComment: true},
	{Action: Accept, By: Manager, From: []Status{schematype.ExplanationSubmitted}, To: schematype.ExplanationClosed, ToWithAuditor: schematype.ExplanationAwaiting},
	{Action: AuditReturn, By: Auditor, From: []Status{schematype.ExplanationAwaiting}, To: schematype.ExplanationAuditReturned, NeedsComment: true},
	{Action: AuditComplete, By: Auditor, From: []Status{schematype.ExplanationAwaiting}, To: schematype.ExplanationAuditCompleted},
	{Action: Withdraw, By: Editor, To: schematype.ExplanationClosed, NeedsComment: true},
}

// IsEnded reports whether a request in status has ended.
func IsEnded(status Status) bool { return slices.Contains(Ended, status) }

// Decide returns the status action by role leads a request in status to,
// or the error that refuses it: INVALID_TRANSITION when the table has no
// such step from status, FORBIDDEN when it is another role's, and
// BAD_USER_INPUT naming commentField when a needed comment is missing.
func Decide(status Status, hasAuditor bool, action Action, role Role, comment, commentField string) (Status, error) {
	for _, tr := range table {
		if tr.Action != action || !tr.from(status) {
			continue
		}
		switch {
		case tr.By != role:
			return "", errs.New(errs.Forbidden, "%s is for the request's %s", action, roleNoun(tr.By))
		case tr.NeedsComment && comment == "":
			return "", errs.Invalid(commentField, "is required to %s", action)
		}
		if hasAuditor && tr.ToWithAuditor != "" {
			return tr.ToWithAuditor, nil
		}
		return tr.To, nil
	}
	return "", errs.New(errs.InvalidTransition, "%s is not possible when the request is %s", action, status)
}

// Available lists the actions role may take on a request in status now, in
// table order.
func Available(status Status, role Role) []Action {
	var out []Action
	for _, tr := range table {
		if tr.By == role && tr.from(status) {
			out = append(out, tr.Action)
		}
	}
	return out
}

func (tr Transition) from(status Status) bool {
	if tr.From == nil {
		return !IsEnded(status)
	}
	return slices.Contains(tr.From, status)
}

func roleNoun(r Role) string {
	switch r {
	case Editor:
		return "ticket's editors"
	case Violator:
		return "violator"
	case Manager:
		return "manager"
	case Auditor:
		return "auditor"
	}
	return string(r)
}

// Overdue reports whether a request in status with deadline is overdue at
// now: past its deadline while it waits for the violator. OverdueWhere is
// the same rule in SQL.
func Overdue(status Status, deadline, now time.Time) bool {
	return slices.Contains(Waiting, status) && deadline.Before(now)
}

// OverdueWhere selects the requests Overdue holds for at now (or, with
// overdue false, those it does not).
func OverdueWhere(now time.Time, overdue bool) predicate.ExplanationRequest {
	p := explanationrequest.And(explanationrequest.StatusIn(Waiting...), explanationrequest.DeadlineLT(now))
	if overdue {
		return p
	}
	return explanationrequest.Not(p)
}
