package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"socdesk/ent/schematype"
	"socdesk/internal/authz"
)

// Category is a ticket repository; it decides the workflow its tickets follow.
type Category struct{ ent.Schema }

// Mixin of the Category.
func (Category) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Category.
func (Category) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(128)).
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").Validate(maxRunes(2000)),
		field.Enum("workflow").Values("APPROVAL", "INCIDENT_RESPONSE", "TASK").Default("APPROVAL").Immutable(),
		// The category's service-level targets, overriding package sla's
		// defaults per priority and clock (setCategoryServiceLevels).
		field.JSON("service_levels", []schematype.ServiceLevel{}).Optional().Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Category.
func (Category) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("tickets", Ticket.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the Category.
func (Category) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy of the Category: see package authz.
func (Category) Policy() ent.Policy { return authz.ReferencePolicy() }
