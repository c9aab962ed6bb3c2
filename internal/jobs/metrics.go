package jobs

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"
)

// namespace is namespace, which this package (imported by the
// store, for Migrate) does not import: that package depends on most of socdesk.
const namespace = "socdesk"

// countTimeout bounds the query a scrape makes for the queue counts.
const countTimeout = 2 * time.Second

// durationBuckets reach past DefaultJobTimeout: a delivery may take long.
var durationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// series are the engine's series: the queues' counts read from river_job at
// each scrape, and what this replica's workers did.
type series struct {
	db       *sql.DB
	failed   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var jobsDesc = prometheus.NewDesc(namespace+"_jobs",
	"Jobs in the database by queue and state (available, running, retryable, discarded = failed for good, …).",
	[]string{"queue", "state"}, nil)

func newMetrics(reg prometheus.Registerer, _ string, db *sql.DB) (*series, error) {
	m := &series{
		db: db,
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jobs_failed_total",
			Help: "Jobs this replica gave up on, by kind: discarded after their last attempt failed, or cancelled by their worker because retrying cannot help.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "job_duration_seconds",
			Help:    "Attempts this replica worked, by kind and outcome (completed, retry, discarded, cancelled, snoozed).",
			Buckets: durationBuckets,
		}, []string{"kind", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m, m.failed, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *series) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

// Collect reads the counts in one query. Every state of a queue that has
// jobs is reported, zeros too, so a state emptying shows as 0.
func (m *series) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	rows, err := m.db.QueryContext(ctx, `SELECT queue, state, count(*) FROM river_job GROUP BY queue, state`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	defer rows.Close()
	counts := map[string]map[string]int64{}
	for rows.Next() {
		var q, s string
		var n int64
		if err := rows.Scan(&q, &s, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(jobsDesc, err)
			return
		}
		if counts[q] == nil {
			counts[q] = map[string]int64{}
		}
		counts[q][s] = n
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for q, byState := range counts {
		for _, s := range rivertype.JobStates() {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(byState[string(s)]), q, string(s))
		}
	}
}

// observe is the engine's worker middleware: each attempt's duration and
// outcome, and the discarded jobs.
func (e *Engine) observe(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	if e.metrics == nil {
		return doInner(ctx)
	}
	start := time.Now()
	defer func() {
		out := outcome(job, err)
		if p := recover(); p != nil {
			out = "panic" // River's executor records it and retries
			defer panic(p)
		}
		e.metrics.duration.WithLabelValues(job.Kind, out).Observe(time.Since(start).Seconds())
		// A worker cancels its job only on a failure retrying cannot mend
		// (a delivery's 4xx, a disabled channel): a failure for operators.
		if out == "discarded" || out == "cancelled" || out == "panic" && job.Attempt >= job.MaxAttempts {
			e.metrics.failed.WithLabelValues(job.Kind).Inc()
		}
	}()
	return doInner(ctx)
}

func outcome(job *rivertype.JobRow, err error) string {
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil:
		return "completed"
	case errors.As(err, &cancel):
		return "cancelled"
	case errors.As(err, &snooze):
		return "snoozed"
	case job.Attempt >= job.MaxAttempts:
		return "discarded"
	}
	return "retry"
}
