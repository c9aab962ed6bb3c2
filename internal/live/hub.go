package live

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/schematype"
	"socdesk/ent/tag"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/config"
	"socdesk/internal/errs"
	"socdesk/internal/events"
	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
)

// Position is a place in the stream of history entries: entries are read in
// (transaction id, entry id) order. On PostgreSQL an entry is read only once
// no history writer older than its transaction is still running (see
// horizonSQL), so an entry that commits late never lands behind a position
// already handed out. SQLite serializes its writers: Tx is 0 there and ids
// follow commit order.
type Position struct {
	Tx int64
	ID int
}

func (p Position) after(q Position) bool {
	return p.Tx > q.Tx || (p.Tx == q.Tx && p.ID > q.ID)
}

// Hub streams the ticket history to this replica's subscribers. The broker
// only wakes it up ("there is news"); it reads what is new from the history
// once, loads the changed tickets once, and hands each subscriber the
// changes that match its filter and that it may see, evaluated in memory:
// no query per subscriber. It also reads on a timer (the relay), so changes
// whose publication was lost (a process died between commit and publish,
// Redis was down) still reach everyone, in order.
type Hub struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string
	Broker  events.Broker
	Log     *slog.Logger
	// Poll is how often the history is read without a wake-up.
	Poll time.Duration
	// QueueSize bounds the changes waiting for one subscriber; past it the
	// subscriber is dropped with RESUME_REQUIRED.
	QueueSize int
	// MaxPerUser bounds one user's live subscriptions, over all connections.
	MaxPerUser int

	mu      sync.Mutex
	pos     Position
	running chan struct{} // closed once Run has read the end of the history
	subs    map[*sub]struct{}
	watches map[*watch]struct{}
	perUser map[int]int
	wake    chan struct{}

	// What the hub has done since it started (see Counts).
	entries  atomic.Uint64 // history entries read live
	relayed  atomic.Uint64 // changes queued to live subscribers
	replayed atomic.Uint64 // changes replayed from the history to resuming subscribers
	dropped  atomic.Uint64 // subscribers dropped for falling behind
}

const (
	batchSize = 500
	// retryUnsettled is how soon the hub reads again when entries exist
	// behind a transaction still running.
	retryUnsettled = 20 * time.Millisecond
)

const schemaTicketView = schematype.PermissionTicketView

// sub is one ticketEvents subscription.
type sub struct {
	v    *viewer.Viewer
	f    *tickets.Filter
	out  chan *Change
	pos  Position // the last entry considered for it
	last string   // the cursor of the last change queued
	done bool     // its stream is over (out is closed, or about to be by catchUp)
	// catching: it is replaying the history (catchUp owns out meanwhile).
	catching bool
	failed   func(error)
}

// watch is one subscriber to "something matching my filter changed" (the
// trend subscription).
type watch struct {
	v     *viewer.Viewer
	f     *tickets.Filter
	dirty chan struct{}
}

func (h *Hub) init() {
	if h.subs == nil {
		h.subs = map[*sub]struct{}{}
		h.watches = map[*watch]struct{}{}
		h.perUser = map[int]int{}
		h.wake = make(chan struct{}, 1)
		h.running = make(chan struct{})
	}
	// Settings left unset take the configuration's defaults.
	if h.Poll <= 0 {
		h.Poll = config.Default().LivePoll
	}
	if h.QueueSize <= 0 {
		h.QueueSize = config.Default().LiveQueue
	}
	if h.MaxPerUser <= 0 {
		h.MaxPerUser = config.Default().LiveMaxPerUser
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
}

// Run reads the history until ctx ends. It starts at the end of the
// history as it is now.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	h.init()
	h.mu.Unlock()
	head, err := h.head(ctx)
	for err != nil {
		h.Log.Warn("live: reading the end of the history; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(h.Poll):
		}
		head, err = h.head(ctx)
	}
	h.mu.Lock()
	h.pos = head
	close(h.running)
	h.mu.Unlock()
	if h.Broker != nil { // history wake-ups hurry the next read
		go events.Listen(ctx, h.Broker, events.TopicHistory, h.Poll, h.Log, func(events.Wake) { h.Wake() })
	}
	tick := time.NewTicker(h.Poll)
	defer tick.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-tick.C:
		case <-retry.C:
		}
		unsettled, err := h.pump(ctx)
		if err != nil && ctx.Err() == nil {
			h.Log.Warn("live: reading the history", "err", err)
		}
		if unsettled {
			retry.Reset(retryUnsettled)
		}
	}
}

// Wake makes the hub read the history now.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// head returns the position of the last settled entry.
func (h *Hub) head(ctx context.Context) (Position, error) {
	var p Position
	q, args := `SELECT tx, id FROM ticket_events ORDER BY tx DESC, id DESC LIMIT 1`, []any(nil)
	if h.Dialect == dialect.Postgres {
		hz, err := h.horizon(ctx)
		if err != nil {
			return p, err
		}
		q, args = `SELECT tx, id FROM ticket_events WHERE tx < $1 ORDER BY tx DESC, id DESC LIMIT 1`, []any{hz}
	}
	err := h.DB.QueryRowContext(ctx, q, args...).Scan(&p.Tx, &p.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return Position{}, nil
	}
	return p, err
}

// horizonSQL is the transaction id below which the history is settled on
// PostgreSQL: the oldest transaction id of the history writers still
// running in this database (see events.RegisterWriterSQL), or, when none is,
// the snapshot's xmax (no transaction id at or above it has committed).
// pg_stat_activity gives 32-bit ids; they are widened against xmax by their
// signed 32-bit distance to it (a writer's id may be above it: the snapshot
// is taken before pg_stat_activity is read).
const horizonSQL = `
WITH cur AS (SELECT (pg_snapshot_xmax(pg_current_snapshot())::text)::bigint AS x)
SELECT least(cur.x, min(cur.x + ((((a.backend_xid::text)::bigint - (cur.x & 4294967295) + 2147483648) & 4294967295) - 2147483648)))
FROM cur
LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1
  AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LEFT JOIN pg_stat_activity a ON a.pid = l.pid AND a.backend_xid IS NOT NULL
GROUP BY cur.x`

// horizon runs horizonSQL. It must run before, not with, the read it
// bounds: a writer that commits between the two is then either below the
// horizon and visible to the read, or at or above it and left for later.
func (h *Hub) horizon(ctx context.Context) (int64, error) {
	var hz int64
	err := h.DB.QueryRowContext(ctx, horizonSQL, events.WriterLockKey).Scan(&hz)
	return hz, err
}

// read returns up to batchSize settled entries after p, in stream order,
// and whether entries exist after them that are not settled yet.
func (h *Hub) read(ctx context.Context, p Position) ([]*ent.TicketEvent, bool, error) {
	q, args := `SELECT tx, id, true FROM ticket_events WHERE (tx, id) > ($1, $2) ORDER BY tx, id LIMIT $3`, []any{p.Tx, p.ID, batchSize}
	if h.Dialect == dialect.Postgres {
		hz, err := h.horizon(ctx)
		if err != nil {
			return nil, false, err
		}
		q = `SELECT tx, id, tx < $4 FROM ticket_events WHERE (tx, id) > ($1, $2) ORDER BY tx, id LIMIT $3`
		args = append(args, hz)
	}
	rows, err := h.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var (
		ids       []int
		tx        = map[int]int64{}
		unsettled bool
	)
	for rows.Next() {
		var (
			t       int64
			id      int
			settled bool
		)
		if err := rows.Scan(&t, &id, &settled); err != nil {
			return nil, false, err
		}
		if !settled {
			unsettled = true
			break
		}
		ids = append(ids, id)
		tx[id] = t
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	rows.Close()
	if len(ids) == 0 {
		return nil, unsettled, nil
	}
	evs, err := h.Client.TicketEvent.Query().Where(ticketevent.IDIn(ids...)).All(authz.System(ctx))
	if err != nil {
		return nil, false, err
	}
	for _, ev := range evs {
		ev.Tx = tx[ev.ID]
	}
	slices.SortFunc(evs, func(a, b *ent.TicketEvent) int {
		if a.Tx != b.Tx {
			return int(a.Tx - b.Tx)
		}
		return a.ID - b.ID
	})
	return evs, unsettled, nil
}

// item is an entry with what subscribers are matched against: the ticket
// just before and just after the change, as the history says, so that
// whether a change concerns a subscriber is the same live and in any
// replay, however the ticket changed since (moved, deleted).
type item struct {
	ev     *ent.TicketEvent
	pos    Position
	before *tickets.Snapshot // the ticket just before the change; nil before its creation
	after  *tickets.Snapshot // just after it; nil once deleted
	known  bool              // before and after are known
	now    *ent.Ticket       // the ticket as it is now, without edges; nil once deleted
}

// prepare works out, for each entry, the ticket just before and just after
// its change: it reads, in one snapshot, the changed tickets as they are
// now and every entry of theirs since the first in evs, and walks each
// ticket's history back, from its row or, for a ticket deleted since, from
// the state its DELETED entry records. A ticket's entries are in the order
// of its changes by id (its row lock serializes them). Entries are matched
// by ticket number: those of a deleted ticket have no ticket id.
func (h *Hub) prepare(ctx context.Context, evs []*ent.TicketEvent) ([]item, error) {
	first := map[int]int{} // ticket number → its first entry in evs
	for _, ev := range evs {
		if f, ok := first[ev.TicketNumber]; !ok || ev.ID < f {
			first[ev.TicketNumber] = ev.ID
		}
	}
	now := map[int]*ent.Ticket{}          // by number
	current := map[int]tickets.Snapshot{} // the same, as the filter sees it
	var since []*ent.TicketEvent
	if len(first) > 0 {
		numbers := slices.Collect(maps.Keys(first))
		ids := make([]int, len(numbers))
		for i, n := range numbers {
			ids[i] = ent.TicketIDFromNumber(n)
		}
		oldest := slices.Min(slices.Collect(maps.Values(first)))
		err := h.snapshot(ctx, func(ctx context.Context, c *ent.Client) error {
			only := func(q *ent.UserQuery) { q.Select(user.FieldID) }
			ts, err := c.Ticket.Query().Where(ticket.IDIn(ids...)).
				WithAssignees(only).WithApprovers(only).WithTags(func(q *ent.TagQuery) { q.Select(tag.FieldID) }).
				WithPolicies(func(q *ent.CompliancePolicyQuery) { q.Select(compliancepolicy.FieldID) }).
				WithWatchers(func(q *ent.TicketWatcherQuery) { q.Select(ticketwatcher.FieldTicketID, ticketwatcher.FieldUserID) }).
				All(ctx)
			if err != nil {
				return err
			}
			for _, t := range ts {
				now[t.Number()] = t
			}
			since, err = c.TicketEvent.Query().Where(ticketevent.TicketNumberIn(numbers...), ticketevent.IDGTE(oldest)).
				Order(ent.Desc(ticketevent.FieldID)).All(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		for n, t := range now {
			current[n] = tickets.SnapshotOf(t)
			// Read in the snapshot's transaction: bound again to the
			// client, for the edges each subscriber's selection loads
			// under its own viewer.
			stripped := *t.Unwrap()
			stripped.Edges = ent.TicketEdges{}
			now[n] = &stripped
		}
	}
	type around struct{ before, after *tickets.Snapshot }
	states := map[int]around{} // entry id → the ticket around it
	walked := map[int]*tickets.Snapshot{}
	started := map[int]bool{}
	for _, ev := range since {
		n := ev.TicketNumber
		if ev.ID < first[n] {
			continue
		}
		s := walked[n]
		if !started[n] {
			started[n] = true
			if snap, ok := current[n]; ok {
				s = &snap
			}
		}
		var a around
		switch ev.Kind {
		case ticketevent.KindDELETED:
			// Walking back from the state it recorded: also right when the
			// number was used again after it.
			if b, ok := tickets.SnapshotAtDeletion(ev.Changes); ok {
				a.before = &b
			}
		case ticketevent.KindCREATED:
			a.after = s
		default:
			if s != nil {
				b := s.Undo(ev.Changes)
				a.before, a.after = &b, s
			}
		}
		if a.before != nil || a.after != nil {
			states[ev.ID] = a
		}
		walked[n] = a.before
	}
	items := make([]item, len(evs))
	for i, ev := range evs {
		it := item{ev: ev, pos: Position{ev.Tx, ev.ID}}
		if st, ok := states[ev.ID]; ok {
			it.before, it.after, it.known = st.before, st.after, true
		}
		it.now = now[ev.TicketNumber]
		items[i] = it
	}
	return items, nil
}

// exists reports whether p is the position of an entry of the history.
func (h *Hub) exists(ctx context.Context, p Position) (bool, error) {
	var n int
	err := h.DB.QueryRowContext(ctx, `SELECT count(*) FROM ticket_events WHERE id = $1 AND tx = $2`, p.ID, p.Tx).Scan(&n)
	return n > 0, err
}

// snapshot runs fn on one consistent view of the database.
func (h *Hub) snapshot(ctx context.Context, fn func(context.Context, *ent.Client) error) error {
	ctx = authz.System(ctx)
	var (
		tx  *ent.Tx
		err error
	)
	if h.Dialect == dialect.Postgres {
		tx, err = h.Client.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	} else {
		tx, err = h.Client.Tx(ctx) // SQLite: one writer at a time, and this briefly is it
	}
	if err != nil {
		return err
	}
	if err := fn(ctx, tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// inView reports whether the ticket in state t is in the view of v with f:
// on a site v sees, and matching f.
func inView(v *viewer.Viewer, f *tickets.Filter, t *tickets.Snapshot) bool {
	return t != nil && authz.ScopeOf(v).SeesTicket(t.SiteID) && f.Matches(*t)
}

// concerns reports whether the change is news to v following f: the ticket
// is in its view before or after the change (entering or leaving the view
// is news too).
func (it *item) concerns(v *viewer.Viewer, f *tickets.Filter) bool {
	if !v.Has(schemaTicketView) {
		return false
	}
	if !it.known { // not in the history walked (not expected): by its site
		return authz.ScopeOf(v).SeesTicket(it.ev.SiteID)
	}
	return inView(v, f, it.before) || inView(v, f, it.after)
}

// changeFor is what v, following f, is sent of a change that concerns it:
// closed when v may not see the ticket as the change left it (moved to a
// site v does not see); with the ticket as it is now only if v sees it
// there.
func (it *item) changeFor(v *viewer.Viewer, f *tickets.Filter) *Change {
	c := &Change{ev: it.ev, InView: inView(v, f, it.after)}
	last := it.after
	if last == nil { // deleted: as it was
		last = it.before
	}
	if last == nil || !authz.ScopeOf(v).SeesTicket(last.SiteID) {
		c.closed = true
		return c
	}
	if it.now != nil && authz.ScopeOf(v).SeesTicket(it.now.SiteID) {
		c.Ticket = it.now
	}
	return c
}

// pump reads everything settled since the hub's position and hands it out.
func (h *Hub) pump(ctx context.Context) (unsettled bool, err error) {
	for {
		h.mu.Lock()
		from := h.pos
		h.mu.Unlock()
		evs, more, err := h.read(ctx, from)
		if err != nil {
			return false, err
		}
		if len(evs) > 0 {
			items, err := h.prepare(ctx, evs)
			if err != nil {
				return false, err
			}
			h.deliver(items)
		}
		if len(evs) < batchSize {
			return more, nil
		}
	}
}

// deliver hands items to the subscribers in step with the hub and moves the
// hub's position past them.
func (h *Hub) deliver(items []item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for i := range items {
			it := &items[i]
			if !it.pos.after(s.pos) {
				continue // it had this one already (it caught up past the hub)
			}
			s.pos = it.pos
			if it.concerns(s.v, s.f) {
				h.send(s, it.changeFor(s.v, s.f))
			}
		}
	}
	for w := range h.watches {
		if slices.ContainsFunc(items, func(it item) bool { return it.concerns(w.v, w.f) }) {
			select {
			case w.dirty <- struct{}{}:
			default:
			}
		}
	}
	h.pos = items[len(items)-1].pos
	h.entries.Add(uint64(len(items)))
}

// send queues c for s without blocking; a full queue drops s. Called with
// h.mu held.
func (h *Hub) send(s *sub, c *Change) {
	if s.done {
		return
	}
	select {
	case s.out <- c:
		s.last = c.Cursor()
		h.relayed.Add(1)
	default:
		h.dropped.Add(1)
		s.done = true
		delete(h.subs, s)
		err := errs.New(errs.ResumeRequired, "this subscriber fell %d changes behind and was dropped: subscribe again with after set to the cursor of the last change received", h.QueueSize)
		s.failed(&ResumeError{Err: err, Cursor: s.last})
		close(s.out)
	}
}

// ResumeError is the error of a subscriber dropped for falling behind.
type ResumeError struct {
	Err    *errs.Error
	Cursor string
}

func (e *ResumeError) Error() string { return e.Err.Error() }
func (e *ResumeError) Unwrap() error { return e.Err }

// Subscribe starts a ticketEvents stream for v: with after, first every
// matching change after that cursor, read from the history, then live.
// failed is told why the stream ends early (it is closed after).
func (h *Hub) Subscribe(ctx context.Context, v *viewer.Viewer, f *tickets.Filter, after *string, failed func(error)) (<-chan *Change, error) {
	if err := admit(v, f); err != nil {
		return nil, err
	}
	var from *Position
	if after != nil {
		p, err := DecodeCursor(*after)
		if err != nil {
			return nil, err
		}
		from = &p
	}
	h.mu.Lock()
	h.init()
	running := h.running
	h.mu.Unlock()
	select { // a subscription started with the server waits for the hub
	case <-running:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if from != nil && *from != (Position{}) {
		// A cursor names an entry of the history (the zero position is its
		// start); one made up between entries is not a place in the stream.
		if ok, err := h.exists(ctx, *from); err != nil {
			return nil, err
		} else if !ok {
			return nil, invalidCursor()
		}
	}
	// A new stream starts after what the history holds now (the hub may not
	// have read all of it yet: it skips what the subscriber is past).
	head, err := h.head(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.pos.after(head) {
		head = h.pos
	}
	if from != nil && from.after(head) {
		// Not a cursor the stream handed out: following it would deliver
		// nothing until the history caught up with it.
		h.mu.Unlock()
		return nil, invalidCursor()
	}
	if err := h.reserve(v.UserID); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	s := &sub{v: v, f: f, out: make(chan *Change, h.QueueSize), pos: head, failed: failed}
	if from != nil {
		s.pos, s.last, s.catching = *from, *after, true
	} else {
		h.subs[s] = struct{}{}
	}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() { h.unsubscribe(s) })
	if from != nil {
		go h.catchUp(ctx, s)
	}
	return s.out, nil
}

// unsubscribe forgets s once its stream ends.
func (h *Hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release(s.v.UserID)
	delete(h.subs, s)
	if !s.done {
		s.done = true
		if !s.catching {
			close(s.out)
		}
	}
}

// catchUp replays the history after s's position to s, waiting for the
// client as it goes, then joins s to the live subscribers once it has
// reached the hub (or gone past it: the hub then skips what s already had).
func (h *Hub) catchUp(ctx context.Context, s *sub) {
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s.catching { // it did not join: the stream is over
			s.catching, s.done = false, true
			close(s.out)
		}
	}()
	for {
		evs, _, err := h.read(ctx, s.pos)
		var items []item
		if err == nil {
			items, err = h.prepare(ctx, evs)
		}
		if err != nil {
			if ctx.Err() == nil {
				h.Log.Warn("live: replaying the history", "err", err)
				s.failed(errs.New(errs.Internal, "replaying the history failed; subscribe again with after"))
			}
			return
		}
		for i := range items {
			it := &items[i]
			if it.concerns(s.v, s.f) {
				c := it.changeFor(s.v, s.f)
				select {
				case s.out <- c:
					s.last = c.Cursor()
					h.replayed.Add(1)
				case <-ctx.Done():
					return
				}
			}
			s.pos = it.pos
		}
		if len(evs) < batchSize {
			h.mu.Lock()
			if s.done {
				h.mu.Unlock()
				return
			}
			if !h.pos.after(s.pos) {
				s.catching = false
				h.subs[s] = struct{}{}
				h.mu.Unlock()
				return
			}
			h.mu.Unlock()
			if len(evs) == 0 {
				// The hub is ahead on entries not yet settled for this
				// read: wait for them rather than spin.
				select {
				case <-ctx.Done():
					return
				case <-time.After(retryUnsettled):
				}
			}
		}
	}
}

// Watch reports on the returned channel, coalesced, whenever a change v may
// see that matches f before or after it passes; it ends with ctx, or stop.
func (h *Hub) Watch(ctx context.Context, v *viewer.Viewer, f *tickets.Filter) (dirty <-chan struct{}, stop func(), err error) {
	if err := admit(v, f); err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if err := h.reserve(v.UserID); err != nil {
		return nil, nil, err
	}
	w := &watch{v: v, f: f, dirty: make(chan struct{}, 1)}
	h.watches[w] = struct{}{}
	unwatch := context.AfterFunc(ctx, func() { h.unwatch(w) })
	return w.dirty, func() {
		if unwatch() {
			h.unwatch(w)
		}
	}, nil
}

func (h *Hub) unwatch(w *watch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.watches[w]; !ok {
		return
	}
	delete(h.watches, w)
	h.release(w.v.UserID)
}

// reserve counts one more live subscription of the user, refusing one past
// MaxPerUser. Called with h.mu held.
func (h *Hub) reserve(userID int) error {
	if h.perUser[userID] >= h.MaxPerUser {
		return errs.New(errs.RateLimited, "at most %d live subscriptions per user", h.MaxPerUser)
	}
	h.perUser[userID]++
	return nil
}

// release counts one live subscription of the user less. Called with h.mu
// held.
func (h *Hub) release(userID int) {
	if n := h.perUser[userID]; n <= 1 {
		delete(h.perUser, userID)
	} else {
		h.perUser[userID] = n - 1
	}
}

// admit checks that v may follow changes through f.
func admit(v *viewer.Viewer, f *tickets.Filter) error {
	if _, err := f.Predicates(); err != nil {
		return err
	}
	if !v.Has(schemaTicketView) {
		return errs.New(errs.Forbidden, "viewing tickets needs the TICKET_VIEW permission")
	}
	return nil
}

// Stats are the hub's current load.
type Stats struct {
	Subscribers, Watchers int
	// Queued are the changes waiting in subscribers' queues; MaxQueued is
	// the longest queue (one of QueueSize drops its subscriber).
	Queued, MaxQueued int
}

// Stats returns the hub's current load.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Subscribers: len(h.subs), Watchers: len(h.watches)}
	for s := range h.subs {
		n := len(s.out)
		st.Queued += n
		st.MaxQueued = max(st.MaxQueued, n)
	}
	return st
}

// Counts are what the hub has done since it started: the history entries
// it read live, the changes it queued to live subscribers (Relayed) and
// replayed from the history to subscribers resuming after a cursor, and
// the subscribers it dropped with RESUME_REQUIRED for falling behind.
type Counts struct{ Read, Relayed, Replayed, Dropped uint64 }

// Counts returns what the hub has done since it started.
func (h *Hub) Counts() Counts {
	return Counts{Read: h.entries.Load(), Relayed: h.relayed.Load(), Replayed: h.replayed.Load(), Dropped: h.dropped.Load()}
}

// lagLimit bounds the entries Lag counts: past it the hub is far behind,
// however far.
const lagLimit = 10000

// Lag is how far the hub is behind the end of the history: the entries it
// has not read yet (at most lagLimit; those of transactions still running
// included) and the age of the oldest of them. ok is false until Run has
// found where the history ends.
func (h *Hub) Lag(ctx context.Context) (entries int, age time.Duration, ok bool, err error) {
	h.mu.Lock()
	h.init()
	running, pos := h.running, h.pos
	h.mu.Unlock()
	select {
	case <-running:
	default:
		return 0, 0, false, nil
	}
	err = h.DB.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM ticket_events WHERE (tx, id) > ($1, $2) LIMIT $3) behind`,
		pos.Tx, pos.ID, lagLimit).Scan(&entries)
	if err != nil || entries == 0 {
		return entries, 0, err == nil, err
	}
	var oldest time.Time
	err = h.DB.QueryRowContext(ctx, `SELECT created_at FROM ticket_events WHERE (tx, id) > ($1, $2) ORDER BY tx, id LIMIT 1`,
		pos.Tx, pos.ID).Scan(&oldest)
	if errors.Is(err, sql.ErrNoRows) { // read meanwhile
		return 0, 0, true, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	return entries, max(time.Since(oldest), 0), true, nil
}
