package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"socdesk/ent/schematype"

	"socdesk/internal/authz"
	"socdesk/internal/channels"
)

// Channel is a way socdesk reaches people, configured by admins: an SMTP
// server, a signed webhook, an SMS gateway or a messenger bridge. Its
// secret is write-only: stored for sending, never returned or logged.
type Channel struct{ ent.Schema }

// Fields of the Channel.
func (Channel) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(100)),
		field.Enum("type").GoType(schematype.ChannelType("")).Immutable().Annotations(entgql.Type("ChannelType")),
		field.Bool("enabled").Default(true),
		field.Bool("notifications").Default(true).
			Comment("Whether the channel carries automatic notifications; off, it serves propagation only."),
		field.JSON("settings", channels.Settings{}).Default(channels.Settings{}).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("secret").Optional().Sensitive().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Mixin of the Channel.
func (Channel) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Edges of the Channel.
func (Channel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", Delivery.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the Channel.
func (Channel) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}

// Policy of the Channel: see package authz.
func (Channel) Policy() ent.Policy { return authz.AdminOnly() }
