package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"socdesk/internal/authz"
)

// statusDelta is the shape of the daily trend's rollups: how many tickets
// of a site entered (minus left) a status during a period. Every change that
// moves a ticket between statuses or sites, creates or deletes it adds to
// them in its own transaction, so the rollups are always exact; the trend
// sums them instead of scanning the history (internal/trend).
type statusDelta struct{ mixin.Schema }

// Fields of the rollups.
func (statusDelta) Fields() []ent.Field {
	return []ent.Field{
		field.Int("site_id").Immutable(),
		field.Time("bucket").Immutable().Comment("The period's start, UTC."),
		field.String("status").Immutable(),
		field.Int("delta"),
	}
}

// Indexes of the rollups.
func (statusDelta) Indexes() []ent.Index {
	return []ent.Index{index.Fields("site_id", "bucket", "status").Unique(), index.Fields("bucket")}
}

// Annotations of the rollups: not part of the GraphQL API.
func (statusDelta) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// StatusDay is the daily rollup (UTC days).
type StatusDay struct{ ent.Schema }

// Mixin of the StatusDay.
func (StatusDay) Mixin() []ent.Mixin { return []ent.Mixin{statusDelta{}} }

// Policy of the StatusDay: see package authz.
func (StatusDay) Policy() ent.Policy { return authz.StatusDayPolicy() }

// StatusHour is the hourly rollup (UTC hours), for days that end between
// UTC midnights.
type StatusHour struct{ ent.Schema }

// Mixin of the StatusHour.
func (StatusHour) Mixin() []ent.Mixin { return []ent.Mixin{statusDelta{}} }

// Policy of the StatusHour: see package authz.
func (StatusHour) Policy() ent.Policy { return authz.StatusHourPolicy() }
