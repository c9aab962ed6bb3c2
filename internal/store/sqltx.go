package store

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"socdesk/internal/txn"
)

// sqlTxDriver is ent's SQL driver handing the *sql.Tx of each transaction
// it begins to txn.Run (txn.SQLTx), so that River's inserts join the
// change's own transaction.
type sqlTxDriver struct{ *entsql.Driver }

func (d sqlTxDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

func (d sqlTxDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	// entsql's Tx runs its statements on the *sql.Tx (Conn.ExecQuerier).
	if t, ok := tx.(*entsql.Tx); ok {
		if stx, ok := t.ExecQuerier.(*sql.Tx); ok {
			txn.SetSQLTx(ctx, stx)
		}
	}
	return tx, nil
}
