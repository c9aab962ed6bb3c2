-- reverse: create index "ticketlink_created_by_id" to table: "ticket_links"
DROP INDEX "ticketlink_created_by_id";
-- reverse: create index "ticketevent_actor_id" to table: "ticket_events"
DROP INDEX "ticketevent_actor_id";
-- reverse: create index "memo_author_id" to table: "memos"
DROP INDEX "memo_author_id";
-- reverse: create index "attachment_uploaded_by_id" to table: "attachments"
DROP INDEX "attachment_uploaded_by_id";
