-- a task stays a task and a ticket never becomes one, whoever asks (ent keeps
-- the kind immutable; this holds for plain SQL too): a task made a ticket could
-- then be deleted, a ticket made a task would be off the TASK workflow
CREATE FUNCTION "task_kind_is_fixed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a task stays a task and a ticket never becomes one (ticket %: % to %)', OLD.id, OLD.kind, NEW.kind USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "task_kind_is_fixed" BEFORE UPDATE OF "kind" ON "tickets" FOR EACH ROW WHEN (OLD.kind <> NEW.kind AND 'TASK' IN (OLD.kind, NEW.kind)) EXECUTE FUNCTION "task_kind_is_fixed"();
