-- reverse: create index "playbookrun_ticket_id_id" to table: "playbook_runs"
DROP INDEX "playbookrun_ticket_id_id";
-- reverse: create index "playbookrun_status_id" to table: "playbook_runs"
DROP INDEX "playbookrun_status_id";
-- reverse: create index "playbookrun_site_id_id" to table: "playbook_runs"
DROP INDEX "playbookrun_site_id_id";
-- reverse: create index "playbookrun_requested_by_id" to table: "playbook_runs"
DROP INDEX "playbookrun_requested_by_id";
-- reverse: create index "playbookrun_playbook_id_id" to table: "playbook_runs"
DROP INDEX "playbookrun_playbook_id_id";
-- reverse: create "playbook_runs" table
DROP TABLE "playbook_runs";
-- reverse: create index "playbooks_name_key" to table: "playbooks"
DROP INDEX "playbooks_name_key";
-- reverse: create "playbooks" table
DROP TABLE "playbooks";
-- reverse: create index "delivery_ticket_id_id" to table: "deliveries"
DROP INDEX "delivery_ticket_id_id";
-- reverse: create index "delivery_status_id" to table: "deliveries"
DROP INDEX "delivery_status_id";
-- reverse: create index "delivery_site_id_id" to table: "deliveries"
DROP INDEX "delivery_site_id_id";
-- reverse: create index "delivery_requested_by_id" to table: "deliveries"
DROP INDEX "delivery_requested_by_id";
-- reverse: create index "delivery_recipient_id_channel_id_status" to table: "deliveries"
DROP INDEX "delivery_recipient_id_channel_id_status";
-- reverse: create index "delivery_event_id_recipient_id_channel_id" to table: "deliveries"
DROP INDEX "delivery_event_id_recipient_id_channel_id";
-- reverse: create index "delivery_digest_id" to table: "deliveries"
DROP INDEX "delivery_digest_id";
-- reverse: create "deliveries" table
DROP TABLE "deliveries";
-- reverse: modify "users" table
ALTER TABLE "users" DROP COLUMN "notification_preferences", DROP COLUMN "messenger", DROP COLUMN "phone";
-- reverse: create index "channels_name_key" to table: "channels"
DROP INDEX "channels_name_key";
-- reverse: create "channels" table
DROP TABLE "channels";
