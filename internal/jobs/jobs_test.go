package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"socdesk/ent"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/store"
	"socdesk/internal/txn"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" { // TestKilledWorker's child replica
		killedWorkerChild(url)
	}
	testdb.Main(m)
}

func sys() context.Context { return authz.System(context.Background()) }

// waitTimeout bounds every wait for a condition.
const waitTimeout = 30 * time.Second

// Args is a test job; Key is its stable idempotency key.
type Args struct {
	Key string `json:"key"`
}

func (Args) Kind() string { return "test_job" }

// recorder is a worker that records each attempt, fails as told, and fails
// the test when two attempts of one key overlap.
type recorder struct {
	river.WorkerDefaults[Args]
	t     *testing.T
	fails int           // attempts that fail before one succeeds; <0: always
	hold  time.Duration // how long an attempt runs

	mu      sync.Mutex
	running map[string]bool
	starts  map[string][]time.Time
	done    map[string]int
}

func newRecorder(t *testing.T, fails int) *recorder {
	return &recorder{t: t, fails: fails, running: map[string]bool{}, starts: map[string][]time.Time{}, done: map[string]int{}}
}

func (r *recorder) Work(ctx context.Context, job *river.Job[Args]) error {
	k := job.Args.Key
	r.mu.Lock()
	if r.running[k] {
		r.t.Errorf("job %s worked twice at once", k)
	}
	r.running[k] = true
	r.starts[k] = append(r.starts[k], time.Now())
	n := len(r.starts[k])
	r.mu.Unlock()
	if r.hold > 0 {
		time.Sleep(r.hold) // a job that takes time, so overlaps could show
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[k] = false
	if r.fails < 0 || n <= r.fails {
		return fmt.Errorf("attempt %d of %s failed", n, k)
	}
	r.done[k]++
	return nil
}

func (r *recorder) attempts(k string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.starts[k]...)
}

func (r *recorder) completed() (keys, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.done {
		total += n
	}
	return len(r.done), total
}

// engine starts an engine on st with w registered (nil: insert only).
func engine(t *testing.T, st *store.Store, w *recorder, o jobs.Options) *jobs.Engine {
	t.Helper()
	o.Dialect, o.DB = st.Dialect, st.DB
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.PollInterval == 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.RetryBase == 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	if w != nil && o.Workers == 0 {
		o.Workers = 4
	}
	e, err := jobs.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if w != nil {
		river.AddWorker(e.Workers(), river.Worker[Args](w))
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return e
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func job(t *testing.T, e *jobs.Engine, id int64) *rivertype.JobRow {
	t.Helper()
	j, err := e.Client().JobGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// insertIn inserts a job in a txn.Run that ends with err (nil commits).
func insertIn(t *testing.T, st *store.Store, e *jobs.Engine, key string, end error) int64 {
	t.Helper()
	var id int64
	err := txn.Run(sys(), st.Client, func(ctx context.Context, tx *ent.Tx) error {
		if err := tx.Tag.Create().SetName("tag-" + key).Exec(ctx); err != nil {
			return err
		}
		res, err := e.Insert(ctx, Args{Key: key}, nil)
		if err != nil {
			return err
		}
		id = res.Job.ID
		return end
	})
	if !errors.Is(err, end) {
		t.Fatal(err)
	}
	return id
}

// TestInsertFollowsTheTransaction: a job inserted in a change that rolls
// back is never worked; one in a change that commits is worked once.
func TestInsertFollowsTheTransaction(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			w := newRecorder(t, 0)
			e := engine(t, st, w, jobs.Options{})
			insertIn(t, st, e, "rolled-back", errors.New("roll back"))
			committed := insertIn(t, st, e, "committed", nil)
			waitFor(t, "the committed job", func() bool { return job(t, e, committed).State == rivertype.JobStateCompleted })
			// A later job is worked after the committed one: had the rolled
			// back one existed, it would have been fetched by now too.
			later := insertIn(t, st, e, "later", nil)
			waitFor(t, "a later job", func() bool { return job(t, e, later).State == rivertype.JobStateCompleted })
			if n := len(w.attempts("rolled-back")); n != 0 {
				t.Errorf("the rolled-back job was worked %d times", n)
			}
			if err := e.Retry(context.Background(), committed); errs.CodeOf(err) != errs.Conflict {
				t.Errorf("retrying a completed job: %v, want CONFLICT", err)
			}
			if n := len(w.attempts("committed")); n != 1 {
				t.Errorf("the committed job was worked %d times, want 1", n)
			}
			var n int
			if err := st.DB.QueryRow("SELECT count(*) FROM river_job").Scan(&n); err != nil || n != 2 {
				t.Errorf("%d jobs in the database (%v), want the 2 committed", n, err)
			}
		})
	}
}

// TestRetriesWithBackoff: a job failing twice is worked a third time and
// completes, each wait longer than the one before.
func TestRetriesWithBackoff(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			w := newRecorder(t, 2)
			e := engine(t, st, w, jobs.Options{})
			res, err := e.Insert(context.Background(), Args{Key: "flaky"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the job to complete", func() bool { return job(t, e, res.Job.ID).State == rivertype.JobStateCompleted })
			at := w.attempts("flaky")
			if len(at) != 3 {
				t.Fatalf("worked %d times, want 3", len(at))
			}
			j := job(t, e, res.Job.ID)
			if j.Attempt != 3 || len(j.Errors) != 2 {
				t.Errorf("attempt %d with %d errors, want 3 and 2", j.Attempt, len(j.Errors))
			}
			first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
			if first < 80*time.Millisecond || second <= first {
				t.Errorf("waits %s then %s: want a backoff (at least the base, then longer)", first, second)
			}
		})
	}
}

// TestDiscardedAfterMaxAttempts: a job that always fails is kept as
// discarded with every attempt's error, counted as failed, and an
// operator's retry gives it one more attempt.
func TestDiscardedAfterMaxAttempts(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			w := newRecorder(t, -1)
			reg := prometheus.NewRegistry()
			e := engine(t, st, w, jobs.Options{MaxAttempts: 3, Registerer: reg})
			res, err := e.Insert(context.Background(), Args{Key: "broken"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the job to be discarded", func() bool { return job(t, e, res.Job.ID).State == rivertype.JobStateDiscarded })
			j := job(t, e, res.Job.ID)
			if len(w.attempts("broken")) != 3 || j.Attempt != 3 || len(j.Errors) != 3 {
				t.Fatalf("worked %d times, attempt %d, %d errors; want 3", len(w.attempts("broken")), j.Attempt, len(j.Errors))
			}
			if got := j.Errors[2].Error; !strings.Contains(got, "attempt 3 of broken failed") {
				t.Errorf("last error %q", got)
			}
			if n, _ := value(t, reg, "socdesk_jobs_failed_total", map[string]string{"kind": "test_job"}); n != 1 {
				t.Errorf("socdesk_jobs_failed_total = %v, want 1", n)
			}
			if got := gauge(t, reg, "default", "discarded"); got != 1 {
				t.Errorf(`socdesk_jobs{queue="default",state="discarded"} = %v, want 1`, got)
			}
			if err := e.Retry(context.Background(), res.Job.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the retried job to be worked", func() bool { return len(w.attempts("broken")) == 4 })
			if err := e.Retry(context.Background(), 1<<40); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("retrying a job that does not exist: %v", err)
			}
		})
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, queue, state string) float64 {
	t.Helper()
	v, _ := value(t, reg, "socdesk_jobs", map[string]string{"queue": queue, "state": state})
	return v
}

func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestTwoReplicas: two engines on one PostgreSQL database work 200 jobs,
// each exactly once and never two attempts of one at a time.
func TestTwoReplicas(t *testing.T) {
	st := testdb.Postgres(t, testdb.Options{})
	w := newRecorder(t, 0)
	w.hold = 5 * time.Millisecond
	a := engine(t, st, w, jobs.Options{Workers: 4})
	engine(t, st, w, jobs.Options{Workers: 4})
	const n = 200
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: Args{Key: fmt.Sprintf("job-%03d", i)}}
	}
	if err := a.InsertMany(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every job", func() bool { _, total := w.completed(); return total >= n })
	keys, total := w.completed()
	if keys != n || total != n {
		t.Fatalf("%d jobs completed %d times, want %d once each", keys, total, n)
	}
	for i := range n {
		if got := len(w.attempts(fmt.Sprintf("job-%03d", i))); got != 1 {
			t.Errorf("job-%03d worked %d times", i, got)
		}
	}
}

// TestInsertOnly: an engine without workers inserts (any kind) and works
// nothing, and its metrics count what waits.
func TestInsertOnly(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			reg := prometheus.NewRegistry()
			e := engine(t, st, nil, jobs.Options{Registerer: reg})
			for i := range 3 {
				if _, err := e.Insert(context.Background(), Args{Key: fmt.Sprint(i)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := gauge(t, reg, "default", "available"); got != 3 {
				t.Errorf(`socdesk_jobs{queue="default",state="available"} = %v, want 3`, got)
			}
			if got := gauge(t, reg, "default", "running"); got != 0 {
				t.Errorf(`socdesk_jobs{queue="default",state="running"} = %v, want 0`, got)
			}
			// A working replica started now finds them all: none was taken.
			w := newRecorder(t, 0)
			engine(t, st, w, jobs.Options{})
			waitFor(t, "the jobs to be worked elsewhere", func() bool { k, _ := w.completed(); return k == 3 })
		})
	}
}
