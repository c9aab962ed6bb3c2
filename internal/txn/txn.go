// Package txn is the one way socdesk runs a write: in one database
// transaction that is rolled back on an error or a panic, with what must
// follow the write (publications, wake-ups) run only once it has committed.
//
// fn's context carries the transaction (ent.TxFromContext, and
// ent.FromContext gives its client), so the policies and hooks that run
// inside see it, as entgql.Transactioner arranges for a GraphQL mutation;
// SQLTx gives its *sql.Tx, for writes in it that do not go through ent.
package txn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"socdesk/ent"
)

// Step is work in a transaction.
type Step func(ctx context.Context, tx *ent.Tx) error

// Run runs first, then fn, in one transaction of client and commits it; on
// an error or a panic it rolls back. Once committed it runs, in order, what
// AfterCommit registered meanwhile.
func Run(ctx context.Context, client *ent.Client, fn Step, first ...Step) (err error) {
	ctx = context.WithValue(ctx, sqlSlotKey{}, &sqlSlot{}) // filled by the store's driver: SQLTx
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	st := &state{tx: tx}
	ctx = context.WithValue(ent.NewContext(ent.NewTxContext(ctx, tx), tx.Client()), stateKey{}, st)
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	for _, step := range slices.Concat(first, []Step{fn}) {
		if err := step(ctx, tx); err != nil {
			return errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// What follows a write must not be cancelled with its request: the
	// write is done.
	actx := context.WithoutCancel(ctx)
	for _, f := range st.take() {
		f(actx)
	}
	return nil
}

// Write runs fn in one transaction (Run) and returns what it made,
// unwrapped from the transaction: its edges are then loaded by the client,
// as GraphQL asks for them after the commit.
func Write[T interface{ Unwrap() T }](ctx context.Context, client *ent.Client, fn func(ctx context.Context, tx *ent.Tx) (T, error)) (T, error) {
	var out T
	err := Run(ctx, client, func(ctx context.Context, tx *ent.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out.Unwrap(), nil
}

// AfterCommit runs f once the transaction in ctx has committed, and never
// if it rolls back. Without a transaction in ctx, the write it follows has
// committed already (a statement on its own): f runs at once.
func AfterCommit(ctx context.Context, f func(context.Context)) {
	OnCommit(ctx, ent.TxFromContext(ctx), f)
}

// OnCommit is AfterCommit for the transaction tx (nil: none), for hooks,
// which know their mutation's transaction (m.Tx()) whatever their context.
func OnCommit(ctx context.Context, tx *ent.Tx, f func(context.Context)) {
	if tx == nil {
		f(context.WithoutCancel(ctx))
		return
	}
	if st, ok := ctx.Value(stateKey{}).(*state); ok && st.tx == tx {
		st.mu.Lock()
		st.after = append(st.after, f)
		st.mu.Unlock()
		return
	}
	// A transaction opened elsewhere than Run.
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			f(context.WithoutCancel(ctx))
			return nil
		})
	})
}

type stateKey struct{}

// state is what Run keeps of its transaction.
type state struct {
	tx    *ent.Tx
	mu    sync.Mutex
	after []func(context.Context)
}

func (s *state) take() []func(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.after
	s.after = nil
	return out
}

// ignoreDone drops the error of rolling back a transaction fn already ended.
func ignoreDone(err error) error {
	if err != nil && strings.Contains(err.Error(), "already been committed or rolled back") {
		return nil
	}
	return err
}
