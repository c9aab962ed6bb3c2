// Package jobs is the job engine every delayed or retried piece of work goes
// through (deliveries, playbook runs, later scheduled and timed work): River
// (github.com/riverqueue/river) over socdesk's own database.
//
// A job is inserted in the transaction of the change that causes it
// (txn.Run; Insert finds the transaction in the context), so a rolled-back
// change sends nothing and a committed one is never forgotten. Any replica
// with Workers > 0 works jobs, each by one worker at a time (River locks the
// row it fetches); a failed job is retried with backoff up to MaxAttempts,
// then kept as "discarded" with every attempt's error. A job whose worker
// was killed mid-work is made available again after RescueAfter (River's
// rescuer runs every 30 s on the leading replica; a killed leader's lease
// lapses after 15 s): work is at least once, so a worker makes its effect idempotent with a key of its
// job's own (its args, or the job id).
//
// Registration: River takes its workers when its client is made, so the
// engine makes its client on first use (Start, Insert, InsertMany, Retry,
// Client). Register every worker on Workers() before that:
//
//	e, _ := jobs.New(o)
//	river.AddWorker(e.Workers(), &DeliveryWorker{…})
//	e.Start(ctx)
//
// An insert-only engine (Workers == 0) needs none and accepts any kind; a
// working one refuses to insert a kind it has no worker for.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"socdesk/ent"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// Defaults of Options.
const (
	DefaultPollInterval = time.Second
	DefaultMaxAttempts  = 8
	DefaultRescueAfter  = 5 * time.Minute
	DefaultJobTimeout   = time.Minute
	// DefaultRetryBase is River's own: the n-th retry waits about n⁴ seconds.
	DefaultRetryBase = time.Second
	// MaxRetryDelay caps one wait between attempts.
	MaxRetryDelay = 24 * time.Hour
	// MaxWorkers bounds Options.Workers (River's own limit is 10 000).
	MaxWorkers = 1000
)

// Options configure an Engine.
type Options struct {
	Dialect string // dialect.Postgres or dialect.SQLite
	DB      *sql.DB
	// Workers is how many jobs this replica works at once; 0 inserts only.
	Workers int
	// PollInterval is how often idle workers look for jobs: without pgx
	// there is no LISTEN, River polls.
	PollInterval time.Duration
	// MaxAttempts is how many times a job is tried before it is discarded.
	MaxAttempts int
	// RescueAfter: a job running this long (its worker was killed) is made
	// available again. It must exceed JobTimeout.
	RescueAfter time.Duration
	// JobTimeout bounds one attempt (its context is cancelled).
	JobTimeout time.Duration
	// RetryBase scales the backoff: attempt n failed waits RetryBase·n⁴
	// (±10%), at most MaxRetryDelay.
	RetryBase time.Duration
	Log       *slog.Logger
	// Registerer receives the engine's series; nil: no metrics.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() error {
	if o.Dialect != dialect.Postgres && o.Dialect != dialect.SQLite {
		return fmt.Errorf("jobs: dialect %q is neither %s nor %s", o.Dialect, dialect.Postgres, dialect.SQLite)
	}
	if o.DB == nil {
		return errors.New("jobs: no database")
	}
	if o.Workers < 0 || o.Workers > MaxWorkers {
		return fmt.Errorf("jobs: workers must be between 0 and %d, not %d", MaxWorkers, o.Workers)
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&o.PollInterval, DefaultPollInterval)
	set(&o.RescueAfter, DefaultRescueAfter)
	set(&o.JobTimeout, DefaultJobTimeout)
	set(&o.RetryBase, DefaultRetryBase)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RescueAfter <= o.JobTimeout {
		return fmt.Errorf("jobs: RescueAfter (%s) must exceed JobTimeout (%s), or running jobs would be rescued", o.RescueAfter, o.JobTimeout)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Engine is one replica's handle on the job queue.
type Engine struct {
	o        Options
	workers  *river.Workers
	periodic []*river.PeriodicJob
	metrics  *series // nil without a Registerer

	once    sync.Once
	client  *river.Client[*sql.Tx]
	err     error
	started bool
	mu      sync.Mutex
}

// New checks o and returns an engine; it touches no database.
func New(o Options) (*Engine, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{o: o, workers: river.NewWorkers()}
	if o.Registerer != nil {
		m, err := newMetrics(o.Registerer, o.Dialect, o.DB)
		if err != nil {
			return nil, err
		}
		e.metrics = m
	}
	return e, nil
}

// Workers is the registry workers are added to (river.AddWorker) before the
// engine's first use.
func (e *Engine) Workers() *river.Workers { return e.workers }

// Every registers w and has a job of its (argument-less) kind enqueued
// every interval (by the replicas' elected leader, worked by any), like
// Workers before the engine's first use. Insert-only replicas enqueue none.
func Every[T river.JobArgs](e *Engine, interval time.Duration, w river.Worker[T]) {
	every(e, interval, w, nil)
}

// EveryFromStart is Every with a first job as soon as the leader starts
// (work that catches up on what was due while socdesk was down).
func EveryFromStart[T river.JobArgs](e *Engine, interval time.Duration, w river.Worker[T]) {
	every(e, interval, w, &river.PeriodicJobOpts{RunOnStart: true})
}

func every[T river.JobArgs](e *Engine, interval time.Duration, w river.Worker[T], opts *river.PeriodicJobOpts) {
	river.AddWorker(e.workers, w)
	var args T
	e.periodic = append(e.periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil }, opts))
}

// Client is River's client, for what the engine does not wrap.
func (e *Engine) Client() *river.Client[*sql.Tx] {
	c, err := e.riverClient()
	if err != nil {
		// Only a misconfiguration River refuses (e.g. a bad worker kind):
		// found at the first Insert or Start, which return it.
		e.o.Log.Error("jobs: making River's client", "err", err)
	}
	return c
}

func driver(d string, db *sql.DB) riverdriver.Driver[*sql.Tx] {
	if d == dialect.SQLite {
		return riversqlite.New(db)
	}
	return riverdatabasesql.New(db)
}

func (e *Engine) riverClient() (*river.Client[*sql.Tx], error) {
	e.once.Do(func() {
		o := e.o
		cfg := &river.Config{
			FetchPollInterval: o.PollInterval,
			// A busy replica fetches again as soon as a worker frees up, at
			// most every 10ms: River's 100ms default held 10 workers to 100
			// jobs a second whatever they waited on.
			FetchCooldown:        min(o.PollInterval, 10*time.Millisecond),
			JobTimeout:           o.JobTimeout,
			RescueStuckJobsAfter: o.RescueAfter,
			MaxAttempts:          o.MaxAttempts,
			RetryPolicy:          backoff{o.RetryBase},
			Logger:               o.Log,
			PollOnly:             true, // database/sql has no LISTEN
			Middleware:           []rivertype.Middleware{river.WorkerMiddlewareFunc(e.observe)},
		}
		if o.Workers > 0 {
			cfg.Workers = e.workers
			cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}}
			cfg.PeriodicJobs = e.periodic
		}
		e.client, e.err = river.NewClient(driver(o.Dialect, o.DB), cfg)
	})
	return e.client, e.err
}

// Insert inserts a job: in the transaction of ctx (txn.Run) when there is
// one, so that it exists only if that transaction commits; else on its own.
func (e *Engine) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	c, err := e.riverClient()
	if err != nil {
		return nil, err
	}
	tx, err := sqlTx(ctx)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return c.InsertTx(ctx, tx, args, opts)
	}
	return c.Insert(ctx, args, opts)
}

// InsertMany inserts jobs as Insert does, all or none.
func (e *Engine) InsertMany(ctx context.Context, params []river.InsertManyParams) error {
	c, err := e.riverClient()
	if err != nil {
		return err
	}
	tx, err := sqlTx(ctx)
	if err != nil {
		return err
	}
	if tx != nil {
		_, err = c.InsertManyTx(ctx, tx, params)
	} else {
		_, err = c.InsertMany(ctx, params)
	}
	return err
}

// sqlTx is ctx's transaction; an ent transaction without its *sql.Tx (not
// opened by txn.Run over store.Open's driver) is refused rather than
// inserted beside, which would send work for a change that may roll back.
func sqlTx(ctx context.Context) (*sql.Tx, error) {
	if tx := txn.SQLTx(ctx); tx != nil {
		return tx, nil
	}
	if ent.TxFromContext(ctx) != nil {
		return nil, errors.New("jobs: the context's transaction was not opened by txn.Run: the job cannot join it")
	}
	return nil, nil
}

// Start starts working jobs; it does nothing on an insert-only engine.
func (e *Engine) Start(ctx context.Context) error {
	if e.o.Workers == 0 {
		return nil
	}
	c, err := e.riverClient()
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.started = true
	e.mu.Unlock()
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish, until
// ctx ends; a job cut short is retried (or rescued) later.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	started := e.started
	e.started = false
	e.mu.Unlock()
	if !started {
		return nil
	}
	return e.client.Stop(ctx)
}

// Retry makes a failed job available at once again: an operator's retry of
// a discarded or cancelled job (which gets one more attempt), or of one
// waiting for its next attempt. A job that completed or is still to run is
// left alone (Conflict): retrying it would do its work twice.
func (e *Engine) Retry(ctx context.Context, jobID int64) error {
	c, err := e.riverClient()
	if err != nil {
		return err
	}
	j, err := c.JobGet(ctx, jobID)
	if errors.Is(err, rivertype.ErrNotFound) {
		return errs.New(errs.NotFound, "no job %d", jobID)
	}
	if err != nil {
		return err
	}
	switch j.State {
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateRetryable:
	default:
		return errs.New(errs.Conflict, "job %d is %s, not failed", jobID, j.State)
	}
	_, err = c.JobRetry(ctx, jobID)
	return err
}

// backoff is River's retry policy with a configurable base: the n-th
// failure waits base·n⁴, ±10% so that retries of many jobs spread out.
type backoff struct{ base time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	n := float64(len(job.Errors) + 1) // this failure is not in Errors yet
	d := float64(b.base) * math.Pow(n, 4) * (0.9 + 0.2*rand.Float64())
	return time.Now().Add(time.Duration(min(d, float64(MaxRetryDelay))))
}

// Migrate brings River's tables up to date with River's own migrations:
// idempotent, on both databases. On PostgreSQL replicas starting together
// take turns (an advisory lock): River's migrator takes none.
func Migrate(ctx context.Context, d string, db *sql.DB) error {
	m, err := rivermigrate.New(driver(d, db), nil)
	if err != nil {
		return err
	}
	if d == dialect.Postgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock) //nolint:errcheck // the session's end frees it too
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating River's tables: %w", err)
	}
	return nil
}

// migrateLock is the advisory lock key of Migrate ("rivermig").
const migrateLock int64 = 0x7269766572_6d6967
