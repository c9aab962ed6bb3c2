package ingest

import (
	"context"
	"fmt"
	"slices"
	"text/template"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/detectionfingerprint"
	"socdesk/ent/detectionrule"
	"socdesk/ent/ingestkey"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// Service keeps detection rules and ingests their events.
type Service struct {
	Client  *ent.Client
	Tickets *tickets.Service
	// Dialect of the database: row locks are taken on PostgreSQL (SQLite
	// serializes writers itself).
	Dialect string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Outcome is what came of one ingested event.
type Outcome string

// The outcomes.
const (
	Created   Outcome = "CREATED"   // a new ticket
	Duplicate Outcome = "DUPLICATE" // counted on the attack's open ticket
	Reopened  Outcome = "REOPENED"  // the attack's closed ticket reopened and counted (REOPEN rules)
	Replayed  Outcome = "REPLAYED"  // an idempotency key seen with this event before: its first result, nothing changed
	Failed    Outcome = "FAILED"    // refused: Error says why; nothing changed
)

// Event is one event to ingest, with its idempotency key ("" for none).
type Event struct {
	Value any
	Key   string
}

// Result is what came of the event at Index.
type Result struct {
	Index   int
	Outcome Outcome
	// Ticket is the ticket the event opened or was counted on (for a
	// replay, the first result's).
	Ticket *ent.Ticket
	Error  *errs.Error
}

// Rule is the rule with key, with what ingestion needs loaded, read past
// any viewer's scope: NOT_FOUND naming field when there is none.
func (s *Service) Rule(ctx context.Context, field, key string) (*ent.DetectionRule, error) {
	r, err := s.Client.DetectionRule.Query().Where(detectionrule.Key(key)).
		WithIngesters().WithAssignees().WithApprovers().WithTags().Only(authz.System(ctx))
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: field, Message: "no detection rule with this key"}
	}
	return r, err
}

// Ingest ingests events through the rule with key on behalf of the viewer
// of ctx, who must be allowed to (authz.MayIngest): FORBIDDEN otherwise,
// before anything is read of the events. Each event gets its own Result.
func (s *Service) Ingest(ctx context.Context, key string, events []Event) ([]Result, error) {
	rule, err := s.Rule(ctx, "rule", key)
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	if !authz.MayIngest(v, rule) {
		if !rule.Enabled {
			return nil, errs.New(errs.Forbidden, "the detection rule %s is disabled", rule.Key)
		}
		return nil, errs.New(errs.Forbidden, "only administrators and the rule's service accounts ingest through it")
	}
	res, err := s.ingest(ctx, rule, fmt.Sprintf("user:%d", v.UserID), events)
	if err != nil {
		return nil, err
	}
	return res, s.withhold(ctx, res)
}

// withhold leaves out of res the tickets the viewer of ctx may not read (a
// service account counted on a ticket someone else opened): the outcome
// stands, the ticket is not shown.
func (s *Service) withhold(ctx context.Context, res []Result) error {
	var ids []int
	for _, r := range res {
		if r.Ticket != nil {
			ids = append(ids, r.Ticket.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	seen, err := s.Client.Ticket.Query().Where(ticket.IDIn(ids...)).IDs(ctx)
	if err != nil {
		return err
	}
	for i := range res {
		if res[i].Ticket != nil && !slices.Contains(seen, res[i].Ticket.ID) {
			res[i].Ticket = nil
		}
	}
	return nil
}

// IngestSigned ingests events through rule for a webhook sender whose
// signature of the request was verified with the rule's key (the HTTP
// handler's part): no viewer, idempotency keys scoped to the rule.
func (s *Service) IngestSigned(ctx context.Context, rule *ent.DetectionRule, events []Event) ([]Result, error) {
	if !rule.Enabled {
		return nil, errs.New(errs.Forbidden, "the detection rule %s is disabled", rule.Key)
	}
	return s.ingest(viewer.NewContext(ctx, nil), rule, fmt.Sprintf("rule:%d", rule.ID), events)
}

// BatchSize is how many events of an array share one transaction.
const BatchSize = 100

// ingest writes in the system context (the caller has authorized it),
// the viewer kept as the tickets' registrant and the history's actor.
// Events are checked and mapped first, each alone; those that pass are
// written BatchSize to a transaction, in their order, the transaction's
// row locks (keys, then attacks) taken in sorted order first so that
// concurrent batches queue instead of deadlocking. Should a batch fail as a
// whole, its events are written again one per transaction, so that one
// event's failure is its own.
func (s *Service) ingest(ctx context.Context, rule *ent.DetectionRule, principal string, events []Event) ([]Result, error) {
	if len(events) > MaxBatch {
		return nil, errs.Invalid("events", "at most %d events at a time, not %d", MaxBatch, len(events))
	}
	ctx = authz.System(ctx)
	origin := ticket.OriginSYSTEM
	prio := ticket.Priority(rule.Priority)
	base, err := s.Tickets.PrepareDetections(ctx, tickets.CreateInput{
		CategoryID: rule.CategoryID, SiteID: rule.SiteID, Priority: &prio, Origin: &origin,
		AssigneeIDs: authz.UserIDs(rule.Edges.Assignees), ApproverIDs: authz.UserIDs(rule.Edges.Approvers), TagIDs: tagIDs(rule),
	})
	if err != nil {
		return nil, fmt.Errorf("the detection rule %s: %w", rule.Key, err)
	}
	tpl, err := parseTitle(rule.TitleTemplate)
	if err != nil { // checked when saved
		return nil, err
	}
	out := make([]Result, len(events))
	var ready []*pending
	now := s.now()
	for i, ev := range events {
		out[i].Index = i
		p, err := prepare(rule, base, tpl, ev, now)
		if err != nil {
			out[i] = failed(i, err)
			continue
		}
		p.index, p.principal = i, principal
		ready = append(ready, p)
	}
	for len(ready) > 0 {
		if err := ctx.Err(); err != nil { // the sender went away
			return nil, err
		}
		batch := ready[:min(BatchSize, len(ready))]
		ready = ready[len(batch):]
		res, err := s.commit(ctx, rule, batch, now)
		if err != nil && len(batch) > 1 && ctx.Err() == nil {
			for _, p := range batch {
				if res, err = s.commit(ctx, rule, []*pending{p}, now); err != nil {
					out[p.index] = failed(p.index, err)
				} else {
					out[p.index] = res[0]
				}
			}
			continue
		}
		for j, p := range batch {
			if err != nil {
				out[p.index] = failed(p.index, err)
			} else {
				out[p.index] = res[j]
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func tagIDs(rule *ent.DetectionRule) []int {
	ids := make([]int, len(rule.Edges.Tags))
	for i, t := range rule.Edges.Tags {
		ids[i] = t.ID
	}
	return ids
}

// failed is the result of an event refused with err.
func failed(i int, err error) Result {
	e, ok := errs.As(err)
	if !ok {
		e = &errs.Error{Code: errs.Internal, Message: "internal error", Err: err}
	}
	return Result{Index: i, Outcome: Failed, Error: e}
}

// pending is an event checked and mapped, to be written.
type pending struct {
	index     int
	principal string
	key       string
	hash, fp  string
	obj       map[string]any
	at        time.Time
	p         *tickets.Prepared
}

// prepare checks and maps one event, touching no database.
func prepare(rule *ent.DetectionRule, base *tickets.Prepared, tpl *template.Template, ev Event, now time.Time) (*pending, error) {
	obj, ok := ev.Value.(map[string]any)
	if !ok {
		return nil, errs.Invalid("event", "must be a JSON object")
	}
	if n := utf8.RuneCountInString(ev.Key); n > MaxKeyLength {
		return nil, errs.Invalid("idempotencyKey", "must be at most %d characters, not %d", MaxKeyLength, n)
	}
	canon, err := canonical(obj)
	if err != nil {
		return nil, errs.Invalid("event", "is not valid JSON")
	}
	if len(canon) > MaxEventBytes {
		return nil, errs.Invalid("event", "is %d bytes as JSON, more than %d", len(canon), MaxEventBytes)
	}
	fp, err := fingerprint(rule, obj)
	if err != nil {
		return nil, err
	}
	ttl, err := title(tpl, rule, obj)
	if err != nil {
		return nil, err
	}
	d, err := detection(rule, obj, now)
	if err != nil {
		return nil, err
	}
	p, err := base.WithDetection(ttl, d, []any{obj})
	if err != nil {
		return nil, err
	}
	return &pending{key: ev.Key, hash: hashOf(canon), fp: fp, obj: obj, at: *d.LastDetectedAt, p: p}, nil
}

// commit writes a batch of events in one transaction: their keys claimed
// and their attacks' rows locked, in sorted order, then each written in
// turn. An event refused by the rules (a reused key) is its own failure,
// having written nothing; any other error fails the batch.
func (s *Service) commit(ctx context.Context, rule *ent.DetectionRule, batch []*pending, now time.Time) ([]Result, error) {
	out := make([]Result, len(batch))
	err := txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		keys := map[string]*ent.IngestKey{}
		fps := map[string]*ent.DetectionFingerprint{}
		var keyOrder, fpOrder []string
		for _, p := range batch {
			if p.key != "" {
				if _, ok := keys[p.key]; !ok {
					keys[p.key] = nil
					keyOrder = append(keyOrder, p.key)
				}
			}
			if _, ok := fps[p.fp]; !ok {
				fps[p.fp] = nil
				fpOrder = append(fpOrder, p.fp)
			}
		}
		slices.Sort(keyOrder)
		slices.Sort(fpOrder)
		for _, k := range keyOrder {
			p := batch[slices.IndexFunc(batch, func(p *pending) bool { return p.key == k })]
			row, err := s.claimKey(ctx, tx, p.principal, k, p.hash, now)
			if err != nil {
				return err
			}
			keys[k] = row
		}
		for _, fp := range fpOrder {
			row, err := s.lockFingerprint(ctx, tx, rule.ID, fp, now)
			if err != nil {
				return err
			}
			fps[fp] = row
		}
		var evs []*ent.TicketEvent
		for j, p := range batch {
			res, more, err := s.write(ctx, tx, rule, p, keys[p.key], fps[p.fp], now)
			if e, ok := errs.As(err); ok && e.Code != errs.Internal {
				out[j] = failed(p.index, err)
				continue
			} else if err != nil {
				return err
			}
			res.Index = p.index
			out[j] = res
			evs = append(evs, more...)
		}
		return s.Tickets.Follow(ctx, tx, evs)
	}, s.Tickets.RegisterWriter)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// write is one event in its batch's transaction: the first result of its
// idempotency key returned (or CONFLICT), or else a new ticket for its
// attack, or the repeat counted; the key's and the attack's rows (locked)
// are updated in memory too, for the batch's next events.
func (s *Service) write(ctx context.Context, tx *ent.Tx, rule *ent.DetectionRule, p *pending, k *ent.IngestKey, row *ent.DetectionFingerprint, now time.Time) (Result, []*ent.TicketEvent, error) {
	if k != nil && k.Outcome != "" { // an earlier event's
		if k.EventHash != p.hash {
			return Result{}, nil, &errs.Error{Code: errs.Conflict, Field: "idempotencyKey", Message: "this idempotency key was used for another event"}
		}
		res := Result{Outcome: Replayed}
		if k.TicketID != nil {
			t, err := tx.Ticket.Get(ctx, *k.TicketID)
			if err != nil && !ent.IsNotFound(err) {
				return Result{}, nil, err
			}
			res.Ticket = t
		}
		return res, nil, nil
	}
	var (
		old *ent.Ticket
		err error
	)
	if row.TicketID != nil {
		if old, err = tx.Ticket.Get(ctx, *row.TicketID); ent.IsNotFound(err) {
			old = nil // deleted: the attack starts over
		} else if err != nil {
			return Result{}, nil, err
		}
	}
	window := time.Duration(rule.DedupWindowSeconds) * time.Second
	closed := old != nil && old.Status == ticket.StatusCLOSED
	within := old != nil && now.Sub(row.LastSeenAt) <= window
	var (
		t       *ent.Ticket
		evs     []*ent.TicketEvent
		outcome Outcome
	)
	switch {
	case old != nil && (rule.RepeatAfterClose == detectionrule.RepeatAfterCloseREOPEN || (within && !closed)):
		outcome = Duplicate
		if closed {
			outcome = Reopened
		}
		t, evs, err = s.Tickets.Redetect(ctx, tx, old.ID, tickets.Redetection{
			At: p.at, Record: p.obj, Bound: rule.EvidenceBound,
			Reopen: closed, Reason: fmt.Sprintf("detected again by the rule %s", rule.Key),
		})
	default:
		outcome = Created
		if t, evs, err = s.Tickets.CreateTx(ctx, tx, p.p); err == nil && old != nil { // a repeat after the window or the close
			var more []*ent.TicketEvent
			more, err = s.Tickets.LinkRepeat(ctx, tx, t, old)
			evs = append(evs, more...)
		}
	}
	if err != nil {
		return Result{}, nil, err
	}
	if err := tx.DetectionFingerprint.UpdateOne(row).SetTicketID(t.ID).SetLastSeenAt(now).Exec(ctx); err != nil {
		return Result{}, nil, err
	}
	row.TicketID, row.LastSeenAt = &t.ID, now
	if k != nil {
		if err := tx.IngestKey.UpdateOne(k).SetOutcome(string(outcome)).SetTicketID(t.ID).Exec(ctx); err != nil {
			return Result{}, nil, err
		}
		k.Outcome, k.TicketID = string(outcome), &t.ID
	}
	return Result{Outcome: outcome, Ticket: t}, evs, nil
}

// claimKey inserts the key's row unless there is one, and reads it locked:
// a concurrent sender of the same key waits for the first to commit, then
// finds its result (outcome set); a row without an outcome is this one's.
func (s *Service) claimKey(ctx context.Context, tx *ent.Tx, principal, key, hash string, now time.Time) (*ent.IngestKey, error) {
	q, args := sql.Dialect(s.Dialect).Insert(ingestkey.Table).
		Columns(ingestkey.FieldPrincipal, ingestkey.FieldKey, ingestkey.FieldEventHash, ingestkey.FieldOutcome, ingestkey.FieldCreatedAt).
		Values(principal, key, hash, "", now).
		OnConflict(sql.ConflictColumns(ingestkey.FieldPrincipal, ingestkey.FieldKey), sql.DoNothing()).Query()
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return nil, err
	}
	kq := tx.IngestKey.Query().Where(ingestkey.Principal(principal), ingestkey.Key(key))
	if s.Dialect == dialect.Postgres {
		kq.ForUpdate()
	}
	return kq.Only(ctx)
}

// lockFingerprint inserts the attack's row unless there is one, and reads
// it locked: every ingester of the attack queues here.
func (s *Service) lockFingerprint(ctx context.Context, tx *ent.Tx, ruleID int, fp string, now time.Time) (*ent.DetectionFingerprint, error) {
	q, args := sql.Dialect(s.Dialect).Insert(detectionfingerprint.Table).
		Columns(detectionfingerprint.FieldRuleID, detectionfingerprint.FieldFingerprint, detectionfingerprint.FieldLastSeenAt).
		Values(ruleID, fp, now).
		OnConflict(sql.ConflictColumns(detectionfingerprint.FieldRuleID, detectionfingerprint.FieldFingerprint), sql.DoNothing()).Query()
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return nil, err
	}
	fq := tx.DetectionFingerprint.Query().Where(detectionfingerprint.RuleID(ruleID), detectionfingerprint.Fingerprint(fp))
	if s.Dialect == dialect.Postgres {
		fq.ForUpdate()
	}
	return fq.Only(ctx)
}

// PurgeKeys deletes the idempotency keys older than KeyRetention.
func (s *Service) PurgeKeys(ctx context.Context) (int, error) {
	return s.Client.IngestKey.Delete().Where(ingestkey.CreatedAtLT(s.now().Add(-KeyRetention))).Exec(authz.System(ctx))
}

// IngestOne ingests one event as Ingest does; a refused event is the
// error (BAD_USER_INPUT naming its field, CONFLICT for a reused key…).
func (s *Service) IngestOne(ctx context.Context, key string, event any, idempotencyKey *string) (*Result, error) {
	ev := Event{Value: event}
	if idempotencyKey != nil {
		ev.Key = *idempotencyKey
	}
	res, err := s.Ingest(ctx, key, []Event{ev})
	if err != nil {
		return nil, err
	}
	if res[0].Error != nil {
		return nil, res[0].Error
	}
	return &res[0], nil
}
