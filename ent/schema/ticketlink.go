package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/internal/authz"
)

// TicketLink relates two tickets: RELATED both ways, or the source is a
// DUPLICATE_OF the target. It is seen from both ends.
type TicketLink struct{ ent.Schema }

// Fields of the TicketLink.
func (TicketLink) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("RELATED", "DUPLICATE_OF").Immutable(),
		field.Int("from_id").Immutable(),
		field.Int("to_id").Immutable(),
		field.Int("created_by_id").Optional().Nillable().Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Edges of the TicketLink.
func (TicketLink) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("from", Ticket.Type).Ref("links_out").Field("from_id").Unique().Required().Immutable(),
		edge.From("to", Ticket.Type).Ref("links_in").Field("to_id").Unique().Required().Immutable(),
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Immutable(),
	}
}

// Indexes of the TicketLink: one link of a kind per pair, found from either
// end; created_by_id: the users a non-admin sees include the makers of the
// links they see (authz.Scope).
func (TicketLink) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("from_id", "to_id", "kind").Unique(),
		index.Fields("to_id"),
		index.Fields("created_by_id"),
	}
}

// Annotations of the TicketLink.
func (TicketLink) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the TicketLink: see package authz.
func (TicketLink) Policy() ent.Policy { return authz.TicketLinkPolicy() }
