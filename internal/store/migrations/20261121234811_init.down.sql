-- reverse: create "user_sites" table
DROP TABLE "user_sites";
-- reverse: create index "tickettag_tag_id" to table: "ticket_tags"
DROP INDEX "tickettag_tag_id";
-- reverse: create "ticket_tags" table
DROP TABLE "ticket_tags";
-- reverse: create index "tags_name_key" to table: "tags"
DROP INDEX "tags_name_key";
-- reverse: create "tags" table
DROP TABLE "tags";
-- reverse: create index "ticketevent_ticket_id_id" to table: "ticket_events"
DROP INDEX "ticketevent_ticket_id_id";
-- reverse: create index "ticketevent_site_id_id" to table: "ticket_events"
DROP INDEX "ticketevent_site_id_id";
-- reverse: create "ticket_events" table
DROP TABLE "ticket_events";
-- reverse: create index "ticketassignee_user_id" to table: "ticket_assignees"
DROP INDEX "ticketassignee_user_id";
-- reverse: create "ticket_assignees" table
DROP TABLE "ticket_assignees";
-- reverse: create index "ticketapprover_user_id" to table: "ticket_approvers"
DROP INDEX "ticketapprover_user_id";
-- reverse: create "ticket_approvers" table
DROP TABLE "ticket_approvers";
-- reverse: create index "attachment_ticket_id" to table: "attachments"
DROP INDEX "attachment_ticket_id";
-- reverse: create "attachments" table
DROP TABLE "attachments";
-- reverse: create index "memo_ticket_id_created_at" to table: "memos"
DROP INDEX "memo_ticket_id_created_at";
-- reverse: create "memos" table
DROP TABLE "memos";
-- reverse: create index "ticket_updated_at_id" to table: "tickets"
DROP INDEX "ticket_updated_at_id";
-- reverse: create index "ticket_title_trgm" to table: "tickets"
DROP INDEX "ticket_title_trgm";
-- reverse: create index "ticket_status_created_at" to table: "tickets"
DROP INDEX "ticket_status_created_at";
-- reverse: create index "ticket_site_id_status_created_at" to table: "tickets"
DROP INDEX "ticket_site_id_status_created_at";
-- reverse: create index "ticket_registered_by_id" to table: "tickets"
DROP INDEX "ticket_registered_by_id";
-- reverse: create index "ticket_priority_rank_id" to table: "tickets"
DROP INDEX "ticket_priority_rank_id";
-- reverse: create index "ticket_created_at_id" to table: "tickets"
DROP INDEX "ticket_created_at_id";
-- reverse: create index "ticket_category_id_created_at" to table: "tickets"
DROP INDEX "ticket_category_id_created_at";
-- reverse: create index "ticket_body_trgm" to table: "tickets"
DROP INDEX "ticket_body_trgm";
-- reverse: create "tickets" table
DROP TABLE "tickets";
-- reverse: create index "sites_name_key" to table: "sites"
DROP INDEX "sites_name_key";
-- reverse: create "sites" table
DROP TABLE "sites";
-- reverse: create index "categories_name_key" to table: "categories"
DROP INDEX "categories_name_key";
-- reverse: create "categories" table
DROP TABLE "categories";
-- reverse: create index "api_tokens_hash_key" to table: "api_tokens"
DROP INDEX "api_tokens_hash_key";
-- reverse: create "api_tokens" table
DROP TABLE "api_tokens";
-- reverse: create index "users_login_key" to table: "users"
DROP INDEX "users_login_key";
-- reverse: create "users" table
DROP TABLE "users";
