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

// TicketWatcher is a user who follows a ticket, and how often they want to
// hear of it: every change, or only when it opens and closes.
type TicketWatcher struct{ ent.Schema }

// Fields of the TicketWatcher.
func (TicketWatcher) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("notify").Values("ALL", "OPEN_CLOSE").Default("ALL"),
		field.Int("ticket_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Edges of the TicketWatcher.
func (TicketWatcher) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("watchers").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the TicketWatcher.
func (TicketWatcher) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "user_id").Unique(), index.Fields("user_id")}
}

// Annotations of the TicketWatcher.
func (TicketWatcher) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the TicketWatcher: see package authz.
func (TicketWatcher) Policy() ent.Policy { return authz.TicketWatcherPolicy() }
