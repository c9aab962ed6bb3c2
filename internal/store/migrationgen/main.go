// Command migrationgen writes a new versioned PostgreSQL migration with the
// difference between the committed migrations and the ent schema, computed by
// Atlas on a scratch database of a local PostgreSQL server.
//
//	go run ./internal/store/migrationgen NAME
//
// A migration edited by hand (a trigger, a backfill) gets its checksum
// again with -rehash, which rewrites atlas.sum.
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	atlas "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"

	"socdesk/ent/migrate"
	"socdesk/internal/store"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: migrationgen NAME")
	}
	if os.Args[1] == "-rehash" {
		if err := rehash(); err != nil {
			log.Fatal(err)
		}
		return
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
	dev, drop, err := store.CreateDatabase(ctx, admin, fmt.Sprintf("socdesk_migrationgen_%d", rand.Uint32()))
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

var _ atlas.Dir = (*sqltool.GolangMigrateDir)(nil)

// rehash rewrites atlas.sum from the migration files as they are.
func rehash() error {
	dir, err := sqltool.NewGolangMigrateDir("internal/store/migrations")
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return atlas.WriteSumFile(dir, sum)
}
