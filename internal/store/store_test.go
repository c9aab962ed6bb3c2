package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"

	"socdesk/ent/migrate"
	"socdesk/ent/privacy"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// TestMigrationsMatchSchema fails when the ent schema has changed without a
// new migration (run `make migration NAME=…`).
func TestMigrationsMatchSchema(t *testing.T) {
	dev := scratch(t)
	dir := t.TempDir()
	files, err := store.Migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := store.Migrations.ReadFile("migrations/" + f.Name())
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := sqltool.NewGolangMigrateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.NamedDiff(context.Background(), dev, "pending", schema.WithDir(d), schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres), schema.WithFormatter(sqltool.GolangMigrateFormatter),
		schema.WithDropColumn(true), schema.WithDropIndex(true)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(dir)
	if len(after) != len(files) {
		for _, f := range after {
			if b, err := os.ReadFile(filepath.Join(dir, f.Name())); err == nil && filepath.Ext(f.Name()) == ".sql" {
				t.Logf("%s:\n%s", f.Name(), b)
			}
		}
		t.Fatal("the ent schema and the migrations differ: run `make migration NAME=…` and commit the result")
	}
}

// TestMigrateIsIdempotent: applying the migrations to an up-to-date database
// changes nothing and reports the same version.
func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: scratch(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v1, err := st.Migrate(ctx)
	if err != nil || v1 == 0 {
		t.Fatalf("first migration: version %d, %v", v1, err)
	}
	v2, err := st.Migrate(ctx)
	if err != nil || v2 != v1 {
		t.Fatalf("second migration: version %d, %v (first %d)", v2, err, v1)
	}
	var n int
	if err := st.DB.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'ticket_title_trgm'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("trigram index: %d %v", n, err)
	}
}

func TestSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "socdesk.db")
	for range 2 { // a second start finds the schema in place
		st, err := store.Open(ctx, store.Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestTicketNumbersStartAtOne on both databases, and survive restarts.
func TestTicketNumbersStartAtOne(t *testing.T) {
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			if _, err := st.Migrate(ctx); err != nil { // a restart migrates again
				t.Fatal(err)
			}
			c := st.Client
			site := c.Site.Create().SetName("s").SaveX(ctx)
			cat := c.Category.Create().SetName("c").SaveX(ctx)
			for want := 1; want <= 2; want++ {
				tk := c.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
				if tk.Number() != want {
					t.Fatalf("ticket number %d, want %d", tk.Number(), want)
				}
				if _, err := st.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	if _, err := store.Open(context.Background(), store.Options{DatabaseURL: "mysql://x"}); err == nil {
		t.Fatal("a mysql URL was accepted")
	}
}

// scratch creates an empty database that the test drops at its end.
func scratch(t *testing.T) string {
	t.Helper()
	testdb.PostgresURL(t) // skips or fails when PostgreSQL is missing
	u, drop, err := store.CreateDatabase(context.Background(), testdb.AdminURL(), fmt.Sprintf("socdesk_test_scratch_%d", rand.Uint32()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return u
}

func TestStatementTimeout(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: testdb.PostgresURL(t), StatementTimeout: 1234 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got string
	if err := st.DB.QueryRowContext(ctx, "SHOW statement_timeout").Scan(&got); err != nil || got != "1234ms" {
		t.Fatalf("statement_timeout = %q, %v", got, err)
	}
}

// TestTicketNumbersNeverRepeat: on SQLite, a restart after the only ticket
// was deleted must not hand its number out again (the history keeps it).
func TestTicketNumbersNeverRepeat(t *testing.T) {
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			c := st.Client
			site := c.Site.Create().SetName("s").SaveX(ctx)
			cat := c.Category.Create().SetName("c").SaveX(ctx)
			tk := c.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
			c.TicketEvent.Create().SetKind(ticketevent.KindDELETED).SetTicketNumber(tk.Number()).SetSiteID(site.ID).ExecX(ctx)
			c.Ticket.DeleteOne(tk).ExecX(ctx)
			if _, err := st.Migrate(ctx); err != nil { // a restart
				t.Fatal(err)
			}
			next := c.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
			if next.Number() != tk.Number()+1 {
				t.Fatalf("after deleting #%d and restarting, the next ticket is #%d", tk.Number(), next.Number())
			}
		})
	}
}
