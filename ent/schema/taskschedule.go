package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/ent/schematype"

	"socdesk/internal/authz"
)

// TaskSchedule is a recurring compliance review: at each occurrence of its
// recurrence (an RFC 5545 RRULE in its IANA time zone) a task is generated
// carrying its fields, due DueInDays later. Schedules are paused, never
// deleted: the tasks they generated name them.
type TaskSchedule struct{ ent.Schema }

// Mixin of the TaskSchedule.
func (TaskSchedule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the TaskSchedule.
func (TaskSchedule) Fields() []ent.Field {
	skipInputs := entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("name").NotEmpty().Validate(maxRunes(schematype.MaxTitleLength)).
			Annotations(entgql.OrderField("NAME")),
		field.Text("description").Default("").Validate(maxRunes(20000)),
		field.Int("site_id"),
		field.Int("category_id").Optional().Nillable().
			Comment("The category of the tasks it generates (a TASK workflow one); unset: the default task category."),
		field.Int("owner_id").Optional().Nillable(),
		field.Int("created_by_id").Optional().Nillable().Immutable(),
		// The query: a saved ticket filter (the TicketFilter input as
		// given, JSON), or an external search string kept verbatim.
		field.JSON("query_filter", json.RawMessage{}).Optional().Annotations(hidden),
		field.Text("query_search").Optional().Nillable().Validate(maxRunes(10000)),
		field.String("recurrence").NotEmpty().Validate(maxRunes(1000)).
			Comment("An RFC 5545 RRULE (without DTSTART), read in time_zone from starts_at."),
		field.Time("starts_at").Comment("The recurrence's DTSTART: its first possible occurrence."),
		field.String("time_zone").Default("UTC").Validate(maxRunes(64)),
		field.Int("due_in_days").Default(0).Min(0).Max(3660),
		field.Bool("active").Default(true).Annotations(skipInputs),
		field.Time("next_occurrence_at").Optional().Nillable().Annotations(skipInputs).
			Comment("The next occurrence not generated yet; unset when the recurrence has ended."),
		field.Time("last_occurrence_at").Optional().Nillable().Annotations(skipInputs).
			Comment("The latest occurrence a task was generated for."),
		field.String("library_id").Optional().Nillable().Immutable().Validate(maxRunes(100)).
			Comment("The library schedule it was copied from."),
		field.Int("version").Default(1).Annotations(skipInputs).
			Comment("Incremented by every change; used for optimistic locking."),
	}
}

// Edges of the TaskSchedule.
func (TaskSchedule) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("site", Site.Type).Ref("task_schedules").Field("site_id").Unique().Required(),
		edge.To("category", Category.Type).Field("category_id").Unique(),
		edge.To("owner", User.Type).Field("owner_id").Unique(),
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Immutable(),
		edge.To("tags", Tag.Type),
		edge.To("policies", CompliancePolicy.Type).Through("schedule_policies", TaskSchedulePolicy.Type),
		edge.To("watchers", TaskScheduleWatcher.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("tasks", Ticket.Type).Annotations(entgql.RelayConnection()),
		edge.To("events", TaskScheduleEvent.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the TaskSchedule: the generator's scan of active schedules by
// their next occurrence, and the lists'.
func (TaskSchedule) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("active", "next_occurrence_at"),
		index.Fields("site_id", "name"),
		index.Fields("owner_id"),
		index.Fields("created_by_id"),
	}
}

// Annotations of the TaskSchedule.
func (TaskSchedule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the TaskSchedule: see package authz.
func (TaskSchedule) Policy() ent.Policy { return authz.TaskSchedulePolicy() }

// TaskScheduleWatcher is a user told of the tasks a schedule generates
// (copied to each task as its watcher), with how much they hear.
type TaskScheduleWatcher struct{ ent.Schema }

// Fields of the TaskScheduleWatcher.
func (TaskScheduleWatcher) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("notify").Values("ALL", "OPEN_CLOSE").Default("ALL"),
		field.Int("schedule_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Edges of the TaskScheduleWatcher.
func (TaskScheduleWatcher) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("schedule", TaskSchedule.Type).Ref("watchers").Field("schedule_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the TaskScheduleWatcher.
func (TaskScheduleWatcher) Indexes() []ent.Index {
	return []ent.Index{index.Fields("schedule_id", "user_id").Unique(), index.Fields("user_id")}
}

// Policy of the TaskScheduleWatcher: see package authz.
func (TaskScheduleWatcher) Policy() ent.Policy { return authz.ScheduleChildPolicy() }

// TaskScheduleEvent is one entry of a schedule's append-only history:
// created, changed, paused, resumed, a task generated, occurrences skipped.
type TaskScheduleEvent struct{ ent.Schema }

// Fields of the TaskScheduleEvent.
func (TaskScheduleEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("CREATED", "UPDATED", "PAUSED", "RESUMED", "GENERATED", "SKIPPED").Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
		field.Int("schedule_id").Immutable(),
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.String("reason").Optional().Nillable().Immutable().Validate(maxRunes(2000)),
		field.JSON("changes", []schematype.FieldChange{}).Default([]schematype.FieldChange{}).Immutable().
			Annotations(entgql.Type("[FieldChange!]")),
	}
}

// Edges of the TaskScheduleEvent.
func (TaskScheduleEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("schedule", TaskSchedule.Type).Ref("events").Field("schedule_id").Unique().Required().Immutable(),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable(),
	}
}

// Indexes of the TaskScheduleEvent.
func (TaskScheduleEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("schedule_id", "id"), index.Fields("actor_id")}
}

// Annotations of the TaskScheduleEvent.
func (TaskScheduleEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the TaskScheduleEvent: see package authz.
func (TaskScheduleEvent) Policy() ent.Policy { return authz.ScheduleEventPolicy() }
