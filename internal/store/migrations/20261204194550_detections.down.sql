-- reverse: create "detection_rule_tags" table
DROP TABLE "detection_rule_tags";
-- reverse: create "detection_rule_ingesters" table
DROP TABLE "detection_rule_ingesters";
-- reverse: create "detection_rule_assignees" table
DROP TABLE "detection_rule_assignees";
-- reverse: create "detection_rule_approvers" table
DROP TABLE "detection_rule_approvers";
-- reverse: create index "detectionrule_site_id" to table: "detection_rules"
DROP INDEX "detectionrule_site_id";
-- reverse: create index "detection_rules_key_key" to table: "detection_rules"
DROP INDEX "detection_rules_key_key";
-- reverse: create "detection_rules" table
DROP TABLE "detection_rules";
-- reverse: create index "ingestkey_principal_key" to table: "ingest_keys"
DROP INDEX "ingestkey_principal_key";
-- reverse: create index "ingestkey_created_at" to table: "ingest_keys"
DROP INDEX "ingestkey_created_at";
-- reverse: create "ingest_keys" table
DROP TABLE "ingest_keys";
-- reverse: create index "detectionfingerprint_ticket_id" to table: "detection_fingerprints"
DROP INDEX "detectionfingerprint_ticket_id";
-- reverse: create index "detectionfingerprint_rule_id_fingerprint" to table: "detection_fingerprints"
DROP INDEX "detectionfingerprint_rule_id_fingerprint";
-- reverse: create "detection_fingerprints" table
DROP TABLE "detection_fingerprints";
-- reverse: modify "tickets" table
ALTER TABLE "tickets" DROP COLUMN "evidence_dropped";
