-- modify "ticket_events" table
ALTER TABLE "ticket_events" ADD COLUMN "tx" bigint NULL DEFAULT ((pg_current_xact_id())::text)::bigint, ADD COLUMN "status" character varying NULL;
-- create index "ticketevent_tx_id" to table: "ticket_events"
CREATE INDEX "ticketevent_tx_id" ON "ticket_events" ("tx", "id");
-- backfill the status history of existing entries from their changes
UPDATE "ticket_events" e SET "status" = (
  SELECT c->>'to' FROM jsonb_array_elements(e."changes"::jsonb) c WHERE c->>'field' = 'status' LIMIT 1
) WHERE e."kind" IN ('CREATED', 'TRANSITIONED', 'ASSIGNED');
