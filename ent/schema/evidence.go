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

// Evidence is one raw record (a JSON object: a log line, an alert) that
// triggered a detection ticket, kept as it came: the product's "details".
// Later detections of the same attack append to it.
type Evidence struct{ ent.Schema }

// Fields of the Evidence.
func (Evidence) Fields() []ent.Field {
	return []ent.Field{
		field.Int("ticket_id").Immutable(),
		field.JSON("record", map[string]any{}).Immutable().Annotations(entgql.Type("JSON")),
		field.Time("created_at").Default(Now).Immutable().Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the Evidence.
func (Evidence) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("evidence").Field("ticket_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Evidence: a ticket's records in their order.
func (Evidence) Indexes() []ent.Index { return []ent.Index{index.Fields("ticket_id", "id")} }

// Annotations of the Evidence.
func (Evidence) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

// Policy of the Evidence: see package authz.
func (Evidence) Policy() ent.Policy { return authz.TicketChildPolicy() }
