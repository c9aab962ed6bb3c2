package store

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Migrations are the versioned PostgreSQL migrations, generated from the ent
// schema with Atlas (see `make migration`).
//
//go:embed migrations
var Migrations embed.FS

// Extensions are the PostgreSQL extensions the schema needs (trigram indexes
// for keyword search); they are created before migrating.
var Extensions = []string{"pg_trgm"}

// Migrate brings the schema up to date: the versioned migrations on
// PostgreSQL, ent's automatic migration on the embedded SQLite database.
// It returns the schema version after migrating (0 on SQLite).
func (s *Store) Migrate(ctx context.Context) (uint, error) {
	if s.Dialect != "postgres" {
		return 0, s.Client.Schema.Create(ctx)
	}
	for _, ext := range Extensions {
		if _, err := s.DB.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS "+ext); err != nil {
			return 0, fmt.Errorf("creating extension %s: %w", ext, err)
		}
	}
	src, err := iofs.New(Migrations, "migrations")
	if err != nil {
		return 0, err
	}
	drv, err := postgres.WithInstance(s.DB, &postgres.Config{})
	if err != nil {
		return 0, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		return 0, err
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrating: %w", err)
	}
	v, dirty, err := m.Version()
	if err != nil {
		return 0, err
	}
	if dirty {
		return v, fmt.Errorf("schema version %d is dirty: a migration failed half-way; fix it by hand", v)
	}
	return v, nil
}
