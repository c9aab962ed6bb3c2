package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"socdesk/internal/events"
	"socdesk/internal/live"
)

// Sources are the parts of a replica whose own counts are exposed; nil
// ones are left out.
type Sources struct {
	DB  *sql.DB
	Hub *live.Hub
	// Websockets counts the open websocket connections.
	Websockets func() int
	// Publisher is the queue wake-ups wait in before the broker (Redis).
	Publisher *events.Background
}

// lagTimeout bounds the query a scrape makes for the hub's lag.
const lagTimeout = 2 * time.Second

// Watch registers the series read from s at each scrape.
func (m *Metrics) Watch(s Sources) {
	if s.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(s.DB, Namespace))
	}
	if s.Websockets != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "websocket", Name: "connections",
			Help: "Open websocket connections.",
		}, func() float64 { return float64(s.Websockets()) }))
	}
	if s.Hub != nil {
		m.reg.MustRegister(hubCollector{s.Hub})
	}
	if s.Publisher != nil {
		m.reg.MustRegister(publisherCollector{s.Publisher})
	}
}

var (
	subscriptionsDesc = prometheus.NewDesc(Namespace+"_live_subscriptions",
		"Live subscriptions of this replica, by kind (ticketEvents, ticketTrend).", []string{"kind"}, nil)
	queuedDesc = prometheus.NewDesc(Namespace+"_live_queued_changes",
		"Changes waiting in live subscribers' queues, all together.", nil, nil)
	maxQueuedDesc = prometheus.NewDesc(Namespace+"_live_queue_max_depth",
		"The longest live subscriber's queue (a full one drops its subscriber with RESUME_REQUIRED).", nil, nil)
	readDesc = prometheus.NewDesc(Namespace+"_live_history_entries_read_total",
		"Ticket history entries the live hub read.", nil, nil)
	changesDesc = prometheus.NewDesc(Namespace+"_live_changes_total",
		"Changes sent to subscribers: relayed live, or replayed from the history to a subscriber resuming after a cursor.", []string{"path"}, nil)
	droppedDesc = prometheus.NewDesc(Namespace+"_live_subscribers_dropped_total",
		"Subscribers dropped with RESUME_REQUIRED for falling behind.", nil, nil)
	lagEntriesDesc = prometheus.NewDesc(Namespace+"_live_lag_entries",
		"History entries the live hub has not read yet (counted up to 10000).", nil, nil)
	lagSecondsDesc = prometheus.NewDesc(Namespace+"_live_lag_seconds",
		"Age of the oldest history entry the live hub has not read yet; 0 when it is at the head.", nil, nil)
	lagErrorsDesc = prometheus.NewDesc(Namespace+"_live_lag_errors",
		"1 when this scrape could not read the hub's lag from the database.", nil, nil)
)

// hubCollector reads the hub's load, counts and lag at each scrape.
type hubCollector struct{ h *live.Hub }

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{subscriptionsDesc, queuedDesc, maxQueuedDesc, readDesc, changesDesc, droppedDesc, lagEntriesDesc, lagSecondsDesc, lagErrorsDesc} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	st, n := c.h.Stats(), c.h.Counts()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(subscriptionsDesc, float64(st.Subscribers), "ticketEvents")
	gauge(subscriptionsDesc, float64(st.Watchers), "ticketTrend")
	gauge(queuedDesc, float64(st.Queued))
	gauge(maxQueuedDesc, float64(st.MaxQueued))
	counter(readDesc, n.Read)
	counter(changesDesc, n.Relayed, "relayed")
	counter(changesDesc, n.Replayed, "replayed")
	counter(droppedDesc, n.Dropped)
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	entries, age, ok, err := c.h.Lag(ctx)
	failed := 0.0
	if err != nil {
		failed = 1
	}
	gauge(lagErrorsDesc, failed)
	if ok {
		gauge(lagEntriesDesc, float64(entries))
		gauge(lagSecondsDesc, age.Seconds())
	}
}

var (
	publishQueueDesc = prometheus.NewDesc(Namespace+"_events_publish_queue_depth",
		"Wake-ups waiting to be published to the broker (Redis).", nil, nil)
	publishLostDesc = prometheus.NewDesc(Namespace+"_events_publish_lost_total",
		"Wake-ups not published: dropped (the queue was full) or failed (the broker refused them); the hubs' timers cover them.", []string{"reason"}, nil)
)

// publisherCollector reads the publication queue at each scrape.
type publisherCollector struct{ b *events.Background }

func (c publisherCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- publishQueueDesc
	ch <- publishLostDesc
}

func (c publisherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	ch <- prometheus.MustNewConstMetric(publishQueueDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(publishLostDesc, prometheus.CounterValue, float64(st.Dropped), "dropped")
	ch <- prometheus.MustNewConstMetric(publishLostDesc, prometheus.CounterValue, float64(st.Failed), "failed")
}
