// Package persisted runs persisted queries: Apollo's automatic persisted
// queries (a client sends a document's SHA-256 instead of the document, and
// the document once when the server does not know it), kept in Redis when
// replicas share one and in a bounded in-memory LRU otherwise; or, in
// allow-list mode, only the documents of a persisted-query manifest
// (Apollo's format), which no request can add to. A manifest given without
// allow-list mode is served by id besides the automatic registrations.
package persisted

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"socdesk/internal/reqlog"
)

// Options configure persisted queries.
type Options struct {
	// TTL is how long a registered document stays in Redis after it was
	// last used.
	TTL time.Duration
	// MaxBytes is the largest document registered; larger ones still run,
	// sent in full every time.
	MaxBytes int
	// Entries bound the in-memory cache (used without Redis).
	Entries int
	// Only, if set, runs only the documents of Manifest; automatic
	// registration is off.
	Only bool
	// ManifestPath is where Manifest was read from (LoadManifest). Without
	// Only, the manifest's documents are served by id besides those
	// registered automatically.
	ManifestPath string
	Manifest     *Manifest
}

// New returns the GraphQL extension serving persisted queries as o says:
// registered in rdb when it is not nil (every replica sharing it sees what
// one registered), in memory otherwise, with the documents of o.Manifest
// served by id too; only those of o.Manifest in allow-list mode.
func New(o Options, rdb *redis.Client, log *slog.Logger) (graphql.HandlerExtension, error) {
	if o.ManifestPath != "" && o.Manifest == nil {
		return nil, fmt.Errorf("persisted-query manifest %s: not loaded (LoadManifest)", o.ManifestPath)
	}
	if o.Only {
		if o.Manifest == nil {
			return nil, errors.New("persisted-only mode needs a manifest (SOCDESK_PERSISTED_QUERIES)")
		}
		return Listed{Manifest: o.Manifest}, nil
	}
	if o.MaxBytes <= 0 || o.Entries <= 0 || o.TTL <= 0 {
		return nil, fmt.Errorf("persisted queries: size, entries and TTL must be positive")
	}
	if rdb != nil {
		return APQ{Store: &Redis{Client: rdb, TTL: o.TTL, Log: log, Mute: reqlog.Mute{Period: 10 * time.Second}}, MaxBytes: o.MaxBytes, Manifest: o.Manifest}, nil
	}
	return APQ{Store: NewMemory(o.Entries), MaxBytes: o.MaxBytes, Manifest: o.Manifest}, nil
}
