-- create index "ticketevent_created_at" to table: "ticket_events"
CREATE INDEX "ticketevent_created_at" ON "ticket_events" ("created_at") INCLUDE ("ticket_id", "id", "kind", "status");
