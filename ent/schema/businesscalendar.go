package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/internal/authz"
)

// BusinessCalendar is when a site works: the time zone, the working days
// and hours, and the holidays the service-level clocks count business time
// by (package sla). Exactly one is the default; a site has at most one of
// its own.
type BusinessCalendar struct{ ent.Schema }

// Fields of the BusinessCalendar.
func (BusinessCalendar) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(128)),
		field.String("time_zone").NotEmpty().Validate(maxRunes(64)).Comment("An IANA time zone."),
		field.JSON("working_days", []int{}).Comment("Weekdays worked, 0 (Sunday) to 6 (Saturday)."),
		field.String("day_start").Default("09:00").Comment("Local start of working hours, HH:MM."),
		field.String("day_end").Default("17:00").Comment("Local end of working hours, HH:MM (24:00: midnight)."),
		field.JSON("holidays", []string{}).Optional().Comment("Local dates not worked, YYYY-MM-DD."),
		field.Bool("is_default").Default(false),
		field.Int("site_id").Optional().Nillable(),
	}
}

// Edges of the BusinessCalendar.
func (BusinessCalendar) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("site", Site.Type).Field("site_id").Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of the BusinessCalendar: at most one default, one per site.
func (BusinessCalendar) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("is_default").Unique().Annotations(entsql.IndexWhere("is_default")),
		index.Fields("site_id").Unique(),
	}
}

// Policy of the BusinessCalendar: reference data, admins write.
func (BusinessCalendar) Policy() ent.Policy { return authz.AdminOnly() }
