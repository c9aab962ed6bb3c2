package tickets

import (
	"time"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/sla"
)

// A DELETED history entry records, as the "from" of its changes, the
// ticket's final state: every field a Snapshot holds. The live stream
// judges a deleted ticket's changes by walking back from that state, as it
// walks back from the row of a ticket that still exists, so that whether a
// change concerns a subscriber depends on the history alone, not on when
// it is read.

// deletedChanges is the DELETED entry of t (read by lock, with its
// people), whose tags are tags, cited policies policies and watchers
// watchers. (A deleted ticket is never a task: it has no schedule to record.)
func deletedChanges(t *ent.Ticket, tags, policies, watchers []int) []schematype.FieldChange {
	assignees, approvers := authz.People(t)
	var verdict any
	if t.AttackVerdict != nil {
		verdict = *t.AttackVerdict
	}
	return []schematype.FieldChange{
		{Field: schematype.ChangeTitle, From: t.Title},
		{Field: schematype.ChangeStatus, From: t.Status},
		{Field: schematype.ChangeSite, From: t.SiteID},
		{Field: schematype.ChangeCategory, From: t.CategoryID},
		{Field: schematype.ChangePriority, From: t.Priority},
		{Field: schematype.ChangeOrigin, From: t.Origin},
		{Field: schematype.ChangeAttackVerdict, From: verdict},
		{Field: schematype.ChangeIncident, From: t.Incident},
		{Field: schematype.ChangeAssignees, From: sorted(assignees)},
		{Field: schematype.ChangeApprovers, From: sorted(approvers)},
		{Field: schematype.ChangeTags, From: sorted(tags)},
		{Field: schematype.ChangePolicies, From: sorted(policies)},
		{Field: schematype.ChangeCreatedAt, From: t.CreatedAt.UTC()},
		{Field: schematype.ChangeBody, From: t.Body},
		{Field: schematype.ChangeDetection, From: DetectionOf(t)},
		{Field: schematype.ChangeExplanationStatus, From: t.ExplanationStatus},
		{Field: schematype.ChangeKind, From: t.Kind},
		{Field: schematype.ChangeDueAt, From: t.DueAt},
		{Field: schematype.ChangeWatchers, From: sorted(watchers)},
		{Field: schematype.ChangeRegisteredBy, From: t.RegisteredByID},
		{Field: schematype.ChangeSLAClocks, From: slaRecord(sla.ClocksOf(t))},
	}
}

// slaRecord is a ticket's SLA clocks as its DELETED entry records them.
func slaRecord(c sla.Clocks) map[string]any {
	return map[string]any{"responseDue": c.ResponseDue, "responseRisk": c.ResponseRisk, "respondedAt": c.RespondedAt,
		"resolutionDue": c.ResolutionDue, "resolutionRisk": c.ResolutionRisk, "resolvedAt": c.ResolvedAt, "pausedSince": c.PausedSince}
}

// slaClocksOf reads slaRecord's record (as written, or read back as JSON).
func slaClocksOf(v any) sla.Clocks {
	m, _ := v.(map[string]any)
	at := func(k string) *time.Time {
		if t := timeOf(m[k]); t != nil {
			u := t.UTC()
			return &u
		}
		return nil
	}
	return sla.Clocks{ResponseDue: at("responseDue"), ResponseRisk: at("responseRisk"), RespondedAt: at("respondedAt"),
		ResolutionDue: at("resolutionDue"), ResolutionRisk: at("resolutionRisk"), ResolvedAt: at("resolvedAt"), PausedSince: at("pausedSince")}
}

// SnapshotAtDeletion returns the ticket as it was when it was deleted,
// from the changes of its DELETED history entry; false when the entry
// does not record it (written before entries did).
func SnapshotAtDeletion(changes []schematype.FieldChange) (Snapshot, bool) {
	var (
		s       Snapshot
		created bool
	)
	for _, ch := range changes {
		switch ch.Field {
		case schematype.ChangeKind:
			s.Kind = ticket.Kind(str(ch.From))
		case schematype.ChangeWatchers:
			s.Watchers = nums(ch.From)
		case schematype.ChangeSLAClocks:
			s.SLA = slaClocksOf(ch.From)
		case schematype.ChangeOrigin:
			s.Origin = ticket.Origin(str(ch.From))
		case schematype.ChangeRegisteredBy:
			s.RegisteredBy = num(ch.From)
		case schematype.ChangeCreatedAt:
			switch at := ch.From.(type) {
			case time.Time:
				s.CreatedAt, created = at, true
			case string:
				t, err := time.Parse(time.RFC3339Nano, at)
				s.CreatedAt, created = t, err == nil
			}
		}
	}
	if !created {
		return Snapshot{}, false
	}
	// The other fields are restored as undoing any change restores them.
	s = s.Undo(changes)
	if s.Assignees == nil {
		s.Assignees = []int{}
	}
	if s.Approvers == nil {
		s.Approvers = []int{}
	}
	if s.Tags == nil {
		s.Tags = []int{}
	}
	if s.Policies == nil {
		s.Policies = []int{}
	}
	if s.Watchers == nil {
		s.Watchers = []int{}
	}
	if s.Kind == "" { // recorded before entries held the kind: a ticket (no task is ever deleted)
		s.Kind = ticket.KindANALYSIS
	}
	return s, true
}
