-- create index "ticketevent_ticket_number_id" to table: "ticket_events"
CREATE INDEX "ticketevent_ticket_number_id" ON "ticket_events" ("ticket_number", "id");
