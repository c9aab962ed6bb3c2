-- Logins ignore case (issue 9): every login is stored in lower case, so that
-- the unique index on login holds whatever the case. Of logins equal but for
-- case, the oldest user keeps the folded login and the others get "-<id>"
-- appended (within the 64 characters of a login). This file also runs on
-- the embedded SQLite database (store.Migrate): keep it portable.
UPDATE "users" SET "login" = substr(lower("login"), 1, 63 - length(CAST("id" AS TEXT))) || '-' || CAST("id" AS TEXT)
WHERE EXISTS (SELECT 1 FROM "users" AS "o" WHERE lower("o"."login") = lower("users"."login") AND "o"."id" < "users"."id");
UPDATE "users" SET "login" = lower("login") WHERE "login" <> lower("login");
