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

// noInputs keeps ent's generated create/update/where inputs out of the API:
// these entities change through their services' operations only.
var noInputs = entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)

// ExplanationCategory is an admin-defined kind of explanation request
// (for example "data leakage", "policy violation").
type ExplanationCategory struct{ ent.Schema }

// Mixin of the ExplanationCategory.
func (ExplanationCategory) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ExplanationCategory.
func (ExplanationCategory) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(128)),
		field.String("description").Default("").Validate(maxRunes(1000)),
		field.Bool("active").Default(true),
	}
}

// Annotations of the ExplanationCategory.
func (ExplanationCategory) Annotations() []schema.Annotation {
	return []schema.Annotation{noInputs}
}

// Policy of the ExplanationCategory: see package authz.
func (ExplanationCategory) Policy() ent.Policy { return authz.AdminOnly() }

// ExplanationRequest asks the employee who caused a detection (the
// violator) to explain it; their department manager, and optionally an
// auditor, review the answer (package explanations holds its workflow).
type ExplanationRequest struct{ ent.Schema }

// Mixin of the ExplanationRequest.
func (ExplanationRequest) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ExplanationRequest.
func (ExplanationRequest) Fields() []ent.Field {
	return []ent.Field{
		field.Int("ticket_id").Immutable(),
		field.Enum("status").GoType(schematype.ExplanationStatus("")).Default(string(schematype.ExplanationNew)).
			Annotations(entgql.Type("ExplanationStatus")),
		field.Enum("priority").Values("HIGH", "MEDIUM", "LOW").Default("MEDIUM"),
		field.Int("violator_id"),
		field.Int("manager_id"),
		field.Int("auditor_id").Optional().Nillable(),
		field.Int("category_id"),
		field.Int("department_id").Optional().Nillable().
			Comment("The violator's department when the request was made."),
		field.Time("deadline"),
		field.Text("message").Default(""),
		field.JSON("evidence", []map[string]any{}).Default([]map[string]any{}).
			Annotations(entgql.Type("[JSON!]")).
			Comment("The records the violator is shown: the ticket's evidence by default."),
		field.Int("requested_by_id").Optional().Nillable().Immutable(),
		field.Bool("withdrawn").Default(false),
		field.String("withdraw_reason").Optional().Nillable().Validate(maxRunes(2000)),
		field.Time("ended_at").Optional().Nillable().Comment("When it was closed, completed or withdrawn."),
		field.Time("submitted_at").Optional().Nillable().Comment("The violator's latest answer."),
		field.Time("reminded_at").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("version").Default(1).Comment("Incremented by every step; used for optimistic locking."),
	}
}

// Edges of the ExplanationRequest.
func (ExplanationRequest) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("explanations").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("violator", Employee.Type).Field("violator_id").Unique().Required(),
		edge.To("manager", Employee.Type).Field("manager_id").Unique().Required(),
		edge.To("auditor", Employee.Type).Field("auditor_id").Unique(),
		edge.To("category", ExplanationCategory.Type).Field("category_id").Unique().Required(),
		edge.To("department", Department.Type).Field("department_id").Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("requested_by", User.Type).Field("requested_by_id").Unique().Immutable().Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("steps", ExplanationStep.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("links", ExplanationLink.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
	}
}

// Indexes of the ExplanationRequest: a ticket's requests, and the
// cross-ticket list's filters.
func (ExplanationRequest) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("ticket_id", "id"),
		index.Fields("status", "deadline"),
		index.Fields("deadline"),
		index.Fields("violator_id"),
		index.Fields("manager_id"),
		index.Fields("auditor_id"),
		index.Fields("department_id"),
		index.Fields("category_id"),
	}
}

// Annotations of the ExplanationRequest.
func (ExplanationRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), noInputs}
}

// Policy of the ExplanationRequest: see package authz.
func (ExplanationRequest) Policy() ent.Policy { return authz.TicketChildPolicy() }

// ExplanationStep is one step of a request's workflow, appended and never
// changed: who moved it (a user, or an employee through their link), from
// which status to which, with their comment, and an answer's attachments.
type ExplanationStep struct{ ent.Schema }

// Fields of the ExplanationStep.
func (ExplanationStep) Fields() []ent.Field {
	return []ent.Field{
		field.Int("request_id").Immutable(),
		field.Int("ticket_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("action").Values("REQUEST", "SUBMIT", "RETURN", "ACCEPT", "AUDIT_RETURN", "AUDIT_COMPLETE", "WITHDRAW", "REMIND").Immutable().
			Annotations(entgql.Type("ExplanationStepAction")),
		field.Enum("role").Values("EDITOR", "VIOLATOR", "MANAGER", "AUDITOR", "SYSTEM").Immutable(),
		field.Enum("from_status").GoType(schematype.ExplanationStatus("")).Optional().Nillable().Immutable().
			Annotations(entgql.Type("ExplanationStatus")),
		field.Enum("to_status").GoType(schematype.ExplanationStatus("")).Immutable().
			Annotations(entgql.Type("ExplanationStatus")),
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.Int("actor_employee_id").Optional().Nillable().Immutable(),
		field.Text("comment").Default("").Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Edges of the ExplanationStep.
func (ExplanationStep) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", ExplanationRequest.Type).Ref("steps").Field("request_id").Unique().Required().Immutable(),
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable().Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("actor_employee", Employee.Type).Field("actor_employee_id").Unique().Immutable().Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("attachments", Attachment.Type),
	}
}

// Indexes of the ExplanationStep.
func (ExplanationStep) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "id"), index.Fields("ticket_id"), index.Fields("actor_id"), index.Fields("actor_employee_id")}
}

// Annotations of the ExplanationStep.
func (ExplanationStep) Annotations() []schema.Annotation { return []schema.Annotation{noInputs} }

// Policy of the ExplanationStep: see package authz.
func (ExplanationStep) Policy() ent.Policy { return authz.TicketChildPolicy() }

// ExplanationLink is one person's personal link to one request: a random
// token, of which only the SHA-256 is kept, that lets the violator, the
// manager or the auditor act on that request alone, without an account,
// until the request ends.
type ExplanationLink struct{ ent.Schema }

// Fields of the ExplanationLink.
func (ExplanationLink) Fields() []ent.Field {
	return []ent.Field{
		field.Int("request_id").Immutable(),
		field.Int("employee_id").Immutable(),
		field.Enum("role").Values("VIOLATOR", "MANAGER", "AUDITOR").Immutable(),
		field.String("token_hash").Unique().Immutable().Sensitive(),
		field.Time("created_at").Default(Now).Immutable(),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Edges of the ExplanationLink.
func (ExplanationLink) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", ExplanationRequest.Type).Ref("links").Field("request_id").Unique().Required().Immutable(),
		edge.To("employee", Employee.Type).Field("employee_id").Unique().Required().Immutable().Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the ExplanationLink.
func (ExplanationLink) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "role"), index.Fields("employee_id")}
}

// Annotations of the ExplanationLink: not part of the API.
func (ExplanationLink) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy of the ExplanationLink: see package authz.
func (ExplanationLink) Policy() ent.Policy { return authz.SystemOnly() }
