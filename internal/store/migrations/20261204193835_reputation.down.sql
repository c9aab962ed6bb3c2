-- reverse: create index "reputationresult_kind_indicator" to table: "reputation_results"
DROP INDEX "reputationresult_kind_indicator";
-- reverse: create "reputation_results" table
DROP TABLE "reputation_results";
