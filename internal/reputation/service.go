package reputation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/evidence"
	"socdesk/ent/reputationresult"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
)

// Defaults of the settings (package config).
const (
	DefaultRate    = 4 // VirusTotal's public API: 4 requests a minute
	DefaultWindow  = time.Minute
	DefaultTTL     = 24 * time.Hour
	DefaultTimeout = 10 * time.Second
	// MaxConcurrent lookups of one ticket run at once.
	MaxConcurrent = 4
	// MaxRounds of the on-ingestion job: a ticket whose lookups met the
	// rate limit is tried again after the wait this many times at most.
	MaxRounds = 3
)

// Provider tells the reputation of an indicator (VirusTotal by default).
type Provider interface {
	Lookup(ctx context.Context, i Indicator) Answer
}

// Service looks up and serves the reputation of tickets' indicators.
type Service struct {
	Client *ent.Client
	// Provider is nil when none is configured (no key): lookups answer
	// UNAVAILABLE with what the cache has.
	Provider Provider
	Limiter  *Limiter
	// Rate and Window describe Limiter's budget, for messages.
	Rate   int
	Window time.Duration
	// TTL is how long an answer stays fresh.
	TTL time.Duration
	// OnIngest enqueues a lookup when a DETECTION ticket is created.
	OnIngest bool
	Jobs     *jobs.Engine
	Now      func() time.Time
	Log      *slog.Logger
}

// Verdict sums up an answer's counts.
type Verdict string

// Verdicts, the worst that any engine gave.
const (
	Malicious  Verdict = "MALICIOUS"
	Suspicious Verdict = "SUSPICIOUS"
	Harmless   Verdict = "HARMLESS"
	Undetected Verdict = "UNDETECTED"
)

// MarshalGQL writes the verdict as a GraphQL enum value.
func (v Verdict) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(v))) }

// UnmarshalGQL reads a GraphQL enum value.
func (v *Verdict) UnmarshalGQL(x any) error {
	s, _ := x.(string)
	switch Verdict(s) {
	case Malicious, Suspicious, Harmless, Undetected:
		*v = Verdict(s)
		return nil
	}
	return fmt.Errorf("%v is not a ReputationVerdict", x)
}

// Result is what socdesk knows of one indicator of a ticket (GraphQL
// ReputationResult).
type Result struct {
	Indicator  string
	Kind       Kind
	Status     Status
	Verdict    *Verdict
	Malicious  *int
	Suspicious *int
	Harmless   *int
	Undetected *int
	Reputation *int
	Stats      any // map[string]int, or nil
	Permalink  string
	FetchedAt  *time.Time
	AgeSeconds *int
	Stale      bool
	Error      *string
	RetryAt    *time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// OfTicket returns what the cache has of the indicators of t, a ticket the
// viewer of ctx sees (its evidence is read as they see it), in the order of
// Indicators; those never looked up are UNCHECKED. It asks no provider.
func (s *Service) OfTicket(ctx context.Context, t *ent.Ticket) ([]*Result, error) {
	inds, rows, err := s.read(ctx, t)
	if err != nil {
		return nil, err
	}
	out := make([]*Result, len(inds))
	for i, ind := range inds {
		out[i] = s.result(ind, rows[ind])
	}
	return out, nil
}

// Lookup asks the provider about the indicators of ticket ticketID that the
// cache has no fresh answer for (all of them with refresh), within the
// rate limit, and returns every indicator's result. The ticket's editors
// may (authz.LooksUpReputation); another site's ticket is NOT_FOUND. A
// provider that fails fails no lookup: each result says its status.
func (s *Service) Lookup(ctx context.Context, ticketID int, refresh bool) ([]*Result, error) {
	t, err := s.Client.Ticket.Query().Where(ticket.ID(ticketID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "ticketID", Message: "no ticket with this id"}
	} else if err != nil {
		return nil, err
	}
	if err := authz.LooksUpReputation(ctx, t.SiteID); err != nil {
		return nil, err
	}
	return s.lookup(ctx, t, refresh)
}

func (s *Service) lookup(ctx context.Context, t *ent.Ticket, refresh bool) ([]*Result, error) {
	inds, rows, err := s.read(ctx, t)
	if err != nil {
		return nil, err
	}
	out := make([]*Result, len(inds))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, MaxConcurrent)
	)
	for i, ind := range inds {
		row := rows[ind]
		if !refresh && s.fresh(row) {
			out[i] = s.result(ind, row)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := s.ask(ctx, ind, row)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			out[i] = r
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// ask asks the provider about ind, whose cached row is row (nil: none),
// and keeps the answer.
func (s *Service) ask(ctx context.Context, ind Indicator, row *ent.ReputationResult) (*Result, error) {
	if s.Provider == nil {
		r := s.result(ind, row)
		r.Status, r.Error = Unavailable, ptr("no reputation provider is configured (SOCDESK_REPUTATION_KEY)")
		return r, nil
	}
	if ok, wait := s.Limiter.Take(ctx); !ok {
		r := s.result(ind, row) // the cached answer, as it is: nothing was asked
		r.Status, r.Error = RateLimited, ptr(fmt.Sprintf("over the provider's rate limit of %d lookups per %v", s.Rate, s.Window))
		if wait > 0 {
			at := s.now().Add(wait).Truncate(time.Second).Add(time.Second)
			r.RetryAt = &at
		}
		return r, nil
	}
	a := s.Provider.Lookup(ctx, ind)
	now := s.now()
	if a.Status == RateLimited {
		s.Limiter.Pause(ctx, now.Add(a.RetryAfter))
	}
	next := ent.ReputationResult{Kind: ind.Kind, Indicator: ind.Value}
	if row != nil {
		next = *row
	}
	next.Status, next.CheckedAt, next.Error, next.RetryAt = a.Status, now, a.Err, nil
	switch a.Status {
	case OK:
		next.Stats, next.Reputation, next.FetchedAt = a.Stats, a.Reputation, &now
		next.Malicious, next.Suspicious, next.Harmless, next.Undetected = count(a.Stats, "malicious"), count(a.Stats, "suspicious"), count(a.Stats, "harmless"), count(a.Stats, "undetected")
	case NotFound:
		next.Stats, next.Reputation, next.FetchedAt = nil, nil, &now
		next.Malicious, next.Suspicious, next.Harmless, next.Undetected = nil, nil, nil, nil
	case RateLimited:
		at := now.Add(a.RetryAfter)
		next.RetryAt = &at
	}
	if err := s.keep(ctx, &next); err != nil {
		return nil, err
	}
	return s.result(ind, &next), nil
}

func count(stats map[string]int, k string) *int {
	if n, ok := stats[k]; ok {
		return &n
	}
	return nil
}

// keep writes r, the indicator's whole state, to the cache: one row per
// indicator, the last writer's state winning.
func (s *Service) keep(ctx context.Context, r *ent.ReputationResult) error {
	c := s.Client.ReputationResult.Create().SetKind(r.Kind).SetIndicator(r.Indicator).SetStatus(r.Status).
		SetCheckedAt(r.CheckedAt).SetError(r.Error).
		SetNillableMalicious(r.Malicious).SetNillableSuspicious(r.Suspicious).SetNillableHarmless(r.Harmless).
		SetNillableUndetected(r.Undetected).SetNillableReputation(r.Reputation).SetNillableFetchedAt(r.FetchedAt).
		SetNillableRetryAt(r.RetryAt)
	if r.Stats != nil {
		c.SetStats(r.Stats)
	}
	return c.OnConflictColumns(reputationresult.FieldKind, reputationresult.FieldIndicator).
		Update(func(u *ent.ReputationResultUpsert) {
			u.SetStatus(r.Status).SetCheckedAt(r.CheckedAt).SetError(r.Error)
			setOrClear(u.SetMalicious, u.ClearMalicious, r.Malicious)
			setOrClear(u.SetSuspicious, u.ClearSuspicious, r.Suspicious)
			setOrClear(u.SetHarmless, u.ClearHarmless, r.Harmless)
			setOrClear(u.SetUndetected, u.ClearUndetected, r.Undetected)
			setOrClear(u.SetReputation, u.ClearReputation, r.Reputation)
			setOrClear(u.SetFetchedAt, u.ClearFetchedAt, r.FetchedAt)
			setOrClear(u.SetRetryAt, u.ClearRetryAt, r.RetryAt)
			if r.Stats != nil {
				b, _ := json.Marshal(r.Stats) // the upsert's SetStats would pass the map to the driver as it is
				u.Set(reputationresult.FieldStats, b)
			} else {
				u.ClearStats()
			}
		}).Exec(authz.System(ctx))
}

func setOrClear[T any](set func(T) *ent.ReputationResultUpsert, clear func() *ent.ReputationResultUpsert, v *T) {
	if v != nil {
		set(*v)
	} else {
		clear()
	}
}

// fresh: an answer (OK or NOT_FOUND) younger than the TTL.
func (s *Service) fresh(r *ent.ReputationResult) bool {
	return r != nil && r.FetchedAt != nil && (r.Status == OK || r.Status == NotFound) && s.now().Sub(*r.FetchedAt) < s.TTL
}

// read returns t's indicators and the cache's rows of them. The evidence is
// read in ctx (the viewer's, or the system's for the job); the cache, shared
// by every site, as the system once the ticket is known to be visible.
func (s *Service) read(ctx context.Context, t *ent.Ticket) ([]Indicator, map[Indicator]*ent.ReputationResult, error) {
	var records []map[string]any
	if t.Kind == ticket.KindDETECTION {
		evs, err := s.Client.Evidence.Query().Where(evidence.TicketID(t.ID)).Order(ent.Asc(evidence.FieldID)).
			Limit(MaxEvidenceScanned).Select(evidence.FieldRecord).All(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range evs {
			records = append(records, e.Record)
		}
	}
	inds := Indicators(t, records)
	rows := map[Indicator]*ent.ReputationResult{}
	if len(inds) == 0 {
		return inds, rows, nil
	}
	values := make([]string, len(inds))
	for i, ind := range inds {
		values[i] = ind.Value
	}
	found, err := s.Client.ReputationResult.Query().Where(reputationresult.IndicatorIn(values...)).All(authz.System(ctx))
	if err != nil {
		return nil, nil, err
	}
	for _, r := range found {
		rows[Indicator{r.Kind, r.Indicator}] = r
	}
	return inds, rows, nil
}

// result shows row, the cached state of ind (nil: never looked up).
func (s *Service) result(ind Indicator, row *ent.ReputationResult) *Result {
	r := &Result{Indicator: ind.Value, Kind: ind.Kind, Status: Unchecked, Permalink: Permalink(ind)}
	if row == nil {
		return r
	}
	r.Status, r.Malicious, r.Suspicious, r.Harmless, r.Undetected, r.Reputation = row.Status, row.Malicious, row.Suspicious, row.Harmless, row.Undetected, row.Reputation
	r.RetryAt = row.RetryAt
	if row.Stats != nil {
		r.Stats = row.Stats
	}
	if row.Error != "" {
		r.Error = ptr(row.Error)
	}
	if row.FetchedAt != nil {
		at := row.FetchedAt.UTC()
		age := int(max(s.now().Sub(at), 0) / time.Second)
		r.FetchedAt, r.AgeSeconds, r.Stale = &at, &age, s.now().Sub(at) >= s.TTL
	}
	r.Verdict = verdictOf(row)
	return r
}

// verdictOf is the worst verdict any engine gave, nil without counts.
func verdictOf(r *ent.ReputationResult) *Verdict {
	var v Verdict
	switch {
	case r.Malicious == nil && r.Suspicious == nil && r.Harmless == nil && r.Undetected == nil:
		return nil
	case r.Malicious != nil && *r.Malicious > 0:
		v = Malicious
	case r.Suspicious != nil && *r.Suspicious > 0:
		v = Suspicious
	case r.Harmless != nil && *r.Harmless > 0:
		v = Harmless
	default:
		v = Undetected
	}
	return &v
}

func ptr[T any](v T) *T { return &v }

// LookupArgs is the on-ingestion job: look up ticket TicketID; Round counts
// the times it met the rate limit.
type LookupArgs struct {
	TicketID int `json:"ticket_id"`
	Round    int `json:"round,omitempty"`
}

// Kind implements river.JobArgs.
func (LookupArgs) Kind() string { return "reputation.lookup" }

// Register adds the lookup job's worker to the engine (before its first use).
func (s *Service) Register() { river.AddWorker(s.Jobs.Workers(), &lookupWorker{s: s}) }

// Followers enqueues, in the creating transaction, a lookup of each new
// DETECTION ticket when OnIngest is set and a provider is configured
// (tickets.Service calls it for every change).
func (s *Service) Followers(ctx context.Context, _ *ent.Tx, evs []*ent.TicketEvent) error {
	if !s.OnIngest || s.Provider == nil {
		return nil
	}
	var params []river.InsertManyParams
	for _, ev := range evs {
		if t := ev.Edges.Ticket; ev.Kind == ticketevent.KindCREATED && t != nil && t.Kind == ticket.KindDETECTION {
			params = append(params, river.InsertManyParams{Args: LookupArgs{TicketID: t.ID}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	return s.Jobs.InsertMany(ctx, params)
}

type lookupWorker struct {
	river.WorkerDefaults[LookupArgs]
	s *Service
}

// Work looks the ticket up as the system; lookups that met the rate limit
// are tried again, once the wait is over, up to MaxRounds times.
func (w *lookupWorker) Work(ctx context.Context, job *river.Job[LookupArgs]) error {
	ctx = authz.System(ctx)
	t, err := w.s.Client.Ticket.Query().Where(ticket.ID(job.Args.TicketID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil // deleted since
	} else if err != nil {
		return err
	}
	rs, err := w.s.lookup(ctx, t, false)
	if err != nil {
		return err
	}
	var again *time.Time
	for _, r := range rs {
		if r.Status == RateLimited && r.RetryAt != nil && (again == nil || r.RetryAt.After(*again)) {
			again = r.RetryAt
		}
	}
	if again == nil || job.Args.Round+1 >= MaxRounds {
		return nil
	}
	_, err = w.s.Jobs.Insert(ctx, LookupArgs{TicketID: t.ID, Round: job.Args.Round + 1}, &river.InsertOpts{ScheduledAt: *again})
	return err
}
