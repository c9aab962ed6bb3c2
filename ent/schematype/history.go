package schematype

// ChangedField names a field in a history entry's changes (FieldChange.Field).
// Every name the history writes is declared here, once: the writers (the
// ticket service), the readers (the live stream's undo, the trend, the
// presenters) and the stored JSON all go by these.
type ChangedField string

// The fields a history entry may record as changed.
const (
	ChangeStatus        ChangedField = "status"
	ChangeTitle         ChangedField = "title"
	ChangeBody          ChangedField = "body"
	ChangeBodyFormat    ChangedField = "bodyFormat"
	ChangeKind          ChangedField = "kind"
	ChangeOrigin        ChangedField = "origin"
	ChangeCategory      ChangedField = "category"
	ChangeSite          ChangedField = "site"
	ChangePriority      ChangedField = "priority"
	ChangeAttackVerdict ChangedField = "attackVerdict"
	ChangeIncident      ChangedField = "incident"
	ChangeAssignees     ChangedField = "assignees"
	ChangeApprovers     ChangedField = "approvers"
	ChangeTags          ChangedField = "tags"
	ChangeDueAt         ChangedField = "dueAt"
	ChangeClosedAt      ChangedField = "closedAt"
	ChangeCreatedAt     ChangedField = "createdAt"
	ChangeDetection     ChangedField = "detection"
	ChangeLink          ChangedField = "link"
	ChangeWatcher       ChangedField = "watcher"
	ChangeMemo          ChangedField = "memo"
	// ChangeDelivery: a propagation's delivery, {id, recipient, channel, status, error}.
	ChangeDelivery ChangedField = "delivery"
	// ChangePlaybookRun: {id, playbook, status, httpStatus, error}.
	ChangePlaybookRun ChangedField = "playbookRun"
	// ChangeAttachment: an attachment added or deleted, {id, filename, size, sha256, memo}.
	ChangeAttachment ChangedField = "attachment"
	// ChangeEvidence: evidence records appended, {count, total}.
	ChangeEvidence ChangedField = "evidence"
	// ChangeExplanation: an explanation request's step, {id, action, status, ...}.
	ChangeExplanation ChangedField = "explanation"
	// ChangeExplanationStatus: the ticket's explanation status (its latest request's).
	ChangeExplanationStatus ChangedField = "explanationStatus"
	// ChangePolicies: the compliance policies a ticket or task cites (ids).
	ChangePolicies ChangedField = "policies"
	// ChangeWatchers: a task's watchers as created, [{user, notify}].
	ChangeWatchers ChangedField = "watchers"
	// ChangeSchedule: the schedule and occurrence that generated a task, {schedule, occurrenceAt}.
	ChangeSchedule ChangedField = "schedule"
	// ChangeResolution: a task's note of the findings or reason (cleared on reopening).
	ChangeResolution ChangedField = "resolution"
	// ChangeQuery: a task's query, {filter, search}.
	ChangeQuery ChangedField = "query"
	// ChangeRegisteredBy: the ticket's registrant (a user id, null for
	// none), recorded in a DELETED entry's final state.
	ChangeRegisteredBy ChangedField = "registeredBy"
	// ChangeDuplicateCount: a detection ticket's repeats (a DUPLICATE entry).
	ChangeDuplicateCount ChangedField = "duplicateCount"
	// ChangeLastDetectedAt: when the attack was last detected.
	ChangeLastDetectedAt ChangedField = "lastDetectedAt"
	// ChangeEvidenceDropped: evidence records dropped, oldest first, over the bound.
	ChangeEvidenceDropped ChangedField = "evidenceDropped"
	// ChangeSLA: a service-level clock that breached, {clock, dueAt}.
	ChangeSLA ChangedField = "sla"
	// ChangeSLAClocks: a deleted ticket's SLA clocks, in its DELETED entry
	// ({responseDue, responseRisk, respondedAt, resolutionDue, ...}).
	ChangeSLAClocks ChangedField = "slaClocks"
)
