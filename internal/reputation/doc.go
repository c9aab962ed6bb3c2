// Package reputation looks up what a reputation provider (VirusTotal's v3
// API by default) says of the indicators a ticket names: its public IPs,
// domains and file hashes, read from its detection fields and evidence
// records (Indicators, the one extraction). Answers are cached per
// indicator for a TTL (ent ReputationResult), shared by every ticket and
// site that names it: a viewer sees a result only through a ticket they may
// see (Service.OfTicket), and only a ticket's editors spend the provider's
// quota (Service.Lookup; authz.LooksUpReputation).
//
// The provider's rate limit is kept across replicas (a budget in Redis when
// configured, in the process otherwise, plus the pause a 429's Retry-After
// asks for): over it, a lookup answers with what the cache has and the
// status RATE_LIMITED, never with another request. A provider that is slow,
// refusing or down never fails a ticket: each result says its status (OK,
// NOT_FOUND, RATE_LIMITED, UNAVAILABLE; UNCHECKED before any lookup). The
// provider's key is write-only: it goes in the x-apikey header and nowhere
// else (never into a result, an error or a log line).
//
// On ingestion (OnIngest), a DETECTION ticket's creation enqueues a lookup
// job in the creating transaction (Followers).
package reputation
