-- create index "attachment_uploaded_by_id" to table: "attachments"
CREATE INDEX "attachment_uploaded_by_id" ON "attachments" ("uploaded_by_id");
-- create index "memo_author_id" to table: "memos"
CREATE INDEX "memo_author_id" ON "memos" ("author_id");
-- create index "ticketevent_actor_id" to table: "ticket_events"
CREATE INDEX "ticketevent_actor_id" ON "ticket_events" ("actor_id");
-- create index "ticketlink_created_by_id" to table: "ticket_links"
CREATE INDEX "ticketlink_created_by_id" ON "ticket_links" ("created_by_id");
