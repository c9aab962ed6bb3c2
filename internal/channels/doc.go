// Package channels delivers one message to one recipient over one channel
// type: EMAIL (SMTP), WEBHOOK (an HTTP POST of JSON), MESSENGER (the
// webhook addressed to the recipient's messenger handle) and SMS (an HTTP
// request to a gateway). It knows nothing of tickets, queues or storage:
// the caller passes the settings, the secret, the recipient and the
// message, retries when Permanent says retrying can help, and keeps the
// idempotency key stable across retries so receivers can drop duplicates.
// All HTTP goes through outbound.Guard. Errors never contain the secret.
//
// # Webhook and messenger requests
//
// POST to the configured URL, Content-Type: application/json, with headers
//
//	Idempotency-Key: <key>          the same on every retry of one delivery
//	X-Socdesk-Event: <event>        e.g. ticket.created, test
//	X-Socdesk-Timestamp: <unix>     seconds since 1970-01-01 UTC, decimal
//	X-Socdesk-Signature: v1=<hex>   only when the channel has a secret
//
// The JSON format's body is one object:
//
//	{"event": "ticket.created", "idempotencyKey": "…", "to": "<handle, messenger only>",
//	 "subject": "…", "text": "…", "link": "https://…",
//	 "recipient": {"userId": "<the user's API ID>", "name": "…", "login": "…"},
//	 "data": {…the event's payload…}, "sentAt": "2026-12-02T03:04:05Z"}
//
// (empty strings in recipient are left out). The receiver is a third
// party, so the body says who the recipient is, not how to reach them: no
// email or phone, and the messenger handle only in a MESSENGER's "to". The CHAT format's body is
// {"text": "<subject>\n<text>\n<link>"} (empty lines left out), which Slack,
// Mattermost and Microsoft Teams incoming webhooks accept; for MESSENGER it
// starts with "@<handle> " so Mattermost and Rocket.Chat mention the user.
// The text is sent as written: no Slack mrkdwn escaping.
//
// # Signature (v1)
//
// Signature = lowercase hex of HMAC-SHA256, keyed with the channel's secret
// (its UTF-8 bytes), over the bytes
//
//	<X-Socdesk-Timestamp value> "." <request body exactly as received>
//
// and the header value is "v1=" followed by it. A receiver recomputes it
// over the raw body (before any JSON parsing), compares in constant time,
// and rejects timestamps further than a tolerance (Verify: 5 minutes by
// default) from its clock, which stops replays of an old request. The
// header may carry several comma-separated values (for secret rotation);
// one matching v1 value is enough. Retries are signed afresh with a new
// timestamp; the idempotency key stays the same.
//
// # SMS gateways
//
// An HTTP request (POST by default, PUT or GET) to the gateway URL with
// the Idempotency-Key header and, when AuthHeader names one, that header
// set to the secret (e.g. AuthHeader "Authorization", secret "Bearer …").
// The body is BodyTemplate, a Go text/template, run with .Phone (the
// normalised number, "+" kept when given) and .Text (the subject, a space
// and the link; cut to MaxSMSRunes runes, the link kept whole). Values are
// escaped for the content type automatically: JSON string escaping without
// the quotes for application/json and */*+json (write "{{.Text}}" in
// quotes; the result must be valid JSON), URL query escaping for
// application/x-www-form-urlencoded, XML escaping for XML types, none for
// others. For GET there is no body: the rendered template, query-escaped,
// is appended to the URL's query string. Any 2xx answer means sent.
//
// # Email
//
// SMTP with go-mail: STARTTLS (the default, mandatory: a server that does
// not offer it is an error, never a silent downgrade), IMPLICIT (SMTPS,
// port 465) or NONE (plain text, for a relay on a trusted network; SMTP
// AUTH is refused without TLS so the password never crosses in clear).
// With a username, the secret is the password and the mechanism is
// discovered (PLAIN, LOGIN, CRAM-MD5, SCRAM). The message is
// multipart/alternative (text, and HTML when given), with Message-ID
// <key@socdesk>, X-Socdesk-Idempotency-Key: <key>, X-Socdesk-Event and
// Auto-Submitted: auto-generated. The SMTP host is not checked against
// outbound's ranges: mail relays live on private networks, and only an
// administrator sets the host.
package channels
