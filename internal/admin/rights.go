package admin

import (
	"context"
	"slices"

	"socdesk/ent"
	"socdesk/ent/apitoken"
	"socdesk/ent/site"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/events"
	"socdesk/internal/txn"
)

// WatchRights makes every write through client that changes who may see
// what publish, once it has committed, a rights wake-up (events.Rights)
// naming the users it affects, whoever makes the write (this service, a
// command, a test): a user's role, permissions, sites or tokens changed or
// the user deleted, a site deleted or its users changed, a token deleted or
// its expiry changed. The sessions of those users are then checked again at
// once on every replica, and their cached authentications dropped.
func WatchRights(client *ent.Client, broker events.Broker) {
	client.User.Use(rightsHook(broker, usersAffected))
	client.Site.Use(rightsHook(broker, siteUsersAffected))
	client.APIToken.Use(rightsHook(broker, tokenUsersAffected))
}

// rightsHook wakes up the users affected(m) after m has committed. They are
// found before m runs (a deletion takes its rows away).
func rightsHook(broker events.Broker, affected func(context.Context, ent.Mutation) ([]int, error)) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if m.Op().Is(ent.OpCreate) {
				return next.Mutate(ctx, m) // nobody has a session with it yet
			}
			ids, err := affected(authz.System(ctx), m)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil || len(ids) == 0 {
				return v, err
			}
			wake := func(ctx context.Context) { events.Notify(ctx, broker, events.Rights(ids...)) }
			if ent.TxFromContext(ctx) != nil {
				txn.AfterCommit(ctx, wake)
				return v, nil
			}
			// A transaction's client used with a context that does not carry it.
			var tx *ent.Tx
			if t, ok := m.(interface{ Tx() (*ent.Tx, error) }); ok {
				tx, _ = t.Tx() // an error: not in a transaction
			}
			txn.OnCommit(ctx, tx, wake)
			return v, nil
		})
	}
}

// touches reports whether m sets or clears one of fields or changes one of
// edges.
func touches(m ent.Mutation, fields, edges []string) bool {
	for _, f := range append(m.Fields(), m.ClearedFields()...) {
		if slices.Contains(fields, f) {
			return true
		}
	}
	for _, e := range slices.Concat(m.AddedEdges(), m.RemovedEdges(), m.ClearedEdges()) {
		if slices.Contains(edges, e) {
			return true
		}
	}
	return false
}

func usersAffected(ctx context.Context, m ent.Mutation) ([]int, error) {
	um := m.(*ent.UserMutation)
	if !m.Op().Is(ent.OpDelete|ent.OpDeleteOne) &&
		!touches(m, []string{user.FieldRole, user.FieldPermissions}, []string{user.EdgeSites, user.EdgeTokens}) {
		return nil, nil
	}
	return um.IDs(ctx)
}

func siteUsersAffected(ctx context.Context, m ent.Mutation) ([]int, error) {
	sm := m.(*ent.SiteMutation)
	if !m.Op().Is(ent.OpDelete|ent.OpDeleteOne) && !sm.UsersCleared() {
		return slices.Concat(sm.UsersIDs(), sm.RemovedUsersIDs()), nil
	}
	ids, err := sm.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return sm.Client().User.Query().Where(user.HasSitesWith(site.IDIn(ids...))).IDs(ctx)
}

func tokenUsersAffected(ctx context.Context, m ent.Mutation) ([]int, error) {
	tm := m.(*ent.APITokenMutation)
	// Using a token writes its last use: no change of rights.
	if !m.Op().Is(ent.OpDelete|ent.OpDeleteOne) && !touches(m, []string{apitoken.FieldExpiresAt}, nil) {
		return nil, nil
	}
	ids, err := tm.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return tm.Client().User.Query().Where(user.HasTokensWith(apitoken.IDIn(ids...))).IDs(ctx)
}
