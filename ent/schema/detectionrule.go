package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/ent/schematype"

	"socdesk/internal/authz"
)

// DetectionRule is a stream or batch detection of a pipeline that opens
// DETECTION tickets through ingestion (package ingest): how an event maps to
// a ticket, which events are the same attack, and who may send them.
type DetectionRule struct{ ent.Schema }

// Mixin of the DetectionRule.
func (DetectionRule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the DetectionRule.
func (DetectionRule) Fields() []ent.Field {
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("key").Unique().NotEmpty().Match(regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)).
			Annotations(entgql.OrderField("KEY")).
			Comment("The rule's slug, in the ingestion URL /ingest/{key}."),
		field.String("name").NotEmpty().Validate(maxRunes(128)),
		field.Enum("kind").Values("STREAM", "BATCH").Default("STREAM"),
		field.Int("category_id"),
		field.Int("site_id"),
		field.Enum("priority").Values("HIGH", "MEDIUM", "LOW").Default("MEDIUM"),
		field.Enum("template").Values("NETWORK", "ENDPOINT", "EMAIL").Default("NETWORK"),
		field.JSON("dedup_fields", []string{}).
			Comment("JSON paths into the event whose values make two events the same attack."),
		field.Int("dedup_window_seconds").Default(3600).Positive(),
		field.Enum("repeat_after_close").Values("NEW_LINKED", "REOPEN").Default("NEW_LINKED"),
		field.Bool("enabled").Default(true),
		field.Text("title_template").NotEmpty().Validate(maxRunes(2000)),
		field.JSON("paths", schematype.DetectionPaths{}).Annotations(entgql.Type("DetectionPaths")),
		field.String("hmac_secret").Optional().Sensitive().Annotations(hidden).
			Comment("The webhook senders' HMAC key: stored to verify, never returned nor logged."),
		field.Int("evidence_bound").Default(100).Range(1, 1000),
		field.Int("updated_by_id").Optional().Nillable(),
	}
}

// Edges of the DetectionRule.
func (DetectionRule) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("category", Category.Type).Field("category_id").Unique().Required(),
		edge.To("site", Site.Type).Field("site_id").Unique().Required(),
		edge.To("assignees", User.Type),
		edge.To("approvers", User.Type),
		edge.To("tags", Tag.Type),
		edge.To("ingesters", User.Type).Comment("The service accounts that may ingest through the rule."),
		edge.To("updated_by", User.Type).Field("updated_by_id").Unique(),
	}
}

// Indexes of the DetectionRule.
func (DetectionRule) Indexes() []ent.Index { return []ent.Index{index.Fields("site_id")} }

// Annotations of the DetectionRule.
func (DetectionRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the DetectionRule: see package authz.
func (DetectionRule) Policy() ent.Policy { return authz.DetectionRulePolicy() }

// DetectionFingerprint is one attack of a rule as ingestion knows it: the
// SHA-256 of its dedup fields' values and the ticket it is counted on. Its
// unique key and row lock make concurrent ingesters of one attack queue.
type DetectionFingerprint struct{ ent.Schema }

// Fields of the DetectionFingerprint.
func (DetectionFingerprint) Fields() []ent.Field {
	return []ent.Field{
		field.Int("rule_id").Immutable(),
		field.String("fingerprint").Immutable().NotEmpty(),
		field.Int("ticket_id").Optional().Nillable(),
		field.Time("last_seen_at").Default(Now),
	}
}

// Indexes of the DetectionFingerprint.
func (DetectionFingerprint) Indexes() []ent.Index {
	return []ent.Index{index.Fields("rule_id", "fingerprint").Unique(), index.Fields("ticket_id")}
}

// Annotations of the DetectionFingerprint.
func (DetectionFingerprint) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the DetectionFingerprint: socdesk's own (authz.System).
func (DetectionFingerprint) Policy() ent.Policy { return authz.SystemOnly() }

// IngestKey is an idempotency key of ingestion: what the first event sent
// with it was (its canonical hash) and what came of it, kept at least a day.
type IngestKey struct{ ent.Schema }

// Fields of the IngestKey.
func (IngestKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("principal").Immutable().NotEmpty().Comment("Whose key: user:<id> or rule:<id>."),
		field.String("key").Immutable().NotEmpty().MaxLen(255),
		field.String("event_hash").Immutable().NotEmpty(),
		field.String("outcome").Optional(),
		field.Int("ticket_id").Optional().Nillable(),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Indexes of the IngestKey.
func (IngestKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("principal", "key").Unique(), index.Fields("created_at")}
}

// Annotations of the IngestKey.
func (IngestKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the IngestKey: socdesk's own (authz.System).
func (IngestKey) Policy() ent.Policy { return authz.SystemOnly() }
