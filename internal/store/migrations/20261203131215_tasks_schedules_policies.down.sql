-- reverse: tasks are never deleted
DROP TRIGGER "tasks_are_never_deleted" ON "tickets";
DROP FUNCTION "tasks_are_never_deleted"();
-- reverse: create index "ticketcitation_compliance_policy_id" to table: "ticket_citations"
DROP INDEX "ticketcitation_compliance_policy_id";
-- reverse: create "ticket_citations" table
DROP TABLE "ticket_citations";
-- reverse: create index "ticket_schedule_id_occurrence_at" to table: "tickets"
DROP INDEX "ticket_schedule_id_occurrence_at";
-- reverse: create index "ticket_kind_due_at_id" to table: "tickets"
DROP INDEX "ticket_kind_due_at_id";
-- reverse: modify "tickets" table
ALTER TABLE "tickets" DROP CONSTRAINT "tickets_task_schedules_tasks", DROP COLUMN "schedule_id", DROP COLUMN "resolution", DROP COLUMN "query_search", DROP COLUMN "query_filter", DROP COLUMN "occurrence_at";
-- reverse: create index "taskschedulewatcher_user_id" to table: "task_schedule_watchers"
DROP INDEX "taskschedulewatcher_user_id";
-- reverse: create index "taskschedulewatcher_schedule_id_user_id" to table: "task_schedule_watchers"
DROP INDEX "taskschedulewatcher_schedule_id_user_id";
-- reverse: create "task_schedule_watchers" table
DROP TABLE "task_schedule_watchers";
-- reverse: create "task_schedule_tags" table
DROP TABLE "task_schedule_tags";
-- reverse: create "task_schedule_policies" table
DROP TABLE "task_schedule_policies";
-- reverse: create index "compliancepolicy_reference" to table: "compliance_policies"
DROP INDEX "compliancepolicy_reference";
-- reverse: create index "compliance_policies_name_key" to table: "compliance_policies"
DROP INDEX "compliance_policies_name_key";
-- reverse: create "compliance_policies" table
DROP TABLE "compliance_policies";
-- reverse: create index "taskscheduleevent_schedule_id_id" to table: "task_schedule_events"
DROP INDEX "taskscheduleevent_schedule_id_id";
-- reverse: create index "taskscheduleevent_actor_id" to table: "task_schedule_events"
DROP INDEX "taskscheduleevent_actor_id";
-- reverse: create "task_schedule_events" table
DROP TABLE "task_schedule_events";
-- reverse: create index "taskschedule_site_id_name" to table: "task_schedules"
DROP INDEX "taskschedule_site_id_name";
-- reverse: create index "taskschedule_owner_id" to table: "task_schedules"
DROP INDEX "taskschedule_owner_id";
-- reverse: create index "taskschedule_created_by_id" to table: "task_schedules"
DROP INDEX "taskschedule_created_by_id";
-- reverse: create index "taskschedule_active_next_occurrence_at" to table: "task_schedules"
DROP INDEX "taskschedule_active_next_occurrence_at";
-- reverse: create "task_schedules" table
DROP TABLE "task_schedules";
