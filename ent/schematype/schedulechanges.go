package schematype

// The fields a task schedule's history entry records as changed (beside
// the ticket ones it shares: site, category, tags, watcher).
const (
	ChangeName        ChangedField = "name"
	ChangeDescription ChangedField = "description"
	ChangeOwner       ChangedField = "owner"
	ChangeRecurrence  ChangedField = "recurrence"
	ChangeStartsAt    ChangedField = "startsAt"
	ChangeTimeZone    ChangedField = "timeZone"
	ChangeDueInDays   ChangedField = "dueInDays"
	ChangeActive      ChangedField = "active"
	// ChangeNextOccurrence: the next occurrence to generate.
	ChangeNextOccurrence ChangedField = "nextOccurrenceAt"
	// ChangeOccurrence: GENERATED's occurrence, {at, ticket} (the task's
	// number, withheld like a link's from a viewer who cannot see it);
	// SKIPPED's, {count, first, last}.
	ChangeOccurrence ChangedField = "occurrence"
	// ChangeLibrary: the library entry a schedule was copied from.
	ChangeLibrary ChangedField = "library"
)
