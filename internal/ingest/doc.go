// Package ingest is where detection pipelines meet socdesk: detection
// rules (how an event maps to a DETECTION ticket, which events are one
// attack, who may send them) and the ingestion of their events, by service
// token or by HMAC signature, with deduplication (a fingerprint per attack,
// row-locked, so that concurrent ingesters count one ticket exactly) and
// idempotency keys (a replay returns the first result and changes nothing).
// Tickets are opened and counted through the ticket service (package
// tickets), with its history, live stream and notifications.
package ingest
