-- reverse: create index "ticket_site_id_updated_at_id" to table: "tickets"
DROP INDEX "ticket_site_id_updated_at_id";
-- reverse: create index "ticket_site_id_priority_rank_id" to table: "tickets"
DROP INDEX "ticket_site_id_priority_rank_id";
-- reverse: create index "ticket_site_id_created_at_id" to table: "tickets"
DROP INDEX "ticket_site_id_created_at_id";
