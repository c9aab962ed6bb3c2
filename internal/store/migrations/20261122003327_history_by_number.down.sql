-- reverse: create index "ticketevent_ticket_number_id" to table: "ticket_events"
DROP INDEX "ticketevent_ticket_number_id";
