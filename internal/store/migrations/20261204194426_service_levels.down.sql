-- reverse: create index "businesscalendar_site_id" to table: "business_calendars"
DROP INDEX "businesscalendar_site_id";
-- reverse: create index "businesscalendar_is_default" to table: "business_calendars"
DROP INDEX "businesscalendar_is_default";
-- reverse: create index "business_calendars_name_key" to table: "business_calendars"
DROP INDEX "business_calendars_name_key";
-- reverse: create "business_calendars" table
DROP TABLE "business_calendars";
-- reverse: create index "ticket_response_due_key_id" to table: "tickets"
DROP INDEX "ticket_response_due_key_id";
-- reverse: create index "ticket_resolution_due_key_id" to table: "tickets"
DROP INDEX "ticket_resolution_due_key_id";
-- reverse: modify "tickets" table
ALTER TABLE "tickets" DROP COLUMN "resolution_due_key", DROP COLUMN "response_due_key", DROP COLUMN "resolution_breached_at", DROP COLUMN "response_breached_at", DROP COLUMN "sla_paused_business_seconds", DROP COLUMN "sla_paused_seconds", DROP COLUMN "sla_paused_since", DROP COLUMN "sla_started_at", DROP COLUMN "resolution_risk_at", DROP COLUMN "response_risk_at", DROP COLUMN "resolution_due_at", DROP COLUMN "response_due_at", DROP COLUMN "resolved_at", DROP COLUMN "responded_at";
-- reverse: modify "categories" table
ALTER TABLE "categories" DROP COLUMN "service_levels";
