package txn_test

import (
	"context"
	"errors"
	"testing"

	"socdesk/ent"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/txn"
)

// TestSQLTx: inside Run, SQLTx is Run's own transaction — a row written
// through ent is visible through it before commit, and gone with it on a
// rollback; outside Run there is none.
func TestSQLTx(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			if txn.SQLTx(sys()) != nil {
				t.Fatal("SQLTx outside Run")
			}
			rollback := errors.New("roll back")
			err := txn.Run(sys(), st.Client, func(ctx context.Context, tx *ent.Tx) error {
				if err := tx.Tag.Create().SetName("inside").Exec(ctx); err != nil {
					return err
				}
				stx := txn.SQLTx(ctx)
				if stx == nil {
					t.Fatal("no *sql.Tx inside Run")
				}
				var n int
				if err := stx.QueryRowContext(ctx, "SELECT count(*) FROM tags WHERE name = 'inside'").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 1 {
					t.Errorf("the *sql.Tx sees %d rows written through ent, want 1", n)
				}
				return rollback
			})
			if !errors.Is(err, rollback) {
				t.Fatal(err)
			}
			var n int
			if err := st.DB.QueryRow("SELECT count(*) FROM tags WHERE name = 'inside'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("after rollback: %d rows, %v", n, err)
			}
		})
	}
}
