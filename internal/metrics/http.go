package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP counts next's responses by route and status code: the refusals
// made before GraphQL runs (401, 413, 415, 429) are counted here, not as
// GraphQL errors.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route (graphql, websocket, probe, metrics, other) and status code.",
	}, []string{"route", "code"})
	m.reg.MustRegister(c)
	routes := map[string]http.Handler{}
	for _, r := range []string{"graphql", "websocket", "probe", "metrics", "other"} {
		routes[r] = promhttp.InstrumentHandlerCounter(c.MustCurryWith(prometheus.Labels{"route": r}), next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes[route(r)].ServeHTTP(w, r)
	})
}

// route is a request's route label: a few fixed values, whatever the path.
func route(r *http.Request) string {
	switch r.URL.Path {
	case "/graphql":
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			return "websocket"
		}
		return "graphql"
	case "/healthz", "/readyz":
		return "probe"
	case "/metrics":
		return "metrics"
	}
	return "other"
}
