package txn_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"socdesk/ent"
	"socdesk/ent/tag"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/txn"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

// TestRun: a write commits and what follows it runs after, in order, with a
// context its request's end does not cancel; an error or a panic rolls the
// write back and nothing follows it.
func TestRun(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			client := testdb.Open(t, b, testdb.Options{}).Client
			exists := func(name string) bool {
				t.Helper()
				ok, err := client.Tag.Query().Where(tag.Name(name)).Exist(sys())
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			var ran []string
			ctx, cancel := context.WithCancel(sys())
			err := txn.Run(ctx, client, func(ctx context.Context, tx *ent.Tx) error {
				if ent.TxFromContext(ctx) != tx || ent.FromContext(ctx) == nil {
					t.Error("fn's context does not carry the transaction")
				}
				txn.AfterCommit(ctx, func(ctx context.Context) {
					ran = append(ran, "first")
					cancel() // the request ends: what follows its write goes on
					if ctx.Err() != nil {
						t.Error("an after-commit action got a cancelled context")
					}
					if !exists("committed") {
						t.Error("an after-commit action ran before the commit")
					}
				})
				txn.AfterCommit(ctx, func(context.Context) { ran = append(ran, "second") })
				return ent.FromContext(ctx).Tag.Create().SetName("committed").Exec(ctx)
			}, func(ctx context.Context, tx *ent.Tx) error {
				ran = append(ran, "setup")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ran, []string{"setup", "first", "second"}) {
				t.Fatalf("ran %v", ran)
			}

			ran = nil
			boom := errors.New("boom")
			err = txn.Run(sys(), client, func(ctx context.Context, tx *ent.Tx) error {
				txn.AfterCommit(ctx, func(context.Context) { ran = append(ran, "after a failure") })
				if err := tx.Tag.Create().SetName("failed").Exec(ctx); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) || exists("failed") || len(ran) > 0 {
				t.Fatalf("a failed write: err %v, kept %v, ran %v", err, exists("failed"), ran)
			}

			func() {
				defer func() {
					if recover() == nil {
						t.Error("the panic was swallowed")
					}
				}()
				_ = txn.Run(sys(), client, func(ctx context.Context, tx *ent.Tx) error {
					txn.AfterCommit(ctx, func(context.Context) { ran = append(ran, "after a panic") })
					tx.Tag.Create().SetName("panicked").ExecX(ctx)
					panic("in the write")
				})
			}()
			if exists("panicked") || len(ran) > 0 {
				t.Fatalf("a panicking write: kept %v, ran %v", exists("panicked"), ran)
			}

			// Without a transaction the write is a statement on its own,
			// committed already.
			txn.AfterCommit(sys(), func(context.Context) { ran = append(ran, "at once") })
			if !slices.Equal(ran, []string{"at once"}) {
				t.Fatalf("ran %v", ran)
			}
		})
	}
}
