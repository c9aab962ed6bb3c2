package workflow

import (
	"fmt"
	"slices"
	"testing"

	"socdesk/ent/category"
	"socdesk/ent/ticket"
)

// rule is an allowed transition as the issue states it, written out
// independently of the table so that the table is checked against it.
type rule struct {
	w      category.Workflow
	action Action
	from   ticket.Status
	to     ticket.Status
	by     Role
	clears bool // removes the assignees
}

func expected() []rule {
	var rs []rule
	A, I := category.WorkflowAPPROVAL, category.WorkflowINCIDENT_RESPONSE
	add := func(w category.Workflow, a Action, from, to ticket.Status, by Role) {
		// An approval RESTART starts the ticket over: NEW is assigned to no one.
		rs = append(rs, rule{w, a, from, to, by, w == category.WorkflowAPPROVAL && a == Restart})
	}
	add(A, Start, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, Assignee)
	add(A, Start, ticket.StatusREJECTED, ticket.StatusIN_PROGRESS, Assignee)
	add(A, Submit, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED, Assignee)
	add(A, Approve, ticket.StatusSUBMITTED, ticket.StatusAPPROVED, Approver)
	add(A, Reject, ticket.StatusSUBMITTED, ticket.StatusREJECTED, Approver)
	for _, s := range Statuses[A] {
		if s != ticket.StatusCLOSED {
			add(A, Close, s, ticket.StatusCLOSED, Editor)
		}
		if s != ticket.StatusNEW {
			add(A, Restart, s, ticket.StatusNEW, Editor)
		}
	}
	add(A, Reopen, ticket.StatusCLOSED, ticket.StatusASSIGNED, Editor) // with an assignee
	working := []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED}
	for _, from := range working {
		for _, to := range working {
			if from != to {
				add(I, Move, from, to, Assignee|Editor)
			}
		}
		add(I, Close, from, ticket.StatusCLOSED, Assignee|Editor)
		if from != ticket.StatusTRIAGE {
			add(I, Restart, from, ticket.StatusTRIAGE, Editor)
		}
	}
	add(I, Restart, ticket.StatusCLOSED, ticket.StatusTRIAGE, Editor)
	add(I, Reopen, ticket.StatusCLOSED, ticket.StatusTRIAGE, Assignee|Editor)
	T := category.WorkflowTASK
	add(T, Close, ticket.StatusOPEN, ticket.StatusCLOSED, Assignee|Editor)
	add(T, Invalidate, ticket.StatusOPEN, ticket.StatusINVALID, Assignee|Editor)
	add(T, Reopen, ticket.StatusCLOSED, ticket.StatusOPEN, Assignee|Editor)
	add(T, Reopen, ticket.StatusINVALID, ticket.StatusOPEN, Assignee|Editor)
	return rs
}

// TestTable checks every workflow × status × action × target × role against
// the rules above: allowed exactly where a rule says so, FORBIDDEN where a
// rule exists for other roles, INVALID everywhere else.
func TestTable(t *testing.T) {
	rules := expected()
	roles := []Role{0, Assignee, Approver, Editor, Assignee | Approver, Assignee | Editor}
	all := append(slices.Clone(Statuses[category.WorkflowAPPROVAL]), ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION, ticket.StatusRESOLVED)
	checked := 0
	for w := range Statuses {
		for _, from := range Statuses[w] {
			for _, action := range Actions {
				targets := []*ticket.Status{nil}
				if action == Move {
					targets = nil
					for _, s := range all {
						targets = append(targets, &s)
					}
				}
				for _, target := range targets {
					for _, r := range roles {
						tk := Ticket{Workflow: w, Status: from, HasAssignee: true, HasApprover: true}
						got := Decide(tk, action, target, r, "because")
						var want *rule
						for i, ru := range rules {
							if ru.w == w && ru.action == action && ru.from == from && (target == nil || *target == ru.to) {
								want = &rules[i]
							}
						}
						name := fmt.Sprintf("%s %s %s→%v as %s", w, action, from, deref(target), r)
						switch {
						case want == nil && got.Outcome != Invalid:
							t.Errorf("%s: %+v, want invalid", name, got)
						case want != nil && want.by&r != 0 && (got.Outcome != Allowed || got.To != want.to || got.ClearsAssignees != want.clears):
							t.Errorf("%s: %+v, want allowed to %s (clearing the assignees: %v)", name, got, want.to, want.clears)
						case want != nil && want.by&r == 0 && got.Outcome != Forbidden:
							t.Errorf("%s: %+v, want forbidden", name, got)
						}
						if want != nil && want.by&r != 0 && !Permits(tk, want.to, r) {
							t.Errorf("%s: Permits says no", name)
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d combinations checked", checked)
}

func deref(s *ticket.Status) any {
	if s == nil {
		return "-"
	}
	return *s
}

func TestConditions(t *testing.T) {
	noApprover := Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusIN_PROGRESS, HasAssignee: true}
	if d := Decide(noApprover, Submit, nil, Assignee, ""); d.Outcome != Unmet {
		t.Errorf("submit without approver: %+v", d)
	}
	if slices.ContainsFunc(Available(noApprover, Assignee), func(o Option) bool { return o.Action == Submit }) {
		t.Error("SUBMIT offered without an approver")
	}
	submitted := Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusSUBMITTED, HasAssignee: true, HasApprover: true}
	if d := Decide(submitted, Reject, nil, Approver, ""); d.Outcome != Unmet {
		t.Errorf("reject without reason: %+v", d)
	}
	closed := Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusCLOSED}
	if d := Decide(closed, Reopen, nil, Editor, ""); d.Outcome != Allowed || d.To != ticket.StatusNEW {
		t.Errorf("reopen without assignee: %+v", d)
	}
	closed.HasAssignee = true
	if d := Decide(closed, Reopen, nil, Editor, ""); d.Outcome != Allowed || d.To != ticket.StatusASSIGNED {
		t.Errorf("reopen with assignee: %+v", d)
	}
}

func TestAssignmentAndStart(t *testing.T) {
	for _, c := range []struct {
		t    Ticket
		want ticket.Status
	}{
		{Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusNEW, HasAssignee: true}, ticket.StatusASSIGNED},
		{Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusASSIGNED}, ticket.StatusNEW},
		{Ticket{Workflow: category.WorkflowAPPROVAL, Status: ticket.StatusIN_PROGRESS}, ticket.StatusIN_PROGRESS},
		{Ticket{Workflow: category.WorkflowINCIDENT_RESPONSE, Status: ticket.StatusTRIAGE, HasAssignee: true}, ticket.StatusTRIAGE},
	} {
		if got := AfterAssignment(c.t); got != c.want {
			t.Errorf("%+v: %s, want %s", c.t, got, c.want)
		}
	}
	if InitialStatus(category.WorkflowAPPROVAL, false) != ticket.StatusNEW || InitialStatus(category.WorkflowAPPROVAL, true) != ticket.StatusASSIGNED ||
		InitialStatus(category.WorkflowINCIDENT_RESPONSE, true) != ticket.StatusTRIAGE {
		t.Error("initial statuses")
	}
}

// TestAvailableMatchesDecide: every option offered is a transition Decide allows.
func TestAvailableMatchesDecide(t *testing.T) {
	for w, statuses := range Statuses {
		for _, s := range statuses {
			for _, r := range []Role{Assignee, Approver, Editor} {
				tk := Ticket{Workflow: w, Status: s, HasAssignee: true, HasApprover: true}
				for _, o := range Available(tk, r) {
					to := o.ToStatus
					if d := Decide(tk, o.Action, &to, r, "x"); d.Outcome != Allowed || d.To != o.ToStatus {
						t.Errorf("%s %s as %s: offered %+v, Decide says %+v", w, s, r, o, d)
					}
				}
			}
		}
	}
}

// TestRestartClearsAssignees: an approval RESTART leaves the ticket NEW and
// assigned to no one (issue 9, 1j); an incident's owner stays on RESTART.
func TestRestartClearsAssignees(t *testing.T) {
	for _, c := range []struct {
		w     category.Workflow
		from  ticket.Status
		clear bool
	}{
		{category.WorkflowAPPROVAL, ticket.StatusSUBMITTED, true},
		{category.WorkflowAPPROVAL, ticket.StatusCLOSED, true},
		{category.WorkflowINCIDENT_RESPONSE, ticket.StatusREMEDIATION, false},
	} {
		d := Decide(Ticket{Workflow: c.w, Status: c.from, HasAssignee: true, HasApprover: true}, Restart, nil, Editor, "")
		if d.Outcome != Allowed || d.ClearsAssignees != c.clear {
			t.Errorf("%s RESTART from %s: %+v, want clearing assignees %v", c.w, c.from, d, c.clear)
		}
	}
	for w, statuses := range Statuses {
		for _, s := range statuses {
			for _, a := range Actions {
				if a == Restart {
					continue
				}
				if d := Decide(Ticket{Workflow: w, Status: s, HasAssignee: true, HasApprover: true}, a, nil, Assignee|Approver|Editor, "x"); d.ClearsAssignees {
					t.Errorf("%s %s from %s clears the assignees", w, a, s)
				}
			}
		}
	}
}

// TestOrder: the product's order of statuses (issue 9, 1k) is New, Assigned,
// In Progress, Submitted, Rejected, Approved, the incident statuses, Closed:
// every status once, each workflow's own in their order.
func TestOrder(t *testing.T) {
	want := []ticket.Status{ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED,
		ticket.StatusREJECTED, ticket.StatusAPPROVED, ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION,
		ticket.StatusRESOLVED, ticket.StatusCLOSED}
	if !slices.Equal(Order, want) {
		t.Fatalf("Order %v, want %v", Order, want)
	}
	for _, s := range Order {
		if err := ticket.StatusValidator(s); err != nil {
			t.Error(err)
		}
	}
	if got := slices.Concat(Order, TaskOnly); !slices.Equal(Statuses[category.WorkflowTASK], []ticket.Status{ticket.StatusOPEN, ticket.StatusCLOSED, ticket.StatusINVALID}) ||
		slices.ContainsFunc(TaskOnly, func(s ticket.Status) bool { return slices.Contains(Order, s) }) || len(got) != len(Order)+2 {
		t.Errorf("task statuses %v beside Order %v", Statuses[category.WorkflowTASK], Order)
	}
	for w, statuses := range Statuses {
		if w == category.WorkflowTASK {
			continue // no part of the trend's order
		}
		at := -1
		for _, s := range statuses {
			i := slices.Index(Order, s)
			if i <= at {
				t.Errorf("%s: %s out of the workflow's order in %v", w, s, Order)
			}
			at = i
		}
	}
}
