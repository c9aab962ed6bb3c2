package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/internal/authz"
)

// Attachment is a file attached to a ticket, one of its memos or an answer
// to one of its explanation requests. Only its metadata is stored here; the
// content lives in blob storage under its SHA-256 (see Blob), so the same
// file attached twice is stored once.
type Attachment struct{ ent.Schema }

// Fields of the Attachment.
func (Attachment) Fields() []ent.Field {
	return []ent.Field{
		field.String("filename").NotEmpty().Validate(maxRunes(255)),
		field.String("content_type").Default("application/octet-stream").Validate(maxRunes(255)).
			Comment("Sniffed from the bytes; the client's claim is not trusted."),
		field.Int64("size").NonNegative(),
		field.String("sha256").Validate(maxRunes(64)),
		field.Time("created_at").Default(Now).Immutable(),
		field.Int("ticket_id").Immutable(),
		field.Int("uploaded_by_id").Optional().Nillable().Immutable(),
		// An answer's attachment: the step that carried it, and the employee
		// who uploaded it through their personal link (no socdesk account).
		field.Int("explanation_step_id").Optional().Nillable(),
		field.Int("uploaded_by_employee_id").Optional().Nillable().Immutable(),
	}
}

// Edges of the Attachment.
func (Attachment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("attachments").Field("ticket_id").Unique().Required().Immutable(),
		edge.From("memo", Memo.Type).Ref("attachments").Unique().Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("uploaded_by", User.Type).Field("uploaded_by_id").Unique().Immutable(),
		edge.From("explanation_step", ExplanationStep.Type).Ref("attachments").Field("explanation_step_id").Unique(),
		edge.To("uploaded_by_employee", Employee.Type).Field("uploaded_by_employee_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the Attachment; uploaded_by_id: the users a non-admin sees
// include the uploaders of what they see (authz.Scope); sha256: whether a
// blob is still referred to.
func (Attachment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("ticket_id"), index.Fields("uploaded_by_id"), index.Fields("sha256"),
		index.Fields("explanation_step_id"), index.Fields("uploaded_by_employee_id"),
	}
}

// Policy of the Attachment: see package authz.
func (Attachment) Policy() ent.Policy { return authz.AttachmentPolicy() }
