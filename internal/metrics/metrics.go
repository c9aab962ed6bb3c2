// Package metrics is socdesk's Prometheus exposition: one registry per
// replica, the series of the GraphQL API (requests, latency and errors by
// operation), and collectors that read, at scrape time, what the other parts
// already count (the live hub, the websocket connections, the wake-up
// broker, the SQL pool): each number has one home, in the part that does
// the work, and is only exposed here. Other parts (rate limits) register
// their own series on Registerer.
package metrics

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every series of socdesk's own.
const Namespace = "socdesk"

// Metrics is one replica's registry.
type Metrics struct {
	reg *prometheus.Registry
}

// New returns a registry with the Go runtime's and the process's series.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{reg: reg}
}

// Registerer is where other parts register their series. A nil Metrics
// gives nil: callers treat a nil Registerer as "no metrics".
func (m *Metrics) Registerer() prometheus.Registerer {
	if m == nil {
		return nil
	}
	return m.reg
}

// Gatherer reads the registry (tests, the handler).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in Prometheus's text format. With a token,
// only a request bearing it (Authorization: Bearer …) is answered; others
// get 401 and nothing of the registry.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg, // counts its own scrape errors
		MaxRequestsInFlight: 4,
		EnableOpenMetrics:   true, // when asked: the latency's exemplars (trace ids)
	})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the metrics token (Authorization: Bearer …)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
