package persisted_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"socdesk/graph/generated"
	"socdesk/internal/devtools/syncbuf"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/persisted"
	"socdesk/internal/reqlog"
)

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr()})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		testdb.SkipOrFail(t, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomHash() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestRedisStore: documents live in Redis under their hash for TTL after
// their last use: every read renews them. A Redis that fails costs only a
// miss.
func TestRedisStore(t *testing.T) {
	ctx := context.Background()
	rdb := redisClient(t)
	s := &persisted.Redis{Client: rdb, TTL: time.Hour, Log: slog.New(slog.DiscardHandler)}
	h := randomHash()
	t.Cleanup(func() { rdb.Del(ctx, persisted.KeyPrefix+h) })
	if _, ok := s.Get(ctx, h); ok {
		t.Fatal("found a document never added")
	}
	s.Add(ctx, h, "{ viewer { login } }")
	if q, ok := s.Get(ctx, h); !ok || q != "{ viewer { login } }" {
		t.Fatalf("Get: %q %v", q, ok)
	}
	if ttl := rdb.TTL(ctx, persisted.KeyPrefix+h).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL %v, want about an hour", ttl)
	}
	rdb.Expire(ctx, persisted.KeyPrefix+h, time.Minute)
	s.Get(ctx, h)
	if ttl := rdb.TTL(ctx, persisted.KeyPrefix+h).Val(); ttl <= 59*time.Minute {
		t.Fatalf("TTL %v after a read, want it renewed to about an hour", ttl)
	}

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	s = &persisted.Redis{Client: down, TTL: time.Hour, Log: slog.New(slog.DiscardHandler)}
	s.Add(ctx, h, "{ viewer { login } }")
	if _, ok := s.Get(ctx, h); ok {
		t.Fatal("a Redis that is down found a document")
	}
}

// TestMemoryStoreBounded: without Redis the documents most recently used
// are kept, no more than asked for.
func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	s := persisted.NewMemory(2)
	s.Add(ctx, "a", "A")
	s.Add(ctx, "b", "B")
	s.Get(ctx, "a")
	s.Add(ctx, "c", "C")
	if _, ok := s.Get(ctx, "b"); ok {
		t.Fatal("kept three documents in a store of two")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := s.Get(ctx, k); !ok {
			t.Fatalf("lost %s", k)
		}
	}
}

// TestManifest: a manifest must be Apollo's format, version 1, each
// operation with an id and a body, no id given to two documents; and the
// allow-list mode refuses to start without one.
func TestManifest(t *testing.T) {
	for _, tc := range []struct{ name, json, err string }{
		{"not JSON", `{`, "not JSON"},
		{"another format", `{"format":"relay","version":1,"operations":[]}`, "want apollo-persisted-query-manifest"},
		{"another version", `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`, "version 2"},
		{"no body", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a"}]}`, "operations[0]: id and body are required"},
		{"one id, two bodies", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a","body":"{a}"},{"id":"a","body":"{b}"}]}`, "operations[1]: id a is given to two documents"},
	} {
		if _, err := persisted.ParseManifest([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
	m, err := persisted.ParseManifest([]byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a","name":"A","type":"query","body":"query A { viewer { id } }"}]}`))
	if err != nil || m.Len() != 1 {
		t.Fatalf("%v %v", m, err)
	}

	if _, err := persisted.New(persisted.Options{Only: true}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("allow-list mode started without a manifest")
	}
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	missing := filepath.Join(t.TempDir(), "none.json")
	if _, err := persisted.LoadManifest(missing, schema); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("a missing manifest: %v", err)
	}
	if _, err := persisted.New(persisted.Options{ManifestPath: missing, TTL: time.Hour, MaxBytes: 100, Entries: 10}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a manifest path without its manifest was accepted")
	}
	path := filepath.Join(t.TempDir(), "m.json")
	_ = os.WriteFile(path, []byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"me","body":"query Me { viewer { id } }"}]}`), 0o644)
	good, err := persisted.LoadManifest(path, schema)
	if err != nil || good.Len() != 1 {
		t.Fatalf("a good manifest: %v", err)
	}
	if ext, err := persisted.New(persisted.Options{Only: true, ManifestPath: path, Manifest: good}, nil, slog.New(slog.DiscardHandler)); err != nil || ext.ExtensionName() != "PersistedQueriesOnly" {
		t.Errorf("a manifest: %v %v", ext, err)
	}
	if ext, err := persisted.New(persisted.Options{ManifestPath: path, Manifest: good, TTL: time.Hour, MaxBytes: 100, Entries: 10}, nil, slog.New(slog.DiscardHandler)); err != nil || ext.(persisted.APQ).Manifest != good {
		t.Errorf("a manifest without allow-list mode: %v %v", ext, err)
	}
}

// TestManifestValidatesAgainstTheSchema: every document of a manifest is
// checked against the schema when it is loaded; the first that fails is
// named by its id, with the schema's complaint.
func TestManifestValidatesAgainstTheSchema(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, tc := range []struct{ body, err string }{
		{"query X { nosuchfield }", `operation bad-1 does not validate against the schema: line 1, column 11: Cannot query field "nosuchfield" on type "Query".`},
		{"query X { viewer { id }", "operation bad-1 does not validate against the schema: line 1, column 24: Expected Name, found <EOF>"},
		{"query X($n: Int) { viewer { id } }", `operation bad-1 does not validate against the schema: line 1, column 9: Variable "$n" is never used in operation "X".`},
	} {
		path := filepath.Join(t.TempDir(), "m.json")
		b, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": []any{
			map[string]any{"id": "good-1", "body": "query Me { viewer { id } }"}, map[string]any{"id": "bad-1", "body": tc.body}}})
		_ = os.WriteFile(path, b, 0o644)
		if _, err := persisted.LoadManifest(path, schema); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.err)
		}
	}
}

// TestManifestServedBesideAPQ: without allow-list mode a manifest's
// documents are served by their id (any id, not only a SHA-256), the
// document sent with an id must be its own, and other hashes go on to the
// automatic persisted queries.
func TestManifestServedBesideAPQ(t *testing.T) {
	m, err := persisted.ParseManifest([]byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"me-v1","body":"query Me { viewer { id } }"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := persisted.APQ{Store: persisted.NewMemory(10), MaxBytes: 1 << 10, Manifest: m}
	byID := func(id, query string) (*graphql.RawParams, error) {
		p := &graphql.RawParams{Query: query, Extensions: map[string]any{"persistedQuery": map[string]any{"version": 1.0, "sha256Hash": id}}}
		if err := a.MutateOperationParameters(context.Background(), p); err != nil {
			return p, err
		}
		return p, nil
	}
	if p, err := byID("me-v1", ""); err != nil || p.Query != "query Me { viewer { id } }" {
		t.Errorf("by id: %q %v", p.Query, err)
	}
	if p, err := byID("me-v1", "query Me { viewer { id } }"); err != nil || p.Query != "query Me { viewer { id } }" {
		t.Errorf("by id with its document: %q %v", p.Query, err)
	}
	if _, err := byID("me-v1", "query Other { viewer { login } }"); err == nil || !strings.Contains(err.Error(), "extensions.persistedQuery: the document sent is not the one of this id") {
		t.Errorf("by id with another document: %v", err)
	}
	if _, err := byID("not-listed", ""); err == nil || !strings.Contains(err.Error(), "64 lowercase hex digits") {
		t.Errorf("an unlisted id goes on to the automatic persisted queries' check: %v", err)
	}
}

// BenchmarkStoreGet is what finding a document costs a hash-only request:
// the in-memory LRU, and a GETEX on the Redis the replicas share (local
// here, so mostly the round trip).
func BenchmarkStoreGet(b *testing.B) {
	ctx := context.Background()
	doc := "query Tickets { tickets(first: 20) { edges { node { id number title status priority } } } }"
	stores := map[string]func(b *testing.B) graphql.Cache[string]{
		"memory": func(*testing.B) graphql.Cache[string] { return persisted.NewMemory(1000) },
		"redis": func(b *testing.B) graphql.Cache[string] {
			c := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr()})
			if err := c.Ping(ctx).Err(); err != nil {
				testdb.SkipOrFail(b, "Redis is not reachable at %s: %v", testdb.RedisAddr(), err)
			}
			b.Cleanup(func() { c.Close() })
			return &persisted.Redis{Client: c, TTL: time.Hour, Log: slog.New(slog.DiscardHandler)}
		},
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			s := stores[name](b)
			h := randomHash()
			s.Add(ctx, h, doc)
			if r, ok := s.(*persisted.Redis); ok {
				b.Cleanup(func() { r.Client.Del(ctx, persisted.KeyPrefix+h) })
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := s.Get(ctx, h); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}

// TestRedisHungIsPrompt: a Redis that accepts connections and never
// answers costs a lookup and a registration events.StateTimeout each, not
// the client's read timeouts and retries: the document is then asked for in
// full.
func TestRedisHungIsPrompt(t *testing.T) {
	opt, err := events.ClientOptions("redis://" + testdb.SilentRedis(t)) // serve's client
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var logs syncbuf.Buffer
	s := &persisted.Redis{Client: rdb, TTL: time.Hour, Log: slog.New(slog.NewTextHandler(&logs, nil)), Mute: reqlog.Mute{Period: time.Hour}}
	start := time.Now()
	s.Add(context.Background(), strings.Repeat("a", 64), "{ __typename }")
	_, ok := s.Get(context.Background(), strings.Repeat("a", 64))
	if took := time.Since(start); ok || took > 20*events.StateTimeout {
		t.Fatalf("found %v after %v (the bound is %v each)", ok, took, events.StateTimeout)
	}
	// Both failed; an outage is told once, not at every request.
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for two failures, want 1:\n%s", n, logs.String())
	}
}
