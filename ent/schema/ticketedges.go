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

// The join tables of tickets and their people and tags. They are edge schemas
// only so that each gets an index from the other side, which the assignee,
// approver and tag filters need.

// TicketAssignee joins a ticket and one of its assignees.
type TicketAssignee struct{ ent.Schema }

// Fields of the TicketAssignee.
func (TicketAssignee) Fields() []ent.Field { return ticketUserFields() }

// Edges of the TicketAssignee.
func (TicketAssignee) Edges() []ent.Edge { return ticketUserEdges() }

// Indexes of the TicketAssignee.
func (TicketAssignee) Indexes() []ent.Index { return []ent.Index{index.Fields("user_id")} }

// Annotations of the TicketAssignee.
func (TicketAssignee) Annotations() []schema.Annotation {
	return joinAnnotations("ticket_id", "user_id")
}

// TicketApprover joins a ticket and one of its approvers.
type TicketApprover struct{ ent.Schema }

// Fields of the TicketApprover.
func (TicketApprover) Fields() []ent.Field { return ticketUserFields() }

// Edges of the TicketApprover.
func (TicketApprover) Edges() []ent.Edge { return ticketUserEdges() }

// Indexes of the TicketApprover.
func (TicketApprover) Indexes() []ent.Index { return []ent.Index{index.Fields("user_id")} }

// Annotations of the TicketApprover.
func (TicketApprover) Annotations() []schema.Annotation {
	return joinAnnotations("ticket_id", "user_id")
}

// TicketTag joins a ticket and one of its tags.
type TicketTag struct{ ent.Schema }

// Fields of the TicketTag.
func (TicketTag) Fields() []ent.Field {
	return []ent.Field{field.Int("ticket_id"), field.Int("tag_id")}
}

// Edges of the TicketTag.
func (TicketTag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("tag", Tag.Type).Field("tag_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the TicketTag.
func (TicketTag) Indexes() []ent.Index { return []ent.Index{index.Fields("tag_id")} }

// Annotations of the TicketTag.
func (TicketTag) Annotations() []schema.Annotation { return joinAnnotations("ticket_id", "tag_id") }

func ticketUserFields() []ent.Field {
	return []ent.Field{field.Int("ticket_id"), field.Int("user_id")}
}

func ticketUserEdges() []ent.Edge {
	return []ent.Edge{
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func joinAnnotations(ids ...string) []schema.Annotation {
	return []schema.Annotation{field.ID(ids[0], ids[1]), entgql.Skip(entgql.SkipAll)}
}

// Policy of the TicketAssignee: see package authz.
func (TicketAssignee) Policy() ent.Policy { return authz.TicketChildPolicy() }

// Policy of the TicketApprover: see package authz.
func (TicketApprover) Policy() ent.Policy { return authz.TicketChildPolicy() }

// Policy of the TicketTag: see package authz.
func (TicketTag) Policy() ent.Policy { return authz.TicketChildPolicy() }
