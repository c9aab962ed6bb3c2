package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"socdesk/internal/authz"
)

// Site is a monitored organisation or location; every ticket belongs to one,
// and a non-admin sees only the tickets of the sites assigned to them.
type Site struct{ ent.Schema }

// Mixin of the Site.
func (Site) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Site.
func (Site) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(128)).
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").Validate(maxRunes(2000)),
	}
}

// Edges of the Site.
func (Site) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("users", User.Type).Ref("sites").Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipType)),
		edge.To("tickets", Ticket.Type).Annotations(entgql.Skip()),
		edge.To("task_schedules", TaskSchedule.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the Site.
func (Site) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy of the Site: see package authz.
func (Site) Policy() ent.Policy { return authz.SitePolicy() }
