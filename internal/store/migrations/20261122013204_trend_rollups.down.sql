-- reverse: create index "statushour_site_id_bucket_status" to table: "status_hours"
DROP INDEX "statushour_site_id_bucket_status";
-- reverse: create index "statushour_bucket" to table: "status_hours"
DROP INDEX "statushour_bucket";
-- reverse: create "status_hours" table
DROP TABLE "status_hours";
-- reverse: create index "statusday_site_id_bucket_status" to table: "status_days"
DROP INDEX "statusday_site_id_bucket_status";
-- reverse: create index "statusday_bucket" to table: "status_days"
DROP INDEX "statusday_bucket";
-- reverse: create "status_days" table
DROP TABLE "status_days";
