// Command migrationgen writes a new versioned PostgreSQL migration with the
// difference between the committed migrations and the ent schema, computed by
// Atlas on a scratch database of a local PostgreSQL server.
//
//	go run ./internal/store/migrationgen NAME
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"os"

	atlas "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"

	"socdesk/ent/migrate"
	"socdesk/internal/store"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: migrationgen NAME")
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, name string) error {
	admin := os.Getenv("SOCDESK_DEV_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	dev, drop, err := scratchDB(ctx, admin)
	if err != nil {
		return err
	}
	defer drop()
	dir, err := sqltool.NewGolangMigrateDir("internal/store/migrations")
	if err != nil {
		return err
	}
	return migrate.NamedDiff(ctx, dev, name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(sqltool.GolangMigrateFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
}

// scratchDB creates an empty database with socdesk's extensions and returns
// its URL and a function that drops it.
func scratchDB(ctx context.Context, adminURL string) (string, func(), error) {
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("socdesk_migrationgen_%d", rand.Uint32())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, _ := url.Parse(adminURL)
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err == nil {
		for _, ext := range store.Extensions {
			if _, err = db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS "+ext); err != nil {
				break
			}
		}
		db.Close()
	}
	drop := func() {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	if err != nil {
		drop()
		return "", nil, err
	}
	return u.String(), drop, nil
}

var _ atlas.Dir = (*sqltool.GolangMigrateDir)(nil)
