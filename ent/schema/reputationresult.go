package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"socdesk/internal/authz"
)

// ReputationResult is the cached reputation of one indicator (an IP, a
// domain, a file hash) as the reputation provider last told it (package
// reputation). It is shared by every ticket that names the indicator, of
// whatever site: viewers see it only through a ticket they see, so no
// viewer reads this table directly.
type ReputationResult struct{ ent.Schema }

// Fields of the ReputationResult.
func (ReputationResult) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("IP", "DOMAIN", "FILE_HASH").Immutable(),
		// Normalized (package reputation): an IP in canonical form, a domain
		// in lower case without a final dot, a hash in lower-case hex.
		field.String("indicator").Immutable().NotEmpty().Validate(maxRunes(255)),
		// The outcome of the last attempt; the counts below are those of the
		// last answer (OK), kept through later failures.
		field.Enum("status").Values("OK", "NOT_FOUND", "RATE_LIMITED", "UNAVAILABLE"),
		field.Int("malicious").Optional().Nillable(),
		field.Int("suspicious").Optional().Nillable(),
		field.Int("harmless").Optional().Nillable(),
		field.Int("undetected").Optional().Nillable(),
		field.Int("reputation").Optional().Nillable(),
		// The provider's analysis stats as it sent them, bounded (package
		// reputation: MaxStatsKeys).
		field.JSON("stats", map[string]int{}).Optional(),
		// When the provider last answered (OK or NOT_FOUND): the age of the
		// counts; nil until it has.
		field.Time("fetched_at").Optional().Nillable(),
		// When the last attempt was made, whatever its outcome.
		field.Time("checked_at").Default(Now),
		// Why the last attempt failed (redacted of the key), and when the
		// provider said to come back (HTTP 429 Retry-After).
		field.String("error").Optional().Validate(maxRunes(500)),
		field.Time("retry_at").Optional().Nillable(),
	}
}

// Indexes of the ReputationResult: one row per indicator.
func (ReputationResult) Indexes() []ent.Index {
	return []ent.Index{index.Fields("kind", "indicator").Unique()}
}

// Annotations of the ReputationResult: served through Ticket.reputation
// only (package reputation), not as an ent type of the API.
func (ReputationResult) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the ReputationResult: see package authz.
func (ReputationResult) Policy() ent.Policy { return authz.SystemOnly() }
