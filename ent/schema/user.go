package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"socdesk/ent/schematype"

	"socdesk/internal/authz"
)

// User is a person or a service account (a detection rule) that uses socdesk.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("login").Unique().NotEmpty().Validate(maxRunes(64)).
			Match(regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]*$`)).
			Annotations(entgql.OrderField("LOGIN")),
		field.String("display_name").NotEmpty().Validate(maxRunes(128)),
		field.String("email").Optional().Validate(emailAddress),
		field.Enum("role").Values("ADMIN", "ANALYST", "SERVICE").Default("ANALYST").
			Comment("SERVICE: an integration that only ingests detections (see authz.MayIngest) and reads the tickets it registered."),
		field.String("phone").Optional().Match(regexp.MustCompile(`^\+?[0-9]{6,15}$`)).
			Comment("For SMS, as digits with an optional leading +."),
		field.String("messenger").Optional().Validate(maxRunes(64)).Match(regexp.MustCompile(`^\S*$`)).
			Comment("The user's messenger handle."),
		field.JSON("notification_preferences", []schematype.NotificationPreference{}).Default([]schematype.NotificationPreference{}).
			Annotations(entgql.Skip(entgql.SkipAll), entsql.DefaultExprs(map[string]string{ // for the users who were there before
				dialect.Postgres: "'[]'::jsonb",
				dialect.SQLite:   "'[]'",
			})),
		field.JSON("permissions", []schematype.Permission{}).Default([]schematype.Permission{}).
			Annotations(entgql.Type("[Permission!]")),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sites", Site.Type).Comment("The sites whose tickets a non-admin may see."),
		edge.To("tokens", APIToken.Type).Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
		edge.From("assigned_tickets", Ticket.Type).Ref("assignees").Annotations(entgql.Skip()),
		edge.From("approving_tickets", Ticket.Type).Ref("approvers").Annotations(entgql.Skip()),
		edge.From("registered_tickets", Ticket.Type).Ref("registered_by").Annotations(entgql.Skip()),
		edge.From("detection_rules_assigned", DetectionRule.Type).Ref("assignees").Annotations(entgql.Skip()),
		edge.From("detection_rules_approved", DetectionRule.Type).Ref("approvers").Annotations(entgql.Skip()),
		edge.From("detection_rules_ingested", DetectionRule.Type).Ref("ingesters").Annotations(entgql.Skip()),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy of the User: see package authz.
func (User) Policy() ent.Policy { return authz.UserPolicy() }

// Hooks of the User.
func (User) Hooks() []ent.Hook { return []ent.Hook{FoldLoginHook()} }
