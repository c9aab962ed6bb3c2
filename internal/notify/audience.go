package notify

import (
	"slices"

	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
)

// Occasion is what happened to a ticket, as the audience table knows it.
type Occasion string

// The occasions: a ticket's creation, its assignment, the workflow's
// milestones, and any other change.
const (
	Created   Occasion = "CREATED"
	Assigned  Occasion = "ASSIGNED"
	Submitted Occasion = "SUBMITTED"
	Approved  Occasion = "APPROVED"
	Rejected  Occasion = "REJECTED"
	Closed    Occasion = "CLOSED"
	Reopened  Occasion = "REOPENED"
	Changed   Occasion = "CHANGED"
	// Breached: a service-level clock ran out (package sla).
	Breached Occasion = "SLA_BREACHED"
)

// Party is a group of people by how they stand to a ticket.
type Party uint16

// The parties.
const (
	Assignees          Party = 1 << iota // the ticket's assignees (an incident's owners)
	Approvers                            // its approvers
	NewAssignees                         // assignees an assignment added
	NewApprovers                         // approvers an assignment added
	Registrant                           // who opened it
	WatchersAll                          // watchers who chose ALL
	WatchersOpenClose                    // watchers who chose OPEN_CLOSE
	EscalationContacts                   // the managers of the assignees' departments (the directory)

	// Involved is everyone who takes part in the ticket.
	Involved = Assignees | Approvers | Registrant | WatchersAll | WatchersOpenClose
)

// Audience is the one table of who hears of what (DefenseStorm: "owners and
// watchers are notified via email"). Watchers with ALL hear every change,
// with OPEN_CLOSE only creation, closing and reopening. Whoever made the
// change never hears of it (Recipients drops the actor).
var Audience = map[Occasion]Party{
	Created:   Assignees | Approvers | WatchersAll | WatchersOpenClose,
	Assigned:  NewAssignees | NewApprovers | WatchersAll,
	Submitted: Approvers | WatchersAll,
	Approved:  Assignees | WatchersAll,
	Rejected:  Assignees | WatchersAll,
	Closed:    Involved,
	Reopened:  Involved,
	Changed:   WatchersAll,
	Breached:  Assignees | EscalationContacts | WatchersAll | WatchersOpenClose,
}

// OccasionOf says what a history entry tells of; false for entries nobody
// is told of: a watch (not a change of the ticket), a deletion (its people
// are gone with it), and what happens beside the ticket (propagations,
// playbook runs, their progress), which would otherwise tell of itself.
func OccasionOf(kind ticketevent.Kind, changes []schematype.FieldChange) (Occasion, bool) {
	switch kind {
	case ticketevent.KindCREATED:
		return Created, true
	case ticketevent.KindASSIGNED:
		return Assigned, true
	case ticketevent.KindTRANSITIONED:
		from, to := statusChange(changes)
		switch {
		// A task found INVALID is closed as much as a CLOSED one (its
		// OPEN_CLOSE watchers hear of it), and reopened from either.
		case to == ticket.StatusCLOSED || to == ticket.StatusINVALID:
			return Closed, true
		case from == ticket.StatusCLOSED || from == ticket.StatusINVALID:
			return Reopened, true
		case to == ticket.StatusSUBMITTED:
			return Submitted, true
		case to == ticket.StatusAPPROVED:
			return Approved, true
		case to == ticket.StatusREJECTED:
			return Rejected, true
		}
		return Changed, true
	case ticketevent.KindSLA_BREACHED:
		return Breached, true
	case ticketevent.KindUPDATED, ticketevent.KindTAGGED, ticketevent.KindMEMO_ADDED, ticketevent.KindMEMO_EDITED,
		ticketevent.KindLINKED, ticketevent.KindUNLINKED:
		return Changed, true
	}
	return "", false
}

// People are the ticket's people as the table needs them.
type People struct {
	Assignees, Approvers []int
	Registrant           *int
	Watchers             map[int]ticketwatcher.Notify
	// Added are the assignees and approvers an assignment added.
	AddedAssignees, AddedApprovers []int
	// Escalation are the assignees' escalation contacts (loaded for a breach).
	Escalation []int
}

// Recipients are the users who hear of occasion, by the table, less the
// actor (nil: the system), in ascending order without repeats.
func Recipients(o Occasion, p People, actor *int) []int {
	party := Audience[o]
	var out []int
	add := func(in Party, ids []int) {
		if party&in != 0 {
			out = append(out, ids...)
		}
	}
	add(Assignees, p.Assignees)
	add(Approvers, p.Approvers)
	add(NewAssignees, p.AddedAssignees)
	add(NewApprovers, p.AddedApprovers)
	add(EscalationContacts, p.Escalation)
	if p.Registrant != nil {
		add(Registrant, []int{*p.Registrant})
	}
	for id, n := range p.Watchers {
		switch n {
		case ticketwatcher.NotifyALL:
			add(WatchersAll, []int{id})
		case ticketwatcher.NotifyOPEN_CLOSE:
			add(WatchersOpenClose, []int{id})
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if actor != nil {
		out = slices.DeleteFunc(out, func(id int) bool { return id == *actor })
	}
	return out
}

// statusChange is the status a change moved the ticket from and to.
func statusChange(changes []schematype.FieldChange) (from, to ticket.Status) {
	for _, c := range changes {
		if c.Field == schematype.ChangeStatus {
			return ticket.Status(asString(c.From)), ticket.Status(asString(c.To))
		}
	}
	return "", ""
}

// added are the ids in a change's To that were not in its From (people as
// the history records them: lists of ids, as JSON numbers once stored).
func added(changes []schematype.FieldChange, field schematype.ChangedField) []int {
	for _, c := range changes {
		if c.Field == field {
			before := ids(c.From)
			return slices.DeleteFunc(ids(c.To), func(id int) bool { return slices.Contains(before, id) })
		}
	}
	return nil
}

func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case ticket.Status:
		return string(s)
	}
	return ""
}

func ids(v any) []int {
	switch l := v.(type) {
	case []int:
		return slices.Clone(l)
	case []any:
		out := make([]int, 0, len(l))
		for _, x := range l {
			switch n := x.(type) {
			case float64:
				out = append(out, int(n))
			case int:
				out = append(out, n)
			}
		}
		return out
	}
	return nil
}
