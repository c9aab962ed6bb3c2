-- reverse: create index "ticketwatcher_user_id" to table: "ticket_watchers"
DROP INDEX "ticketwatcher_user_id";
-- reverse: create index "ticketwatcher_ticket_id_user_id" to table: "ticket_watchers"
DROP INDEX "ticketwatcher_ticket_id_user_id";
-- reverse: create "ticket_watchers" table
DROP TABLE "ticket_watchers";
-- reverse: create index "ticketlink_to_id" to table: "ticket_links"
DROP INDEX "ticketlink_to_id";
-- reverse: create index "ticketlink_from_id_to_id_kind" to table: "ticket_links"
DROP INDEX "ticketlink_from_id_to_id_kind";
-- reverse: create "ticket_links" table
DROP TABLE "ticket_links";
-- reverse: create index "ticket_due_at" to table: "tickets"
DROP INDEX "ticket_due_at";
-- reverse: modify "tickets" table
ALTER TABLE "tickets" DROP COLUMN "due_at";
-- reverse: modify "ticket_events" table
ALTER TABLE "ticket_events" DROP COLUMN "reason";
