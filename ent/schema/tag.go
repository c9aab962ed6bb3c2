package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"socdesk/internal/authz"
)

// Tag labels tickets; the list shows tags as coloured badges.
type Tag struct{ ent.Schema }

// Mixin of the Tag.
func (Tag) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Tag.
func (Tag) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(64)).
			Annotations(entgql.OrderField("NAME")),
		field.String("color").Default("#808080").Match(regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)).
			Comment("A #RRGGBB colour."),
	}
}

// Edges of the Tag.
func (Tag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tickets", Ticket.Type).Ref("tags").Through("ticket_tags", TicketTag.Type).Annotations(entgql.Skip()),
		edge.From("task_schedules", TaskSchedule.Type).Ref("tags").Annotations(entgql.Skip()),
		edge.From("detection_rules", DetectionRule.Type).Ref("tags").Annotations(entgql.Skip()),
	}
}

// Annotations of the Tag.
func (Tag) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy of the Tag: see package authz.
func (Tag) Policy() ent.Policy { return authz.ReferencePolicy() }
