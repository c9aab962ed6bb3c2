package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/internal/authz"
)

// Playbook is an admin-defined HTTP automation endpoint that editors run on
// tickets (Sonar's "Run Playbook"): a request built from a payload template
// over the ticket's fields. Its secret headers are write-only.
type Playbook struct{ ent.Schema }

// Fields of the Playbook.
func (Playbook) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(100)),
		field.String("description").Optional().Validate(maxRunes(2000)),
		field.Bool("enabled").Default(true),
		field.String("url").NotEmpty().Validate(maxRunes(2048)).Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("method").Default("POST").Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("headers", map[string]string{}).Default(map[string]string{}).Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("secret_headers", map[string]string{}).Default(map[string]string{}).Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Text("payload_template").Optional().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("timeout_ms").Default(10000).Positive().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Mixin of the Playbook.
func (Playbook) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Playbook.
func (Playbook) Edges() []ent.Edge {
	return []ent.Edge{edge.To("runs", PlaybookRun.Type).Annotations(entgql.Skip())}
}

// Annotations of the Playbook.
func (Playbook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}

// Policy of the Playbook: see package authz.
func (Playbook) Policy() ent.Policy { return authz.AdminOnly() }

// PlaybookRun is one run of a playbook on one ticket: a job, with what the
// endpoint answered.
type PlaybookRun struct{ ent.Schema }

// Fields of the PlaybookRun.
func (PlaybookRun) Fields() []ent.Field {
	return []ent.Field{
		field.Int("playbook_id").Immutable(),
		field.Int("ticket_id").Optional().Nillable(),
		field.Int("ticket_number").Immutable(),
		field.Int("site_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("requested_by_id").Optional().Nillable().Immutable(),
		field.Enum("status").Values("QUEUED", "RUNNING", "SUCCEEDED", "FAILED").Default("QUEUED"),
		field.Int("attempts").Default(0).NonNegative(),
		field.Int("http_status").Optional().Nillable(),
		field.Int("duration_ms").Optional().Nillable(),
		field.Text("response").Optional().Nillable().Comment("The first 4 KiB of the endpoint's answer."),
		field.String("error").Optional().Nillable().Validate(maxRunes(1000)),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Mixin of the PlaybookRun.
func (PlaybookRun) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the PlaybookRun.
func (PlaybookRun) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("playbook", Playbook.Type).Ref("runs").Field("playbook_id").Unique().Required().Immutable(),
		edge.From("ticket", Ticket.Type).Ref("playbook_runs").Field("ticket_id").Unique(),
		edge.To("requested_by", User.Type).Field("requested_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the PlaybookRun.
func (PlaybookRun) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "id"), index.Fields("status", "id"), index.Fields("site_id", "id"), index.Fields("playbook_id", "id"), index.Fields("requested_by_id")}
}

// Annotations of the PlaybookRun.
func (PlaybookRun) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

// Policy of the PlaybookRun: see package authz.
func (PlaybookRun) Policy() ent.Policy { return authz.PlaybookRunPolicy() }
