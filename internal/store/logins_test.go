package store_test

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"testing"

	"entgo.io/ent/dialect"

	"socdesk/internal/devtools/testdb"
	"socdesk/internal/store"
)

// TestFoldLoginsMigration: logins written before logins ignored case are
// folded at migration (issue 9, 1l); of those equal but for case, the oldest
// keeps the login and the others get their id appended, so the unique index
// holds. On PostgreSQL through the versioned migration, on SQLite at start.
func TestFoldLoginsMigration(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			st := testdb.Open(t, b, testdb.Options{})
			var ids []int
			for _, login := range []string{"Ana", "bob", "ana", "ANA", "Carol.X"} {
				// Straight SQL: ent would fold them.
				q := `INSERT INTO users (login, display_name, email, role, permissions, created_at, updated_at) VALUES ($1, 'x', '', 'ANALYST', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`
				var id int
				if err := st.DB.QueryRowContext(ctx, q, login).Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if b == dialect.Postgres {
				// As a database migrated before the fold: the migrations
				// after it undone (newest first), the version set back.
				downs, err := fs.Glob(store.Migrations, "migrations/*.down.sql")
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(downs)
				slices.Reverse(downs)
				for _, f := range downs {
					if path.Base(f) <= "20261201210000_fold_logins.down.sql" {
						break
					}
					sql, err := fs.ReadFile(store.Migrations, f)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := st.DB.ExecContext(ctx, string(sql)); err != nil {
						t.Fatalf("%s: %v", f, err)
					}
				}
				if _, err := st.DB.ExecContext(ctx, `UPDATE schema_migrations SET version = 20261122013204`); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := st.DB.QueryContext(ctx, `SELECT login FROM users ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					t.Fatal(err)
				}
				got = append(got, l)
			}
			want := []string{"ana", "bob", fmt.Sprintf("ana-%d", ids[2]), fmt.Sprintf("ana-%d", ids[3]), "carol.x"}
			if !slices.Equal(got, want) {
				t.Fatalf("logins %v, want %v", got, want)
			}
			if _, err := st.Migrate(ctx); err != nil { // and again: nothing more changes
				t.Fatal(err)
			}
		})
	}
}
