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

// Employee is a person of the organization socdesk protects, as its HR
// system knows them: the violators, managers and auditors of explanation
// requests, who need no socdesk account (one may be linked to a user).
type Employee struct{ ent.Schema }

// Mixin of the Employee.
func (Employee) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Employee.
func (Employee) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").Unique().NotEmpty().Validate(maxRunes(64)).
			Comment("The employee number HR gives; the key a CSV import matches on."),
		field.String("name").NotEmpty().Validate(maxRunes(128)).Annotations(entgql.OrderField("NAME")),
		field.String("email").Optional().Validate(emailAddress),
		field.String("phone").Optional().Validate(maxRunes(32)),
		field.Int("department_id").Optional().Nillable(),
		field.Int("user_id").Optional().Nillable().Unique(),
		field.Bool("active").Default(true).Comment("Inactive employees stay on past requests but cannot be chosen for new ones."),
	}
}

// Edges of the Employee.
func (Employee) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("department", Department.Type).Ref("employees").Field("department_id").Unique(),
		edge.To("user", User.Type).Field("user_id").Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the Employee.
func (Employee) Indexes() []ent.Index {
	return []ent.Index{index.Fields("department_id"), index.Fields("name")}
}

// Annotations of the Employee.
func (Employee) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

// Policy of the Employee: see package authz.
func (Employee) Policy() ent.Policy { return authz.DirectoryPolicy() }

// Department is a unit of the organization, with the manager who reviews
// its employees' explanations.
type Department struct{ ent.Schema }

// Mixin of the Department.
func (Department) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Department.
func (Department) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(128)).Annotations(entgql.OrderField("NAME")),
		field.Int("manager_id").Optional().Nillable(),
	}
}

// Edges of the Department.
func (Department) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("employees", Employee.Type).Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
		edge.To("manager", Employee.Type).Field("manager_id").Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Annotations of the Department.
func (Department) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput),
	}
}

// Policy of the Department: see package authz.
func (Department) Policy() ent.Policy { return authz.DirectoryPolicy() }
