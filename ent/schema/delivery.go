package schema

import (
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

// Delivery is one message to one recipient over one channel: a
// notification of a ticket's change, a propagation an analyst asked for, or
// a digest of held notifications. Its message is rendered when it is made,
// so a retry sends the same words; its idempotency key (see package notify)
// is stable across retries and redeliveries.
type Delivery struct{ ent.Schema }

// Fields of the Delivery.
func (Delivery) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("NOTIFICATION", "PROPAGATION", "DIGEST", "EXPLANATION").Immutable(),
		field.Enum("status").Values("PENDING", "SENT", "FAILED", "HELD", "DIGESTED").Default("PENDING"),
		field.Int("channel_id").Immutable(),
		field.Enum("channel_type").GoType(schematype.ChannelType("")).Immutable().Annotations(entgql.Type("ChannelType")),
		field.Int("recipient_id").Optional().Nillable().Immutable(),
		field.Int("ticket_id").Optional().Nillable(),
		field.Int("ticket_number").Optional().Nillable().Immutable(),
		field.Int("site_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("event_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("The history entry the notification tells of."),
		field.Int("requested_by_id").Optional().Nillable().Immutable(),
		field.Int("digest_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("For a held notification: the digest that carried it."),
		field.Time("due_at").Optional().Nillable().Immutable().
			Comment("For a held notification: when its digest goes."),
		field.String("subject").Validate(maxRunes(500)).Immutable(),
		field.Text("text").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Text("html").Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("link").Optional().Immutable(),
		field.JSON("payload", map[string]any{}).Optional().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		// An explanation request's message to an employee (who may have no
		// account): their address, and the personal link minted when it is
		// sent (package explanations; the token is never stored).
		field.Int("employee_id").Optional().Nillable().Immutable(),
		field.Int("explanation_id").Optional().Nillable().Immutable(),
		field.String("address").Optional().Nillable().Immutable().Validate(maxRunes(320)),
		field.Enum("link_role").Values("VIOLATOR", "MANAGER", "AUDITOR").Optional().Nillable().Immutable(),
		field.Int("attempts").Default(0).NonNegative(),
		field.String("last_error").Optional().Nillable().Validate(maxRunes(1000)),
		field.Time("last_attempt_at").Optional().Nillable(),
		field.Time("sent_at").Optional().Nillable(),
	}
}

// Mixin of the Delivery.
func (Delivery) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Delivery.
func (Delivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("channel", Channel.Type).Ref("deliveries").Field("channel_id").Unique().Required().Immutable(),
		edge.To("recipient", User.Type).Field("recipient_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.From("ticket", Ticket.Type).Ref("deliveries").Field("ticket_id").Unique(),
		edge.To("requested_by", User.Type).Field("requested_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("employee", Employee.Type).Field("employee_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("explanation", ExplanationRequest.Type).Field("explanation_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the Delivery: a ticket's propagations, failures across the
// system, a user's held notifications, one notification per event,
// recipient and channel.
func (Delivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("ticket_id", "id"),
		index.Fields("status", "id"),
		index.Fields("recipient_id", "channel_id", "status"),
		index.Fields("event_id", "recipient_id", "channel_id").Unique(),
		index.Fields("site_id", "id"),
		index.Fields("requested_by_id"),
		index.Fields("digest_id"),
		index.Fields("explanation_id"),
		index.Fields("employee_id"),
	}
}

// Annotations of the Delivery.
func (Delivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

// Policy of the Delivery: see package authz.
func (Delivery) Policy() ent.Policy { return authz.DeliveryPolicy() }
