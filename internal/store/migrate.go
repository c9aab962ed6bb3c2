package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"socdesk/ent"
	"socdesk/internal/jobs"
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
// PostgreSQL, ent's automatic migration on the embedded SQLite database;
// then the data backfills written in Go (backfillPivotKeys), and the job
// queue's tables, with River's own migrations (jobs.Migrate).
// It returns the schema version after migrating (0 on SQLite).
func (s *Store) Migrate(ctx context.Context) (uint, error) {
	v, err := s.migrate(ctx)
	if err != nil {
		return v, err
	}
	if err := s.backfillPivotKeys(ctx); err != nil {
		return v, err
	}
	if err := Seed(ctx, s.DB); err != nil {
		return v, err
	}
	return v, jobs.Migrate(ctx, s.Dialect, s.DB)
}

// sqliteTaskTriggers are the SQLite half of the triggers the PostgreSQL
// migrations create, whoever asks, socdesk's own work and plain SQL too:
// no deletion of a task (tasks_schedules_policies); no change of kind to or
// from TASK (task_kind_is_fixed), or a task made a ticket could be deleted
// and a ticket made a task would be off the TASK workflow.
var sqliteTaskTriggers = []string{
	`CREATE TRIGGER IF NOT EXISTS tasks_are_never_deleted BEFORE DELETE ON tickets
FOR EACH ROW WHEN OLD.kind = 'TASK' BEGIN SELECT RAISE(ABORT, 'tasks are never deleted'); END`,
	`CREATE TRIGGER IF NOT EXISTS task_kind_is_fixed BEFORE UPDATE OF kind ON tickets
FOR EACH ROW WHEN OLD.kind <> NEW.kind AND 'TASK' IN (OLD.kind, NEW.kind)
BEGIN SELECT RAISE(ABORT, 'a task stays a task and a ticket never becomes one'); END`,
}

func (s *Store) migrate(ctx context.Context) (uint, error) {
	if s.Dialect != "postgres" {
		if err := s.Client.Schema.Create(ctx); err != nil {
			return 0, err
		}
		if err := s.sqliteDataMigrations(ctx); err != nil {
			return 0, err
		}
		for _, trigger := range sqliteTaskTriggers {
			if _, err := s.DB.ExecContext(ctx, trigger); err != nil {
				return 0, fmt.Errorf("the tasks' triggers: %w", err)
			}
		}
		if err := s.alignSQLiteTicketNumbers(ctx); err != nil {
			return 0, err
		}
		// Statistics for the planner (SQLite keeps none by itself): without
		// them it serves a site-scoped list filtered by an IP from the
		// site's index, scanning the site's tickets, instead of the IP's.
		// optimize with 0x10002 analyzes what changed much since (bounded
		// by analysis_limit), cheap at every start.
		_, err := s.DB.ExecContext(ctx, `PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002`)
		return 0, err
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

// alignSQLiteTicketNumbers makes the first ticket #1 on SQLite too. Ticket
// numbers count from the start of the tickets' id range; PostgreSQL's
// identity starts at it, but SQLite's AUTOINCREMENT starts one past the
// sequence value ent sets, which is the range start. Only on a database
// that never had a ticket: once the only ticket is deleted the sequence
// looks the same, but its number lives on in the history.
func (s *Store) alignSQLiteTicketNumbers(ctx context.Context) error {
	first := ent.TicketIDFromNumber(1)
	_, err := s.DB.ExecContext(ctx,
		`UPDATE sqlite_sequence SET seq = ? WHERE name = 'tickets' AND seq = ? AND NOT EXISTS (SELECT 1 FROM tickets)
		   AND NOT EXISTS (SELECT 1 FROM ticket_events)`, // a deleted ticket's number is never handed out again
		first-1, first)
	return err
}

// seeds are the rows a database always has, which migrations insert and
// Seed puts back when missing (a database emptied by hand, or by tests):
// the default business calendar.
var seeds = []string{"migrations/20261204194427_service_levels_default_calendar.up.sql"}

// Seed inserts the rows of seeds that are missing; it is idempotent.
func Seed(ctx context.Context, db *sql.DB) error {
	for _, name := range seeds {
		b, err := Migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// sqliteDataMigrations are the versioned migrations that change data, not
// the schema (which ent's automatic migration keeps on SQLite), written
// portably and run on SQLite at every start: each is idempotent.
var dataMigrations = []string{"migrations/20261201210000_fold_logins.up.sql"}

func (s *Store) sqliteDataMigrations(ctx context.Context) error {
	for _, name := range dataMigrations {
		b, err := Migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := s.DB.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
