// Package store opens socdesk's database — PostgreSQL when a URL is given, an
// embedded SQLite file otherwise — and brings its schema up to date.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq" // PostgreSQL driver "postgres"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite" // pure-Go SQLite driver "sqlite"

	"socdesk/ent"
	_ "socdesk/ent/runtime" // hooks and privacy policies
	"socdesk/internal/tracing"
)

// Store is an open database.
type Store struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string // dialect.Postgres or dialect.SQLite
}

// Options say which database to open.
type Options struct {
	// DatabaseURL selects PostgreSQL (postgres://…); empty selects SQLite.
	DatabaseURL string
	// SQLitePath is the SQLite file used without a DatabaseURL, or a
	// "file:…?…" DSN.
	SQLitePath string
	// MaxOpenConns bounds the PostgreSQL connection pool.
	MaxOpenConns int
	// StatementTimeout bounds every PostgreSQL statement (0: the server's).
	StatementTimeout time.Duration
	// Driver wraps the ent driver, e.g. to count queries in tests.
	Driver func(dialect.Driver) dialect.Driver
	// Tracer, if set, gives SQL statements spans (see tracing.OpenDB).
	Tracer trace.TracerProvider
}

// sqlOpen opens the database/sql handle, traced when o says so.
func (o Options) sqlOpen(driverName, dsn string) (*sql.DB, error) {
	if o.Tracer != nil {
		return tracing.OpenDB(o.Tracer, driverName, dsn)
	}
	return sql.Open(driverName, dsn)
}

// Open opens the database; it does not migrate it.
func Open(ctx context.Context, o Options) (*Store, error) {
	var (
		db   *sql.DB
		name string
		err  error
	)
	if o.DatabaseURL != "" {
		if !strings.HasPrefix(o.DatabaseURL, "postgres://") && !strings.HasPrefix(o.DatabaseURL, "postgresql://") {
			return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL")
		}
		name = dialect.Postgres
		dsn := o.DatabaseURL
		// lib/pq passes unknown URL parameters to the server as settings.
		set := func(setting string) {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			dsn += sep + setting
		}
		if o.StatementTimeout > 0 && !strings.Contains(dsn, "statement_timeout") {
			set(fmt.Sprintf("statement_timeout=%d", o.StatementTimeout.Milliseconds()))
		}
		// No JIT: it pays off for long analytic queries only, and its cost
		// thresholds take the user rule's EXISTS clauses (authz.Scope) at
		// their per-row worst, so a non-admin's users count spent a second
		// compiling a query that runs in milliseconds.
		if !strings.Contains(dsn, "jit=") {
			set("jit=off")
		}
		if db, err = o.sqlOpen("postgres", dsn); err != nil {
			return nil, err
		}
		n := o.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	} else {
		name = dialect.SQLite
		dsn := o.SQLitePath
		if strings.HasPrefix(dsn, "file:") { // a DSN already, e.g. an in-memory database
			dsn += "&" + SQLitePragmas
		} else {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o750); err != nil {
				return nil, err
			}
			dsn = "file:" + dsn + "?" + SQLitePragmas
		}
		if db, err = o.sqlOpen("sqlite", dsn); err != nil {
			return nil, err
		}
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	var drv dialect.Driver = sqlTxDriver{entsql.OpenDB(name, db)}
	if o.Driver != nil {
		drv = o.Driver(drv)
	}
	return &Store{Client: ent.NewClient(ent.Driver(drv)), DB: db, Dialect: name}, nil
}

func init() {
	// SQLite's own lower() folds ASCII only; ent's case-insensitive matching
	// (LOWER(column) LIKE lower(keyword)) needs Unicode folding, as on PostgreSQL.
	if err := sqlite.RegisterDeterministicScalarFunction("lower", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return bytes.ToLower(v), nil
		}
		return args[0], nil
	}); err != nil {
		panic(err)
	}
}

// SQLitePragmas are the connection settings socdesk needs from SQLite:
// foreign keys (ent's migration requires them), WAL, a busy timeout, and
// immediate write transactions so that concurrent writers queue instead of
// failing.
const SQLitePragmas = "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"

// Close closes the database.
func (s *Store) Close() error { return s.Client.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }
