-- reverse: modify "explanation_steps" table
ALTER TABLE "explanation_steps" DROP CONSTRAINT "explanation_steps_users_actor", DROP CONSTRAINT "explanation_steps_tickets_ticket", DROP CONSTRAINT "explanation_steps_explanation_requests_steps", DROP CONSTRAINT "explanation_steps_employees_actor_employee";
-- reverse: modify "explanation_requests" table
ALTER TABLE "explanation_requests" DROP CONSTRAINT "explanation_requests_users_requested_by", DROP CONSTRAINT "explanation_requests_tickets_explanations", DROP CONSTRAINT "explanation_requests_explanation_categories_category", DROP CONSTRAINT "explanation_requests_employees_violator", DROP CONSTRAINT "explanation_requests_employees_manager", DROP CONSTRAINT "explanation_requests_employees_auditor", DROP CONSTRAINT "explanation_requests_departments_department";
-- reverse: modify "explanation_links" table
ALTER TABLE "explanation_links" DROP CONSTRAINT "explanation_links_explanation_requests_links", DROP CONSTRAINT "explanation_links_employees_employee";
-- reverse: modify "evidences" table
ALTER TABLE "evidences" DROP CONSTRAINT "evidences_tickets_evidence";
-- reverse: modify "employees" table
ALTER TABLE "employees" DROP CONSTRAINT "employees_users_user", DROP CONSTRAINT "employees_departments_employees";
-- reverse: modify "departments" table
ALTER TABLE "departments" DROP CONSTRAINT "departments_employees_manager";
-- reverse: modify "deliveries" table
ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_explanation_requests_explanation", DROP CONSTRAINT "deliveries_employees_employee";
-- reverse: modify "attachments" table
ALTER TABLE "attachments" DROP CONSTRAINT "attachments_explanation_steps_attachments", DROP CONSTRAINT "attachments_employees_uploaded_by_employee";
-- reverse: create index "explanationstep_ticket_id" to table: "explanation_steps"
DROP INDEX "explanationstep_ticket_id";
-- reverse: create index "explanationstep_request_id_id" to table: "explanation_steps"
DROP INDEX "explanationstep_request_id_id";
-- reverse: create index "explanationstep_actor_id" to table: "explanation_steps"
DROP INDEX "explanationstep_actor_id";
-- reverse: create index "explanationstep_actor_employee_id" to table: "explanation_steps"
DROP INDEX "explanationstep_actor_employee_id";
-- reverse: create "explanation_steps" table
DROP TABLE "explanation_steps";
-- reverse: create index "explanationrequest_violator_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_violator_id";
-- reverse: create index "explanationrequest_ticket_id_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_ticket_id_id";
-- reverse: create index "explanationrequest_status_deadline" to table: "explanation_requests"
DROP INDEX "explanationrequest_status_deadline";
-- reverse: create index "explanationrequest_manager_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_manager_id";
-- reverse: create index "explanationrequest_department_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_department_id";
-- reverse: create index "explanationrequest_deadline" to table: "explanation_requests"
DROP INDEX "explanationrequest_deadline";
-- reverse: create index "explanationrequest_category_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_category_id";
-- reverse: create index "explanationrequest_auditor_id" to table: "explanation_requests"
DROP INDEX "explanationrequest_auditor_id";
-- reverse: create "explanation_requests" table
DROP TABLE "explanation_requests";
-- reverse: create index "explanationlink_request_id_role" to table: "explanation_links"
DROP INDEX "explanationlink_request_id_role";
-- reverse: create index "explanationlink_employee_id" to table: "explanation_links"
DROP INDEX "explanationlink_employee_id";
-- reverse: create index "explanation_links_token_hash_key" to table: "explanation_links"
DROP INDEX "explanation_links_token_hash_key";
-- reverse: create "explanation_links" table
DROP TABLE "explanation_links";
-- reverse: create index "explanation_categories_name_key" to table: "explanation_categories"
DROP INDEX "explanation_categories_name_key";
-- reverse: create "explanation_categories" table
DROP TABLE "explanation_categories";
-- reverse: create index "evidence_ticket_id_id" to table: "evidences"
DROP INDEX "evidence_ticket_id_id";
-- reverse: create "evidences" table
DROP TABLE "evidences";
-- reverse: create index "employees_number_key" to table: "employees"
DROP INDEX "employees_number_key";
-- reverse: create index "employee_name" to table: "employees"
DROP INDEX "employee_name";
-- reverse: create index "employee_department_id" to table: "employees"
DROP INDEX "employee_department_id";
-- reverse: create "employees" table
DROP TABLE "employees";
-- reverse: create index "departments_name_key" to table: "departments"
DROP INDEX "departments_name_key";
-- reverse: create "departments" table
DROP TABLE "departments";
-- reverse: create index "blobs_sha256_key" to table: "blobs"
DROP INDEX "blobs_sha256_key";
-- reverse: create "blobs" table
DROP TABLE "blobs";
-- reverse: create index "ticket_src_ip_key_id" to table: "tickets"
DROP INDEX "ticket_src_ip_key_id";
-- reverse: create index "ticket_host_key_id" to table: "tickets"
DROP INDEX "ticket_host_key_id";
-- reverse: create index "ticket_explanation_status_id" to table: "tickets"
DROP INDEX "ticket_explanation_status_id";
-- reverse: create index "ticket_dst_ip_key_id" to table: "tickets"
DROP INDEX "ticket_dst_ip_key_id";
-- reverse: modify "tickets" table
ALTER TABLE "tickets" DROP COLUMN "explanation_status", DROP COLUMN "host_key", DROP COLUMN "dst_ip_key", DROP COLUMN "src_ip_key";
-- reverse: create index "delivery_explanation_id" to table: "deliveries"
DROP INDEX "delivery_explanation_id";
-- reverse: create index "delivery_employee_id" to table: "deliveries"
DROP INDEX "delivery_employee_id";
-- reverse: modify "deliveries" table
ALTER TABLE "deliveries" DROP COLUMN "explanation_id", DROP COLUMN "employee_id", DROP COLUMN "link_role", DROP COLUMN "address";
-- reverse: create index "attachment_uploaded_by_employee_id" to table: "attachments"
DROP INDEX "attachment_uploaded_by_employee_id";
-- reverse: create index "attachment_sha256" to table: "attachments"
DROP INDEX "attachment_sha256";
-- reverse: create index "attachment_explanation_step_id" to table: "attachments"
DROP INDEX "attachment_explanation_step_id";
-- reverse: modify "attachments" table
ALTER TABLE "attachments" DROP COLUMN "explanation_step_id", DROP COLUMN "uploaded_by_employee_id";
