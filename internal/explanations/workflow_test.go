package explanations

import (
	"testing"
	"time"

	"socdesk/ent/schematype"
	"socdesk/internal/errs"
)

// TestDecide: every action from every status by every role, against the
// table as the product describes it.
func TestDecide(t *testing.T) {
	const (
		N, S, R, C = schematype.ExplanationNew, schematype.ExplanationSubmitted, schematype.ExplanationReturned, schematype.ExplanationClosed
		A, AR, AC  = schematype.ExplanationAwaiting, schematype.ExplanationAuditReturned, schematype.ExplanationAuditCompleted
	)
	type want struct {
		by      Role
		from    []Status
		to, toA Status // without, with an auditor
	}
	rows := map[Action]want{
		Submit:        {Violator, []Status{N, R, AR}, S, S},
		Return:        {Manager, []Status{S}, R, R},
		Accept:        {Manager, []Status{S}, C, A},
		AuditReturn:   {Auditor, []Status{A}, AR, AR},
		AuditComplete: {Auditor, []Status{A}, AC, AC},
		Withdraw:      {Editor, []Status{N, S, R, A, AR}, C, C},
	}
	for action, w := range rows {
		for _, status := range schematype.ExplanationStatuses {
			for _, role := range []Role{Editor, Violator, Manager, Auditor, System} {
				for _, auditor := range []bool{false, true} {
					to, err := Decide(status, auditor, action, role, "a comment", "comment")
					allowedFrom := false
					for _, f := range w.from {
						allowedFrom = allowedFrom || f == status
					}
					switch {
					case !allowedFrom:
						if errs.CodeOf(err) != errs.InvalidTransition {
							t.Errorf("%s from %s by %s: %v, want INVALID_TRANSITION", action, status, role, err)
						}
					case role != w.by:
						if errs.CodeOf(err) != errs.Forbidden {
							t.Errorf("%s from %s by %s: %v, want FORBIDDEN", action, status, role, err)
						}
					default:
						want := w.to
						if auditor {
							want = w.toA
						}
						if err != nil || to != want {
							t.Errorf("%s from %s by %s (auditor %v): %s %v, want %s", action, status, role, auditor, to, err, want)
						}
					}
				}
			}
		}
	}
	for _, a := range []Action{Submit, Return, AuditReturn, Withdraw} {
		from := rows[a].from[0]
		if _, err := Decide(from, false, a, rows[a].by, "", "comment"); errs.CodeOf(err) != errs.BadUserInput {
			t.Errorf("%s without a comment: %v", a, err)
		}
	}
	if got := Available(S, Manager); len(got) != 2 || got[0] != Return || got[1] != Accept {
		t.Errorf("the manager's actions on SUBMITTED: %v", got)
	}
	if got := Available(C, Editor); len(got) != 0 {
		t.Errorf("actions on an ended request: %v", got)
	}
}

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, st := range schematype.ExplanationStatuses {
		waiting := st == schematype.ExplanationNew || st == schematype.ExplanationReturned || st == schematype.ExplanationAuditReturned
		if got := Overdue(st, now.Add(-time.Second), now); got != waiting {
			t.Errorf("%s past its deadline: overdue %v", st, got)
		}
		if Overdue(st, now.Add(time.Second), now) {
			t.Errorf("%s before its deadline is overdue", st)
		}
	}
}
