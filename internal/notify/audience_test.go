package notify_test

import (
	"slices"
	"testing"

	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/internal/notify"
)

// The people of one ticket: 1 and 2 assignees (2 added by the assignment),
// 3 and 4 approvers (4 added), 5 the registrant, 6 a watcher of ALL, 7 of
// OPEN_CLOSE, 8 an assignee's escalation contact.
var people = notify.People{
	Assignees: []int{1, 2}, Approvers: []int{3, 4}, Registrant: ptr(5),
	Watchers:       map[int]ticketwatcher.Notify{6: ticketwatcher.NotifyALL, 7: ticketwatcher.NotifyOPEN_CLOSE},
	AddedAssignees: []int{2}, AddedApprovers: []int{4}, Escalation: []int{8},
}

func ptr(i int) *int { return &i }

func TestRecipientsRowByRow(t *testing.T) {
	for _, c := range []struct {
		o     notify.Occasion
		actor *int
		want  []int
	}{
		{notify.Created, nil, []int{1, 2, 3, 4, 6, 7}},
		{notify.Assigned, nil, []int{2, 4, 6}}, // not 1 and 3: unchanged
		{notify.Submitted, nil, []int{3, 4, 6}},
		{notify.Approved, nil, []int{1, 2, 6}},
		{notify.Rejected, nil, []int{1, 2, 6}},
		{notify.Closed, nil, []int{1, 2, 3, 4, 5, 6, 7}},
		{notify.Reopened, nil, []int{1, 2, 3, 4, 5, 6, 7}},
		{notify.Changed, nil, []int{6}},
		{notify.Breached, nil, []int{1, 2, 6, 7, 8}}, // 8: an assignee's escalation contact
		// Nobody hears of their own change.
		{notify.Created, ptr(1), []int{2, 3, 4, 6, 7}},
		{notify.Closed, ptr(7), []int{1, 2, 3, 4, 5, 6}},
		{notify.Changed, ptr(6), nil},
		{notify.Submitted, ptr(1), []int{3, 4, 6}},
		{notify.Closed, ptr(99), []int{1, 2, 3, 4, 5, 6, 7}},
	} {
		if got := notify.Recipients(c.o, people, c.actor); !slices.Equal(got, c.want) {
			t.Errorf("Recipients(%s, actor %v) = %v, want %v", c.o, deref(c.actor), got, c.want)
		}
	}
	// Someone in two parties is told once; no registrant, no watchers.
	p := notify.People{Assignees: []int{1, 3}, Approvers: []int{3, 1}, Watchers: map[int]ticketwatcher.Notify{1: ticketwatcher.NotifyALL}}
	if got := notify.Recipients(notify.Closed, p, nil); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("Recipients with repeats = %v", got)
	}
	if len(notify.Audience) != 9 {
		t.Errorf("the table has %d rows, want 9 (every occasion)", len(notify.Audience))
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestOccasionOf(t *testing.T) {
	status := func(from, to ticket.Status) []schematype.FieldChange {
		return []schematype.FieldChange{{Field: schematype.ChangeStatus, From: string(from), To: string(to)}}
	}
	for _, c := range []struct {
		kind    ticketevent.Kind
		changes []schematype.FieldChange
		want    notify.Occasion
		ok      bool
	}{
		{ticketevent.KindCREATED, nil, notify.Created, true},
		{ticketevent.KindASSIGNED, nil, notify.Assigned, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED), notify.Submitted, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusSUBMITTED, ticket.StatusAPPROVED), notify.Approved, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusSUBMITTED, ticket.StatusREJECTED), notify.Rejected, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusAPPROVED, ticket.StatusCLOSED), notify.Closed, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusCLOSED, ticket.StatusTRIAGE), notify.Reopened, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS), notify.Changed, true},
		{ticketevent.KindTRANSITIONED, status(ticket.StatusTRIAGE, ticket.StatusANALYSIS), notify.Changed, true},
		{ticketevent.KindUPDATED, nil, notify.Changed, true},
		{ticketevent.KindTAGGED, nil, notify.Changed, true},
		{ticketevent.KindMEMO_ADDED, nil, notify.Changed, true},
		{ticketevent.KindMEMO_EDITED, nil, notify.Changed, true},
		{ticketevent.KindLINKED, nil, notify.Changed, true},
		{ticketevent.KindUNLINKED, nil, notify.Changed, true},
		{ticketevent.KindWATCHED, nil, "", false},
		{ticketevent.KindUNWATCHED, nil, "", false},
		{ticketevent.KindDELETED, nil, "", false},
		{ticketevent.KindPROPAGATED, nil, "", false},
		{ticketevent.KindDELIVERY_UPDATED, nil, "", false},
		{ticketevent.KindPLAYBOOK_RUN, nil, "", false},
		{ticketevent.KindPLAYBOOK_RUN_UPDATED, nil, "", false},
	} {
		got, ok := notify.OccasionOf(c.kind, c.changes)
		if got != c.want || ok != c.ok {
			t.Errorf("OccasionOf(%s, %v) = %s, %v; want %s, %v", c.kind, c.changes, got, ok, c.want, c.ok)
		}
	}
}
