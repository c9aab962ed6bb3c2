package tickets

import (
	"context"

	"socdesk/ent"
)

// Follower is what Service.Followers calls with a change's history entries,
// in its transaction.
type Follower = func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error

// Chain is a Follower calling each non-nil one of fs in turn, stopping at
// the first error (which rolls the change back): several parts follow the
// history (notifications, reputation lookups …).
func Chain(fs ...Follower) Follower {
	return func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
		for _, f := range fs {
			if f == nil {
				continue
			}
			if err := f(ctx, tx, evs); err != nil {
				return err
			}
		}
		return nil
	}
}
