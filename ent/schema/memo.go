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

// Memo records a response action or an analysis result on a ticket.
type Memo struct{ ent.Schema }

// Mixin of the Memo.
func (Memo) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Memo.
func (Memo) Fields() []ent.Field {
	return []ent.Field{
		field.Text("body").NotEmpty(),
		field.Enum("format").Values("TEXT", "MARKDOWN").Default("MARKDOWN"),
		field.Int("ticket_id").Immutable(),
		field.Int("author_id").Optional().Nillable().Immutable(),
	}
}

// Edges of the Memo.
func (Memo) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("memos").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("author", User.Type).Field("author_id").Unique().Immutable(),
		edge.To("attachments", Attachment.Type),
	}
}

// Indexes of the Memo; author_id: the users a non-admin sees include the
// authors of the memos they see (authz.Scope).
func (Memo) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "created_at"), index.Fields("author_id")}
}

// Annotations of the Memo.
func (Memo) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the Memo: see package authz.
func (Memo) Policy() ent.Policy { return authz.MemoPolicy() }
