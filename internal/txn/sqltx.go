package txn

import (
	"context"
	"database/sql"
)

// The *sql.Tx under Run's transaction, for what writes with database/sql in
// the same transaction as ent (the job queue's inserts). ent's Tx does not
// expose it, so Run puts an empty slot in the context it opens the
// transaction with, and the store's driver (store.Open) fills it with the
// *sql.Tx it began.

// sqlSlot holds the *sql.Tx of one Run.
type sqlSlot struct{ tx *sql.Tx }

type sqlSlotKey struct{}

// SetSQLTx records tx as the *sql.Tx of the transaction Run is opening with
// ctx. It is the store driver's half; outside Run (no slot in ctx) it does
// nothing, and a slot once filled keeps its first transaction (any other
// one begun with Run's context is not Run's).
func SetSQLTx(ctx context.Context, tx *sql.Tx) {
	if s, ok := ctx.Value(sqlSlotKey{}).(*sqlSlot); ok && s.tx == nil {
		s.tx = tx
	}
}

// SQLTx is the *sql.Tx of the Run transaction in ctx, or nil when ctx has
// none (or the database was not opened by store.Open, whose driver
// provides it).
func SQLTx(ctx context.Context) *sql.Tx {
	if s, ok := ctx.Value(sqlSlotKey{}).(*sqlSlot); ok {
		return s.tx
	}
	return nil
}
