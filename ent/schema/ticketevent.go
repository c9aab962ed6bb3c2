package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/ent/schematype"

	"socdesk/internal/authz"
)

// TicketEvent is one entry of a ticket's append-only history: who did what,
// when, and which fields changed from what to what. It outlives the ticket
// (ticket_id becomes NULL on delete; number and site_id keep the record).
type TicketEvent struct{ ent.Schema }

// Fields of the TicketEvent.
func (TicketEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values(
			"CREATED", "UPDATED", "DELETED", "TRANSITIONED", "ASSIGNED",
			"TAGGED", "MEMO_ADDED", "MEMO_EDITED", "LINKED", "UNLINKED", "WATCHED", "UNWATCHED",
			"PROPAGATED", "DELIVERY_UPDATED", "PLAYBOOK_RUN", "PLAYBOOK_RUN_UPDATED",
			"ATTACHMENT_ADDED", "ATTACHMENT_DELETED", "EVIDENCE_ADDED", "EXPLANATION_REQUESTED", "EXPLANATION_UPDATED",
			"DUPLICATE",
			"SLA_BREACHED",
		).Immutable(),
		field.Time("created_at").Default(Now).Immutable(),
		field.Int("ticket_id").Optional().Nillable(),
		field.Int("ticket_number").Immutable(),
		field.Int("site_id").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.String("reason").Optional().Nillable().Immutable().Validate(maxRunes(2000)).
			Comment("Why, when the change needed a reason (a rejection)."),
		// tx is the PostgreSQL transaction id (xid8) that wrote the entry:
		// the live stream reads the history in (tx, id) order and only up to
		// the oldest transaction still running, so that an entry that commits
		// late is never skipped (ids alone follow insert order, not commit
		// order). SQLite serializes writers: 0 there, and id order suffices.
		field.Int64("tx").Optional().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll), entsql.DefaultExprs(map[string]string{
				dialect.Postgres: "(pg_current_xact_id()::text)::bigint",
				dialect.SQLite:   "0",
			})),
		// status is the ticket's status after the change, when the change
		// set it (CREATED, TRANSITIONED, some ASSIGNED): the status history
		// the daily trend is computed from.
		field.String("status").Optional().Nillable().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.JSON("changes", []schematype.FieldChange{}).Default([]schematype.FieldChange{}).Immutable().
			Annotations(entgql.Type("[FieldChange!]")),
	}
}

// Edges of the TicketEvent.
func (TicketEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("events").Field("ticket_id").Unique(),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable(),
	}
}

// Indexes of the TicketEvent; actor_id: the users a non-admin sees include
// the actors of the history they see (authz.Scope).
func (TicketEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "id"), index.Fields("site_id", "id"), index.Fields("ticket_number", "id"), index.Fields("tx", "id"), index.Fields("actor_id"),
		// The response metrics read the history of a range of days (internal/ticketstats).
		// Covering: the index alone serves the metrics' reads.
		index.Fields("created_at").Annotations(entsql.IncludeColumns("ticket_id", "id", "kind", "status"))}
}

// Annotations of the TicketEvent.
func (TicketEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the TicketEvent: see package authz.
func (TicketEvent) Policy() ent.Policy { return authz.TicketEventPolicy() }
