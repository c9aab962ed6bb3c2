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

// CompliancePolicy is a compliance policy statement ("FFIEC IS.B.33",
// "PCI DSS 10.6.1") that tickets, tasks and task schedules cite, for
// tracking and reporting. Admins manage them; every viewer reads them.
// (Not named Policy: ent's generated package has a Policy of its own.)
type CompliancePolicy struct{ ent.Schema }

// Mixin of the CompliancePolicy.
func (CompliancePolicy) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the CompliancePolicy.
func (CompliancePolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().NotEmpty().Validate(maxRunes(200)).
			Annotations(entgql.OrderField("NAME")),
		field.String("reference").Default("").Validate(maxRunes(100)).
			Annotations(entgql.OrderField("REFERENCE")).
			Comment(`Where the statement comes from: "FFIEC IS.B.33", "PCI DSS 10.6.1".`),
		field.Text("text").Default("").Validate(maxRunes(20000)),
	}
}

// Edges of the CompliancePolicy.
func (CompliancePolicy) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tickets", Ticket.Type).Ref("policies").Through("ticket_citations", TicketCitation.Type).Annotations(entgql.Skip()),
		edge.From("schedules", TaskSchedule.Type).Ref("policies").Through("schedule_policies", TaskSchedulePolicy.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the CompliancePolicy.
func (CompliancePolicy) Indexes() []ent.Index { return []ent.Index{index.Fields("reference")} }

// Annotations of the CompliancePolicy.
func (CompliancePolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy of the CompliancePolicy: see package authz.
func (CompliancePolicy) Policy() ent.Policy { return authz.AdminOnly() }

// TicketCitation joins a ticket (or task) and a policy it cites; an edge
// schema for the index from the policy's side (the policy filter, and what
// cites a policy).
type TicketCitation struct{ ent.Schema }

// Fields of the TicketCitation.
func (TicketCitation) Fields() []ent.Field {
	return []ent.Field{field.Int("ticket_id"), field.Int("compliance_policy_id")}
}

// Edges of the TicketCitation.
func (TicketCitation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
		// Restrict: a cited policy is part of the compliance record, not
		// deleted (package policies refuses it); nor in plain SQL.
		edge.To("compliance_policy", CompliancePolicy.Type).Field("compliance_policy_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Restrict)),
	}
}

// Indexes of the TicketCitation.
func (TicketCitation) Indexes() []ent.Index {
	return []ent.Index{index.Fields("compliance_policy_id")}
}

// Annotations of the TicketCitation.
func (TicketCitation) Annotations() []schema.Annotation {
	return joinAnnotations("ticket_id", "compliance_policy_id")
}

// Policy of the TicketCitation: see package authz.
func (TicketCitation) Policy() ent.Policy { return authz.TicketChildPolicy() }

// TaskSchedulePolicy joins a task schedule and a policy it cites; an edge
// schema, not a plain many-to-many edge (whose join table ent always makes
// cascade), so that a cited policy is not deleted, in plain SQL either.
type TaskSchedulePolicy struct{ ent.Schema }

// Fields of the TaskSchedulePolicy.
func (TaskSchedulePolicy) Fields() []ent.Field {
	return []ent.Field{field.Int("task_schedule_id"), field.Int("compliance_policy_id")}
}

// Edges of the TaskSchedulePolicy.
func (TaskSchedulePolicy) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("schedule", TaskSchedule.Type).Field("task_schedule_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("compliance_policy", CompliancePolicy.Type).Field("compliance_policy_id").Unique().Required().Annotations(entsql.OnDelete(entsql.Restrict)),
	}
}

// Annotations of the TaskSchedulePolicy.
func (TaskSchedulePolicy) Annotations() []schema.Annotation {
	return joinAnnotations("task_schedule_id", "compliance_policy_id")
}

// Policy of the TaskSchedulePolicy: see package authz.
func (TaskSchedulePolicy) Policy() ent.Policy { return authz.ScheduleChildPolicy() }
