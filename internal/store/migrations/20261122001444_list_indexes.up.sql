-- create index "ticket_site_id_created_at_id" to table: "tickets"
CREATE INDEX "ticket_site_id_created_at_id" ON "tickets" ("site_id", "created_at", "id");
-- create index "ticket_site_id_priority_rank_id" to table: "tickets"
CREATE INDEX "ticket_site_id_priority_rank_id" ON "tickets" ("site_id", "priority_rank", "id");
-- create index "ticket_site_id_updated_at_id" to table: "tickets"
CREATE INDEX "ticket_site_id_updated_at_id" ON "tickets" ("site_id", "updated_at", "id");
