package schema

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	gen "socdesk/ent"
	"socdesk/ent/hook"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"

	"socdesk/internal/authz"
	"socdesk/internal/netkey"
)

// Ticket is a unit of SOC work: an analysis or a detection to respond to.
// Its display number (#ID) is the local part of its global id, so it is
// sequential, unique and never reused.
type Ticket struct{ ent.Schema }

// Mixin of the Ticket.
func (Ticket) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Ticket.
func (Ticket) Fields() []ent.Field {
	skipInputs := entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)
	hidden := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.Int("id").Annotations(entgql.OrderField("NUMBER")),
		field.String("title").NotEmpty().Validate(maxRunes(schematype.MaxTitleLength)),
		field.Enum("kind").Values("ANALYSIS", "DETECTION", "TASK").Immutable().
			Comment("TASK: a compliance task (its category follows the TASK workflow); tasks are never deleted."),
		field.Text("body").Default(""),
		field.Enum("body_format").Values("TEXT", "MARKDOWN", "JSON").Default("MARKDOWN"),
		// Detection fields; set only on DETECTION tickets and exposed as Ticket.detection.
		field.Enum("detection_template").Values("NETWORK", "ENDPOINT", "EMAIL").Optional().Nillable().Annotations(hidden),
		field.Time("first_detected_at").Optional().Nillable().Annotations(hidden),
		field.Time("last_detected_at").Optional().Nillable().Annotations(hidden),
		field.String("src_ip").Optional().Validate(maxRunes(45)).Annotations(hidden),
		field.String("dst_ip").Optional().Validate(maxRunes(45)).Annotations(hidden),
		field.Int("src_port").Optional().Nillable().Annotations(hidden),
		field.Int("dst_port").Optional().Nillable().Annotations(hidden),
		field.String("protocol").Optional().Validate(maxRunes(schematype.MaxProtocolLength)).Annotations(hidden),
		field.String("host").Optional().Validate(maxRunes(schematype.MaxHostLength)).Annotations(hidden),
		field.JSON("custom_fields", []schematype.CustomField{}).Optional().Annotations(hidden),
		// The pivots' keys, kept by the Ticket's hook from src_ip, dst_ip
		// and host (package netkey): an IP as 16 bytes (IPv4 mapped into
		// IPv6) in hex, so that equality and a CIDR range are one index
		// range on both databases; a host lower-cased.
		field.String("src_ip_key").Optional().Nillable().Annotations(hidden),
		field.String("dst_ip_key").Optional().Nillable().Annotations(hidden),
		field.String("host_key").Optional().Nillable().Annotations(hidden),

		field.Int("category_id"),
		field.Int("site_id"),
		field.Enum("priority").Values("HIGH", "MEDIUM", "LOW").Default("LOW"),
		// priority_rank orders by priority (HIGH=1 < MEDIUM=2 < LOW=3); enums sort as strings.
		// No rank is 0: entgql's cursors omit zero values and would lose their place.
		field.Int8("priority_rank").Default(3).
			Annotations(entgql.OrderField("PRIORITY"), entgql.Skip(entgql.SkipType, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
		// In the product's order, workflow.Order (a test keeps them alike).
		field.Enum("status").Values(
			"NEW", "ASSIGNED", "IN_PROGRESS", "SUBMITTED", "REJECTED", "APPROVED",
			"TRIAGE", "ANALYSIS", "REMEDIATION", "RESOLVED", "CLOSED",
			"OPEN", "INVALID",
		).Default("NEW").Annotations(skipInputs),
		field.Enum("attack_verdict").Values("TRUE_POSITIVE", "FALSE_POSITIVE").Optional().Nillable(),
		field.Bool("incident").Default(false),
		field.Enum("origin").Values("SYSTEM", "USER").Default("USER").Immutable(),
		field.Int("registered_by_id").Optional().Nillable().Immutable(),
		field.Int("duplicate_count").Default(0).NonNegative(),
		field.Time("closed_at").Optional().Nillable().Annotations(skipInputs),
		field.Time("due_at").Optional().Nillable().Annotations(skipInputs, entgql.OrderField("DUE_AT")).
			Comment("When the work is due."),
		field.Enum("explanation_status").GoType(schematype.ExplanationStatus("")).Optional().Nillable().
			Annotations(skipInputs, entgql.Type("ExplanationStatus")).
			Comment("The status of the ticket's latest explanation request: the list column."),
		field.Int("version").Default(1).Annotations(skipInputs).
			Comment("Incremented by every change; used for optimistic locking."),
		// A task's origin when a schedule generated it: the schedule and the
		// occurrence, unique together (a second attempt is a no-op).
		field.Int("schedule_id").Optional().Nillable().Immutable().Annotations(skipInputs),
		field.Time("occurrence_at").Optional().Nillable().Immutable().Annotations(skipInputs),
		// A task's query, copied from its schedule: a saved ticket filter
		// (the TicketFilter input as given, JSON) or an external search
		// string kept verbatim.
		field.JSON("query_filter", json.RawMessage{}).Optional().Annotations(hidden),
		field.Text("query_search").Optional().Nillable().Validate(maxRunes(10000)).Annotations(skipInputs),
		field.Text("resolution").Optional().Nillable().Annotations(skipInputs).
			Comment("A task's note of the findings (closed) or the reason (invalid); cleared on reopening."),
		field.Int("evidence_dropped").Default(0).NonNegative().Annotations(skipInputs).
			Comment("Evidence records a detection ticket dropped, the oldest first, to stay within its rule's bound."),
		// Service levels (package sla), kept by its follower of the history
		// in the change's transaction; tasks have none.
		field.Time("responded_at").Optional().Nillable().Annotations(skipInputs),
		field.Time("resolved_at").Optional().Nillable().Annotations(skipInputs),
		field.Time("response_due_at").Optional().Nillable().Annotations(skipInputs),
		field.Time("resolution_due_at").Optional().Nillable().Annotations(skipInputs),
		field.Time("response_risk_at").Optional().Nillable().Annotations(hidden),
		field.Time("resolution_risk_at").Optional().Nillable().Annotations(hidden),
		field.Time("sla_started_at").Optional().Nillable().Annotations(hidden),
		field.Time("sla_paused_since").Optional().Nillable().Annotations(hidden),
		field.Int64("sla_paused_seconds").Default(0).Annotations(hidden),
		field.Int64("sla_paused_business_seconds").Default(0).Annotations(hidden),
		field.Time("response_breached_at").Optional().Nillable().Annotations(hidden),
		field.Time("resolution_breached_at").Optional().Nillable().Annotations(hidden),
		// The dues as the orderings' keys: never NULL (a ticket without a
		// due sorts at sla.NoDue), so that entgql's cursors can carry them.
		field.Time("response_due_key").Default(slaNoDue).
			Annotations(noDueDefault, entgql.OrderField("RESPONSE_DUE_AT"), entgql.Skip(entgql.SkipType, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
		field.Time("resolution_due_key").Default(slaNoDue).
			Annotations(noDueDefault, entgql.OrderField("RESOLUTION_DUE_AT"), entgql.Skip(entgql.SkipType, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
	}
}

// noDueDefault is SLANoDue as the columns' default in the database too, so
// that rows older than the column get it.
var noDueDefault = entsql.DefaultExprs(map[string]string{
	dialect.Postgres: "'9999-12-31 00:00:00+00'",
	dialect.SQLite:   "'9999-12-31 00:00:00+00:00'",
})

// slaNoDue is the orderings' key of a ticket without a due: after every due.
func slaNoDue() time.Time { return SLANoDue }

// SLANoDue is the due key of a ticket without a due.
var SLANoDue = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// slaFields are the service-level fields: kept by package sla, their
// upkeep is no change of the ticket (its version and updated_at stay).
var slaFields = []string{
	"responded_at", "resolved_at", "response_due_at", "resolution_due_at", "response_risk_at", "resolution_risk_at",
	"sla_started_at", "sla_paused_since", "sla_paused_seconds", "sla_paused_business_seconds",
	"response_breached_at", "resolution_breached_at", "response_due_key", "resolution_due_key", "updated_at",
}

// onlySLA reports whether m changes service-level fields alone.
func onlySLA(m *gen.TicketMutation) bool {
	for _, f := range append(m.Fields(), m.ClearedFields()...) {
		if !slices.Contains(slaFields, f) {
			return false
		}
	}
	return len(m.AddedFields()) == 0 && len(m.AddedEdges()) == 0 && len(m.RemovedEdges()) == 0 && len(m.ClearedEdges()) == 0
}

// Edges of the Ticket.
func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("category", Category.Type).Ref("tickets").Field("category_id").Unique().Required(),
		edge.From("site", Site.Type).Ref("tickets").Field("site_id").Unique().Required(),
		edge.To("assignees", User.Type).Through("ticket_assignees", TicketAssignee.Type),
		edge.To("approvers", User.Type).Through("ticket_approvers", TicketApprover.Type),
		edge.To("tags", Tag.Type).Through("ticket_tags", TicketTag.Type),
		edge.To("registered_by", User.Type).Field("registered_by_id").Unique().Immutable(),
		edge.To("memos", Memo.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.RelayConnection()),
		edge.To("attachments", Attachment.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("events", TicketEvent.Type).Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
		edge.To("links_out", TicketLink.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("links_in", TicketLink.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("watchers", TicketWatcher.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("deliveries", Delivery.Type).Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
		edge.To("playbook_runs", PlaybookRun.Type).Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
		edge.To("evidence", Evidence.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("explanations", ExplanationRequest.Type).Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip()),
		edge.To("policies", CompliancePolicy.Type).Through("ticket_citations", TicketCitation.Type),
		edge.From("schedule", TaskSchedule.Type).Ref("tasks").Field("schedule_id").Unique().Immutable(),
	}
}

// Indexes of the Ticket: one per ordering (ties broken by id) and for the
// list's common filters; trigram indexes serve the keyword search on PostgreSQL.
func (Ticket) Indexes() []ent.Index {
	trgm := entsql.IndexTypes(map[string]string{dialect.Postgres: "GIN"})
	return []ent.Index{
		index.Fields("created_at", "id"),
		index.Fields("updated_at", "id"),
		index.Fields("priority_rank", "id"),
		index.Fields("site_id", "status", "created_at"),
		// A non-admin's lists are scoped to their sites, in every ordering.
		index.Fields("site_id", "created_at", "id"),
		index.Fields("site_id", "updated_at", "id"),
		index.Fields("site_id", "priority_rank", "id"),
		index.Fields("status", "created_at"),
		index.Fields("category_id", "created_at"),
		index.Fields("registered_by_id"),
		index.Fields("due_at"),
		// Related tickets and the IP and host filters (newest first).
		index.Fields("src_ip_key", "id"),
		index.Fields("dst_ip_key", "id"),
		index.Fields("host_key", "id"),
		index.Fields("explanation_status", "id"),
		index.Fields("schedule_id", "occurrence_at").Unique(),
		index.Fields("kind", "due_at", "id"),
		index.Fields("response_due_key", "id"),
		index.Fields("resolution_due_key", "id"),
		index.Fields("title").StorageKey("ticket_title_trgm").
			Annotations(trgm, entsql.OpClass("gin_trgm_ops")),
		index.Fields("body").StorageKey("ticket_body_trgm").
			Annotations(trgm, entsql.OpClass("gin_trgm_ops")),
	}
}

// Annotations of the Ticket.
func (Ticket) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// Policy of the Ticket: see package authz.
func (Ticket) Policy() ent.Policy { return authz.TicketPolicy() }

// Hooks of the Ticket keep its derived fields true whatever writes it: the
// priority's sort rank, the pivots' keys, the version every change
// increments, and closedAt.
func (Ticket) Hooks() []ent.Hook {
	return []ent.Hook{
		ClosedAtFollowsStatus(),
		hook.On(func(next ent.Mutator) ent.Mutator {
			return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (ent.Value, error) {
				if p, ok := m.Priority(); ok {
					m.SetPriorityRank(PriorityRank(string(p)))
				}
				pivotKeysFollow(m)
				switch {
				case m.Op().Is(ent.OpCreate):
				case onlySLA(m): // upkeep, not a change: version and updated_at stay
					m.ResetUpdatedAt()
				default:
					m.AddVersion(1)
				}
				return next.Mutate(ctx, m)
			})
		}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne),
	}
}

// pivotKeysFollow sets or clears the pivots' keys of the fields m sets or
// clears: a value that is no IP (or a blank host) has no key.
func pivotKeysFollow(m *gen.TicketMutation) {
	follow := func(v string, set bool, cleared bool, key func(string) (string, bool), setKey func(string), clearKey func()) {
		if set {
			if k, ok := key(v); ok {
				setKey(k)
				return
			}
		}
		if set || cleared {
			clearKey()
		}
	}
	src, set := m.SrcIP()
	follow(src, set, m.SrcIPCleared(), netkey.IPKey, m.SetSrcIPKey, m.ClearSrcIPKey)
	dst, set := m.DstIP()
	follow(dst, set, m.DstIPCleared(), netkey.IPKey, m.SetDstIPKey, m.ClearDstIPKey)
	host, set := m.Host()
	follow(host, set, m.HostCleared(), netkey.HostKey, m.SetHostKey, m.ClearHostKey)
}

// PriorityRank is the sort key of a priority: HIGH first.
func PriorityRank(p string) int8 {
	switch p {
	case "HIGH":
		return 1
	case "MEDIUM":
		return 2
	}
	return 3
}

// ClosedAtFollowsStatus keeps closed_at set exactly while a ticket is CLOSED,
// whoever writes it (Symphony's close date hook): entering CLOSED sets it to
// now, leaving CLOSED clears it, and a ticket that stays CLOSED keeps its
// time. A new ticket created CLOSED may bring its own time (imported
// history); an update may not set or clear closed_at by itself.
func ClosedAtFollowsStatus() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (ent.Value, error) {
			to, set := m.Status()
			_, given := m.ClosedAt()
			switch {
			case m.Op().Is(ent.OpCreate):
				if to != ticket.StatusCLOSED {
					m.ResetClosedAt()
				} else if !given {
					m.SetClosedAt(closedNow())
				}
			case !set:
				if given || m.ClosedAtCleared() {
					return nil, errClosedAt
				}
			case to != ticket.StatusCLOSED:
				m.ResetClosedAt()
				m.ClearClosedAt()
			default: // to CLOSED
				m.ResetClosedAt()
				was := ticket.Status("")
				if m.Op().Is(ent.OpUpdateOne) {
					old, err := m.OldStatus(ctx) // free when the update was built from the ticket read
					if err != nil {
						return nil, err
					}
					was = old
				}
				// A multi-row update cannot tell which rows were closed
				// already: they are all closed as of now.
				if was != ticket.StatusCLOSED {
					m.SetClosedAt(closedNow())
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne)
}

var errClosedAt = errors.New("closed_at follows the status: it is set and cleared only with a change of status")

// closedNow is the time a ticket closes, to the microsecond PostgreSQL keeps,
// so that what the history records is what the row holds.
func closedNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
