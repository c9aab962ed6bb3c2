-- reverse: a task stays a task and a ticket never becomes one
DROP TRIGGER "task_kind_is_fixed" ON "tickets";
DROP FUNCTION "task_kind_is_fixed"();
