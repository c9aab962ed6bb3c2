// Package persisted runs persisted queries: Apollo's automatic persisted
// queries (a client sends a document's SHA-256 instead of the document, and
// the document once when the server does not know it), kept in Redis when
// replicas share one and in a bounded in-memory LRU otherwise; or, in
// allow-list mode, only the documents of a persisted-query manifest
// (Apollo's format), which no request can add to.
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
	// Only, if set, runs only the documents of the manifest at ManifestPath;
	// automatic registration is off.
	Only         bool
	ManifestPath string
}

// New returns the GraphQL extension serving persisted queries as o says:
// registered in rdb when it is not nil (every replica sharing it sees what
// one registered), in memory otherwise; from a manifest in allow-list mode.
func New(o Options, rdb *redis.Client, log *slog.Logger) (graphql.HandlerExtension, error) {
	if o.Only {
		if o.ManifestPath == "" {
			return nil, errors.New("persisted-only mode needs a manifest (SOCDESK_PERSISTED_QUERIES)")
		}
		m, err := LoadManifest(o.ManifestPath)
		if err != nil {
			return nil, err
		}
		return Listed{Manifest: m}, nil
	}
	if o.MaxBytes <= 0 || o.Entries <= 0 || o.TTL <= 0 {
		return nil, fmt.Errorf("persisted queries: size, entries and TTL must be positive")
	}
	if rdb != nil {
		return APQ{Store: &Redis{Client: rdb, TTL: o.TTL, Log: log, Mute: reqlog.Mute{Period: 10 * time.Second}}, MaxBytes: o.MaxBytes}, nil
	}
	return APQ{Store: NewMemory(o.Entries), MaxBytes: o.MaxBytes}, nil
}
