-- reverse: create index "ticketevent_created_at" to table: "ticket_events"
DROP INDEX "ticketevent_created_at";
