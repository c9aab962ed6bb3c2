// Package receivers is test tooling: real receivers that socdesk's
// delivery channels send to in tests — an SMTP server (go-smtp) with
// optional STARTTLS or implicit TLS and AUTH, and an HTTP server with
// settable failures and delays, and a fake of the VirusTotal v3 API
// (reputation lookups) with slow, 429, 500 and dropped-connection modes.
// The SMTP and HTTP receivers record what arrived, count
// idempotency keys (so crash and replica tests can tell "delivered once"
// from "delivered twice"), listen on 127.0.0.1 only, are safe for
// concurrent use and stop when the test ends. Never used by the product.
package receivers
