package tickets

import (
	"context"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/memo"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketlink"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// MaxMemoBytes bounds a memo.
const MaxMemoBytes = 256 << 10

// history appends one entry to the ticket t's history in tx; memos, links
// and watchers record their changes this way without changing the ticket.
func history(ctx context.Context, tx *ent.Tx, t *ent.Ticket, kind ticketevent.Kind, changes ...schematype.FieldChange) ([]*ent.TicketEvent, error) {
	ev, err := record(ctx, tx, t, kind, changes, "")
	return []*ent.TicketEvent{ev}, err
}

// Annotate appends to the history of ticket id an entry that fn describes,
// without changing the ticket: what happens beside it (a propagation, a
// playbook run and their progress). fn runs in the entry's transaction, the
// ticket read and locked, and may write there too; the viewer must see the
// ticket (NOT_FOUND naming field otherwise), and the system context always
// does. A nil kind appends nothing.
func (s *Service) Annotate(ctx context.Context, field string, id int, fn func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error)) error {
	return s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		t, err := s.visible(ctx, tx, field, id)
		if err != nil {
			return nil, err
		}
		kind, changes, err := fn(ctx, tx, t)
		if err != nil || kind == "" {
			return nil, err
		}
		return history(ctx, tx, t, kind, changes...)
	})
}

// Progress runs write (what happens beside ticket id: a delivery's or a
// playbook run's progress, in the system context) in a transaction that
// appends the entry of kind and changes to the ticket's history; once the
// ticket is deleted (id nil, or gone), write runs alone.
func (s *Service) Progress(ctx context.Context, id *int, write func(ctx context.Context, tx *ent.Tx) error, kind ticketevent.Kind, changes ...schematype.FieldChange) error {
	alone := func() error { return txn.Run(ctx, s.Client, write) }
	if id == nil {
		return alone()
	}
	err := s.Annotate(ctx, "id", *id, func(ctx context.Context, tx *ent.Tx, _ *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		return kind, changes, write(ctx, tx)
	})
	if e, ok := errs.As(err); ok && e.Code == errs.NotFound {
		return alone()
	}
	return err
}

// CheckCanSee fails, naming field, unless every user of ids may see tickets
// of siteID: nobody is sent, assigned or shown a ticket they may not see.
func (s *Service) CheckCanSee(ctx context.Context, field string, ids []int, siteID int) error {
	return s.checkCanSee(ctx, field, ids, siteID)
}

// CheckUsers fails, naming field, unless every id is a user's.
func (s *Service) CheckUsers(ctx context.Context, field string, ids []int) error {
	return s.checkRefs(ctx, map[string][]int{field: ids}, user.Table)
}

// visible reads and locks a ticket the viewer may see, or NOT_FOUND naming
// field. Holding the ticket's row lock serializes memos, links and watchers
// of one ticket as it does its other changes, so check-then-write is safe.
func (s *Service) visible(ctx context.Context, tx *ent.Tx, field string, id int) (*ent.Ticket, error) {
	t, err := s.lock(ctx, tx, id)
	if e, ok := errs.As(err); ok && e.Code == errs.NotFound {
		return nil, &errs.Error{Code: errs.NotFound, Field: field, Message: "no ticket with this id"}
	}
	return t, err
}

func validateMemo(body string) error {
	switch {
	case strings.TrimSpace(body) == "":
		return errs.Invalid("body", "is required")
	case len(body) > MaxMemoBytes:
		return errs.Invalid("body", "must be at most %d bytes", MaxMemoBytes)
	case !utf8.ValidString(body):
		return errs.Invalid("body", "must be valid UTF-8")
	}
	return nil
}

// AddMemo records a response action or finding on a ticket, authored by the
// viewer. Its assignees, approvers and editors write memos (the policy).
func (s *Service) AddMemo(ctx context.Context, ticketID int, body string, format memo.Format) (*ent.Memo, error) {
	if err := validateMemo(body); err != nil {
		return nil, err
	}
	var m *ent.Memo
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		t, err := s.visible(ctx, tx, "ticketID", ticketID)
		if err != nil {
			return nil, err
		}
		if m, err = tx.Memo.Create().SetTicketID(t.ID).SetAuthorID(viewer.FromContext(ctx).UserID).
			SetBody(body).SetFormat(format).Save(ctx); err != nil {
			return nil, err
		}
		return history(ctx, tx, t, ticketevent.KindMEMO_ADDED, schematype.FieldChange{Field: schematype.ChangeMemo, To: m.ID})
	})
	if err != nil {
		return nil, err
	}
	return m.Unwrap(), nil
}

// EditMemo changes a memo; only its author may (the policy).
func (s *Service) EditMemo(ctx context.Context, id int, body string, format *memo.Format) (*ent.Memo, error) {
	if err := validateMemo(body); err != nil {
		return nil, err
	}
	var m *ent.Memo
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		q := tx.Memo.Query().Where(memo.ID(id)).WithTicket()
		if s.Dialect == dialect.Postgres {
			q.ForUpdate() // concurrent edits queue, and each records what it replaced
		}
		old, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			return nil, errs.New(errs.NotFound, "no memo with this id")
		} else if err != nil {
			return nil, err
		}
		u := tx.Memo.UpdateOne(old).SetBody(body)
		if old.Body == body && (format == nil || *format == old.Format) {
			// Nothing to save, so no hook runs: the policy still decides.
			if err := memo.Policy.EvalMutation(ctx, u.Mutation()); err != nil {
				return nil, err
			}
			m = old
			return nil, nil
		}
		if format != nil {
			u.SetFormat(*format)
		}
		if m, err = u.Save(ctx); err != nil {
			return nil, err
		}
		return history(ctx, tx, old.Edges.Ticket, ticketevent.KindMEMO_EDITED,
			schematype.FieldChange{Field: schematype.ChangeMemo, From: old.ID, To: old.ID},
			schematype.FieldChange{Field: schematype.ChangeBody, From: old.Body, To: body})
	})
	if err != nil {
		return nil, err
	}
	return m.Unwrap(), nil
}

// Link relates two tickets; the link shows on both, and both histories
// record it.
func (s *Service) Link(ctx context.Context, fromID, toID int, kind ticketlink.Kind) (*ent.TicketLink, error) {
	if fromID == toID {
		return nil, errs.Invalid("toID", "a ticket cannot be linked to itself")
	}
	var l *ent.TicketLink
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		from, to, err := s.lockPair(ctx, tx, fromID, toID)
		if err != nil {
			return nil, err
		}
		same := ticketlink.And(ticketlink.FromID(fromID), ticketlink.ToID(toID), ticketlink.KindEQ(kind))
		if kind == ticketlink.KindRELATED { // related is symmetric
			same = ticketlink.Or(same, ticketlink.And(ticketlink.FromID(toID), ticketlink.ToID(fromID), ticketlink.KindEQ(kind)))
		}
		exists, err := tx.TicketLink.Query().Where(same).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if exists {
			return nil, errs.New(errs.Conflict, "the tickets are already linked so")
		}
		if kind == ticketlink.KindDUPLICATE_OF { // no ticket is a duplicate of its own duplicate
			back, err := tx.TicketLink.Query().Where(ticketlink.FromID(toID), ticketlink.ToID(fromID), ticketlink.KindEQ(kind)).Exist(ctx)
			if err != nil {
				return nil, err
			}
			if back {
				return nil, errs.Invalid("toID", "#%d is already a duplicate of #%d", to.Number(), from.Number())
			}
		}
		if l, err = tx.TicketLink.Create().SetFromID(fromID).SetToID(toID).SetKind(kind).
			SetCreatedByID(viewer.FromContext(ctx).UserID).Save(ctx); err != nil {
			return nil, err
		}
		return linkHistory(ctx, tx, ticketevent.KindLINKED, l, from, to)
	})
	if err != nil {
		return nil, err
	}
	return l.Unwrap(), nil
}

// lockPair locks two tickets in id order, so that two links made at once
// between the same tickets, either way round, queue instead of deadlocking.
func (s *Service) lockPair(ctx context.Context, tx *ent.Tx, fromID, toID int) (from, to *ent.Ticket, err error) {
	first, second := fromID, toID
	firstField, secondField := "fromID", "toID"
	if second < first {
		first, second, firstField, secondField = second, first, secondField, firstField
	}
	a, err := s.visible(ctx, tx, firstField, first)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.visible(ctx, tx, secondField, second)
	if err != nil {
		return nil, nil, err
	}
	if a.ID == fromID {
		return a, b, nil
	}
	return b, a, nil
}

// Unlink removes a link, recording it on both tickets.
func (s *Service) Unlink(ctx context.Context, id int) error {
	return s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		l, err := tx.TicketLink.Query().Where(ticketlink.ID(id)).WithFrom().WithTo().Only(ctx)
		if ent.IsNotFound(err) {
			return nil, errs.New(errs.NotFound, "no link with this id")
		} else if err != nil {
			return nil, err
		}
		if err := tx.TicketLink.DeleteOne(l).Exec(ctx); err != nil {
			return nil, err
		}
		return linkHistory(ctx, tx, ticketevent.KindUNLINKED, l, l.Edges.From, l.Edges.To)
	})
}

func linkHistory(ctx context.Context, tx *ent.Tx, kind ticketevent.Kind, l *ent.TicketLink, from, to *ent.Ticket) ([]*ent.TicketEvent, error) {
	var out []*ent.TicketEvent
	for _, side := range []struct {
		t         *ent.Ticket
		other     *ent.Ticket
		direction string
	}{{from, to, "OUTGOING"}, {to, from, "INCOMING"}} {
		link := map[string]any{"kind": l.Kind, "ticket": side.other.Number(), "direction": side.direction}
		var ch schematype.FieldChange
		if kind == ticketevent.KindLINKED {
			ch = schematype.FieldChange{Field: schematype.ChangeLink, To: link}
		} else {
			ch = schematype.FieldChange{Field: schematype.ChangeLink, From: link}
		}
		evs, err := history(ctx, tx, side.t, kind, ch)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// Links lists the links of a ticket from both ends, oldest first.
func (s *Service) Links(ctx context.Context, t *ent.Ticket) ([]*ent.TicketLink, error) {
	return s.Client.TicketLink.Query().
		Where(ticketlink.Or(ticketlink.FromID(t.ID), ticketlink.ToID(t.ID))).
		WithFrom().WithTo().WithCreatedBy().
		Order(ticketlink.ByID(sql.OrderAsc())).
		All(ctx)
}

// Watch makes userID (the viewer, when nil) watch a ticket with the given
// notification preference, or changes the preference of a watcher.
func (s *Service) Watch(ctx context.Context, ticketID int, userID *int, notify ticketwatcher.Notify) (*ent.TicketWatcher, error) {
	uid := viewer.FromContext(ctx).UserID
	if userID != nil {
		uid = *userID
	}
	var w *ent.TicketWatcher
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		t, err := s.visible(ctx, tx, "id", ticketID)
		if err != nil {
			return nil, err
		}
		if userID != nil { // once the ticket is found (see assign)
			if err := s.checkRefs(ctx, map[string][]int{"userID": {uid}}, user.Table); err != nil {
				return nil, err
			}
		}
		if err := s.mayWatch(ctx, tx, t.ID, uid); err != nil {
			return nil, err
		}
		if err := s.checkCanSee(ctx, "userID", []int{uid}, t.SiteID); err != nil {
			return nil, err
		}
		old, err := tx.TicketWatcher.Query().Where(ticketwatcher.TicketID(t.ID), ticketwatcher.UserID(uid)).Only(ctx)
		switch {
		case err == nil:
			if old.Notify == notify {
				w = old
				return nil, nil
			}
			if w, err = tx.TicketWatcher.UpdateOne(old).SetNotify(notify).Save(ctx); err != nil {
				return nil, err
			}
			return history(ctx, tx, t, ticketevent.KindWATCHED,
				schematype.FieldChange{Field: schematype.ChangeWatcher, From: map[string]any{"user": uid, "notify": old.Notify}, To: map[string]any{"user": uid, "notify": notify}})
		case !ent.IsNotFound(err):
			return nil, err
		}
		if w, err = tx.TicketWatcher.Create().SetTicketID(t.ID).SetUserID(uid).SetNotify(notify).Save(ctx); err != nil {
			return nil, err
		}
		return history(ctx, tx, t, ticketevent.KindWATCHED,
			schematype.FieldChange{Field: schematype.ChangeWatcher, To: map[string]any{"user": uid, "notify": notify}})
	})
	if err != nil {
		return nil, err
	}
	return w.Unwrap(), nil
}

// mayWatch asks the data layer's policy whether the viewer may make (or
// unmake, or change) userID's watch of the ticket, before anything is read or
// left unchanged: FORBIDDEN, not a quiet success or NOT_FOUND.
func (s *Service) mayWatch(ctx context.Context, tx *ent.Tx, ticketID, userID int) error {
	return ticketwatcher.Policy.EvalMutation(ctx, tx.TicketWatcher.Create().SetTicketID(ticketID).SetUserID(userID).Mutation())
}

// Unwatch stops userID (the viewer, when nil) watching a ticket.
func (s *Service) Unwatch(ctx context.Context, ticketID int, userID *int) error {
	uid := viewer.FromContext(ctx).UserID
	if userID != nil {
		uid = *userID
	}
	return s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		t, err := s.visible(ctx, tx, "id", ticketID)
		if err != nil {
			return nil, err
		}
		if err := s.mayWatch(ctx, tx, t.ID, uid); err != nil {
			return nil, err
		}
		n, err := tx.TicketWatcher.Delete().Where(ticketwatcher.TicketID(t.ID), ticketwatcher.UserID(uid)).Exec(ctx)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errs.New(errs.NotFound, "the user does not watch this ticket")
		}
		return history(ctx, tx, t, ticketevent.KindUNWATCHED, schematype.FieldChange{Field: schematype.ChangeWatcher, From: map[string]any{"user": uid}})
	})
}
