-- reverse: create index "ticketevent_tx_id" to table: "ticket_events"
DROP INDEX "ticketevent_tx_id";
-- reverse: modify "ticket_events" table
ALTER TABLE "ticket_events" DROP COLUMN "status", DROP COLUMN "tx";
