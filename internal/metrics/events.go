package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"socdesk/internal/events"
)

// Broker returns b counting the wake-ups published through it, by topic
// and by whether the broker took them.
func (m *Metrics) Broker(b events.Broker) events.Broker {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "events", Name: "published_total",
		Help: "Wake-ups published after a commit (history: new ticket history; rights: a user's rights changed), by topic and result (ok, error).",
	}, []string{"topic", "result"})
	m.reg.MustRegister(c)
	return countingBroker{Broker: b, published: c}
}

type countingBroker struct {
	events.Broker
	published *prometheus.CounterVec
}

func (b countingBroker) Publish(ctx context.Context, w events.Wake) error {
	err := b.Broker.Publish(ctx, w)
	result := "ok"
	if err != nil {
		result = "error"
	}
	b.published.WithLabelValues(string(w.Topic), result).Inc()
	return err
}
