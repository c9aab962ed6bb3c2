// Package testdb gives tests real databases: a fresh PostgreSQL database per
// test package (migrated with the committed migrations, dropped at the end)
// and fresh in-memory SQLite databases.
//
// Without a reachable PostgreSQL server, PostgreSQL tests are skipped with a
// message saying so — unless SOCDESK_REQUIRE_SERVICES=1 (CI sets it), which
// turns every such skip into a failure.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	_ "github.com/lib/pq"

	"socdesk/internal/store"
)

// AdminURL is the PostgreSQL server tests use (SOCDESK_TEST_DATABASE_URL).
func AdminURL() string {
	if u := os.Getenv("SOCDESK_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisAddr is the Redis server tests use (SOCDESK_TEST_REDIS_ADDR).
func RedisAddr() string {
	if a := os.Getenv("SOCDESK_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Required reports whether missing services fail tests instead of skipping them.
func Required() bool { return os.Getenv("SOCDESK_REQUIRE_SERVICES") == "1" }

// SkipOrFail skips t because a service is missing, or fails it when services
// are required.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (SOCDESK_REQUIRE_SERVICES=1)", msg)
	}
	t.Skipf("SKIPPED: %s", msg)
}

var pkg struct {
	once sync.Once
	url  string
	err  error
	drop func()
}

// PostgresURL returns the URL of this test package's database, creating and
// migrating it on first use; it is dropped by Cleanup (call it from TestMain).
func PostgresURL(t testing.TB) string {
	t.Helper()
	pkg.once.Do(func() { pkg.url, pkg.drop, pkg.err = create() })
	if pkg.err != nil {
		SkipOrFail(t, "PostgreSQL is not reachable at %s: %v", AdminURL(), pkg.err)
	}
	return pkg.url
}

// Cleanup drops the package's database, if one was created.
func Cleanup() {
	if pkg.drop != nil {
		pkg.drop()
	}
}

func create() (string, func(), error) {
	ctx := context.Background()
	wd, _ := os.Getwd()
	u, drop, err := store.CreateDatabase(ctx, AdminURL(), fmt.Sprintf("socdesk_test_%s_%d", sanitize(filepath.Base(wd)), rand.Uint32()))
	if err != nil {
		return "", nil, err
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: u})
	if err == nil {
		_, err = st.Migrate(ctx)
		st.Close()
	}
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("migrating the test database: %w", err)
	}
	return u, drop, nil
}

// Main runs a test package's tests and drops its database afterwards:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Options adjust the store a test opens.
type Options = store.Options

// Postgres opens this package's PostgreSQL database, emptied of all rows.
func Postgres(t testing.TB, o Options) *store.Store {
	t.Helper()
	o.DatabaseURL = PostgresURL(t)
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := Truncate(context.Background(), st.DB); err != nil {
		t.Fatal(err)
	}
	return st
}

// Truncate empties every table of socdesk's schema and restarts identities,
// so every test sees ticket #1 first, then puts back the rows every
// database has (store.Seed). The migrations' own records (socdesk's
// schema_migrations, River's river_migration) stay.
func Truncate(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'river_migration')`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		tables = append(tables, `"`+n+`"`)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err = db.ExecContext(ctx, "TRUNCATE "+strings.Join(tables, ", ")+" RESTART IDENTITY CASCADE"); err != nil {
		return err
	}
	return store.Seed(ctx, db) // the rows every database has (the default calendar)
}

// SQLite opens a fresh in-memory SQLite database with the schema created.
func SQLite(t testing.TB, o Options) *store.Store {
	t.Helper()
	o.DatabaseURL = ""
	o.SQLitePath = fmt.Sprintf("file:memdb%d?mode=memory&cache=shared", rand.Uint64())
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// Backends are the databases socdesk runs on.
var Backends = []string{dialect.Postgres, dialect.SQLite}

// Open opens a store of the named backend.
func Open(t testing.TB, backend string, o Options) *store.Store {
	if backend == dialect.Postgres {
		return Postgres(t, o)
	}
	return SQLite(t, o)
}

// SilentRedis returns the address of a server that accepts connections and
// never answers: a Redis that has hung, or a network that drops packets.
// It stops when t ends.
func SilentRedis(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read nor written
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
