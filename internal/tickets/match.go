package tickets

import (
	"encoding/json"
	"slices"
	"time"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/netkey"
	"socdesk/internal/sla"
)

// Snapshot is what the ticket filter looks at of a ticket, at one moment.
// Live subscriptions match changes against it in memory (one read of the
// changed tickets serves every subscriber), before and after each change.
type Snapshot struct {
	CreatedAt     time.Time
	SiteID        int
	CategoryID    int
	Priority      ticket.Priority
	Status        ticket.Status
	Origin        ticket.Origin
	AttackVerdict *ticket.AttackVerdict
	Incident      bool
	Title, Body   string
	Assignees     []int
	Approvers     []int
	Tags          []int
	// Policies are the compliance policies the ticket cites.
	Policies []int
	// The pivots' keys (package netkey; "" for none) and the explanation
	// status ("" for none).
	SrcIPKey, DstIPKey, HostKey string
	ExplanationStatus           schematype.ExplanationStatus
	// Tasks' fields: the kind, the watchers (when loaded), the due date,
	// the schedule (0 for none).
	Kind       ticket.Kind
	Watchers   []int
	DueAt      *time.Time
	ScheduleID int
	// RegisteredBy is the user who created the ticket, 0 for none.
	RegisteredBy int
	// SLA: the service-level clocks (package sla).
	SLA sla.Clocks
}

// SnapshotOf is the snapshot of t, which must have its tags, policies and
// people loaded (their ids suffice; the people as users or by
// authz.WithPeople).
func SnapshotOf(t *ent.Ticket) Snapshot {
	assignees, approvers := authz.People(t)
	tags := make([]int, len(t.Edges.Tags))
	for i, tg := range t.Edges.Tags {
		tags[i] = tg.ID
	}
	policies := make([]int, len(t.Edges.Policies))
	for i, p := range t.Edges.Policies {
		policies[i] = p.ID
	}
	watchers := make([]int, len(t.Edges.Watchers))
	for i, w := range t.Edges.Watchers {
		watchers[i] = w.UserID
	}
	return Snapshot{
		CreatedAt: t.CreatedAt, SiteID: t.SiteID, CategoryID: t.CategoryID, Priority: t.Priority,
		Status: t.Status, Origin: t.Origin, AttackVerdict: t.AttackVerdict, Incident: t.Incident,
		Title: t.Title, Body: t.Body,
		Assignees: assignees, Approvers: approvers, Tags: tags, Policies: policies,
		SrcIPKey: deref(t.SrcIPKey), DstIPKey: deref(t.DstIPKey), HostKey: deref(t.HostKey),
		ExplanationStatus: deref(t.ExplanationStatus),
		Kind:              t.Kind, Watchers: watchers, DueAt: t.DueAt, ScheduleID: deref(t.ScheduleID),
		RegisteredBy: deref(t.RegisteredByID),
		SLA:          sla.ClocksOf(t),
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Undo returns the snapshot as it was before changes (a history entry's
// field changes) were made to s. Values come as the history stores them
// (JSON: numbers as float64, lists as []any).
func (s Snapshot) Undo(changes []schematype.FieldChange) Snapshot {
	for _, ch := range changes {
		switch ch.Field {
		case schematype.ChangeStatus:
			s.Status = ticket.Status(str(ch.From))
		case schematype.ChangeSite:
			s.SiteID = num(ch.From)
		case schematype.ChangeCategory:
			s.CategoryID = num(ch.From)
		case schematype.ChangePriority:
			s.Priority = ticket.Priority(str(ch.From))
		case schematype.ChangeAttackVerdict:
			if v := str(ch.From); v != "" {
				av := ticket.AttackVerdict(v)
				s.AttackVerdict = &av
			} else {
				s.AttackVerdict = nil
			}
		case schematype.ChangeIncident:
			b, _ := ch.From.(bool)
			s.Incident = b
		case schematype.ChangeTitle:
			s.Title = str(ch.From)
		case schematype.ChangeBody:
			s.Body = str(ch.From)
		case schematype.ChangeAssignees:
			s.Assignees = nums(ch.From)
		case schematype.ChangeApprovers:
			s.Approvers = nums(ch.From)
		case schematype.ChangeTags:
			s.Tags = nums(ch.From)
		case schematype.ChangePolicies:
			s.Policies = nums(ch.From)
		case schematype.ChangeDetection:
			s.SrcIPKey, s.DstIPKey, s.HostKey = detectionKeys(ch.From)
		case schematype.ChangeExplanationStatus:
			s.ExplanationStatus = explanationStatus(ch.From)
		case schematype.ChangeDueAt:
			s.DueAt = timeOf(ch.From)
		case schematype.ChangeWatcher: // {user, notify}: made (From nil), unmade (To nil) or changed
			from, to := watcherOf(ch.From), watcherOf(ch.To)
			if to != 0 && from == 0 {
				s.Watchers = slices.DeleteFunc(slices.Clone(s.Watchers), func(id int) bool { return id == to })
			} else if from != 0 && to == 0 && !slices.Contains(s.Watchers, from) {
				s.Watchers = append(slices.Clone(s.Watchers), from)
			}
		}
	}
	return s
}

// timeOf is a time as the history holds it (a time, or its JSON text).
func timeOf(v any) *time.Time {
	switch v := v.(type) {
	case time.Time:
		return &v
	case *time.Time:
		return v
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return &t
		}
	}
	return nil
}

// watcherOf is the user of a watcher change's side, 0 for none.
func watcherOf(v any) int {
	switch m := v.(type) {
	case map[string]any:
		return num(m["user"])
	}
	return 0
}

// detectionKeys are the pivots' keys of a detection as the history holds
// it: a *Detection, or its JSON (whose keys encoding/json matches to the
// fields whatever their case); none for no detection.
func detectionKeys(v any) (src, dst, host string) {
	var d Detection
	switch v := v.(type) {
	case nil:
		return "", "", ""
	case *Detection:
		if v == nil {
			return "", "", ""
		}
		d = *v
	default:
		b, err := json.Marshal(v)
		if err != nil || json.Unmarshal(b, &d) != nil {
			return "", "", ""
		}
	}
	key := func(p *string, fn func(string) (string, bool)) string {
		if p == nil {
			return ""
		}
		k, _ := fn(*p)
		return k
	}
	return key(d.SourceIP, netkey.IPKey), key(d.DestinationIP, netkey.IPKey), key(d.Host, netkey.HostKey)
}

func explanationStatus(v any) schematype.ExplanationStatus {
	switch v := v.(type) {
	case schematype.ExplanationStatus:
		return v
	case *schematype.ExplanationStatus:
		return deref(v)
	}
	return schematype.ExplanationStatus(str(v))
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case interface{ String() string }:
		return v.String()
	}
	return ""
}

func num(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	case *int:
		return deref(v)
	}
	return 0
}

func nums(v any) []int {
	switch v := v.(type) {
	case []int:
		return v
	case []any:
		out := make([]int, 0, len(v))
		for _, x := range v {
			out = append(out, num(x))
		}
		return out
	}
	return nil
}
