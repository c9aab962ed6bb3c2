package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"socdesk/ent/category"
	"socdesk/graph/scalar"
	"socdesk/internal/app"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/devtools/wstest"
	"socdesk/internal/events"
	"socdesk/internal/metrics"
	"socdesk/internal/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const metricsToken = "scrape-me-please-0123456789"

type replica struct {
	t     *testing.T
	srv   *httptest.Server
	app   *app.App
	admin string
}

func start(t *testing.T, backend string) *replica {
	cfg := config.Default()
	cfg.MetricsToken = metricsToken
	return startOn(t, testdb.Open(t, backend, testdb.Options{}), cfg, events.NewLocal())
}

// startOn is start on st, with cfg, publishing through broker.
func startOn(t *testing.T, st *store.Store, cfg config.Config, broker events.Broker) *replica {
	a := app.New(st, broker, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), st.Ping)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	tok, err := auth.Bootstrap(context.Background(), st.Client, "")
	if err != nil {
		t.Fatal(err)
	}
	return &replica{t: t, srv: srv, app: a, admin: tok}
}

// gql posts a GraphQL request and returns the decoded response.
func (r *replica) gql(query string, vars map[string]any) map[string]any {
	r.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		r.t.Fatalf("%s: %v", query, err)
	}
	return out
}

// scrape reads /metrics with token ("" sends none) and returns the status
// and the parsed families.
func (r *replica) scrape(token string) (int, map[string]*dto.MetricFamily) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		if strings.Contains(string(b), "socdesk_") {
			r.t.Fatalf("a refused scrape got series: %s", b)
		}
		return resp.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		r.t.Fatalf("parsing the exposition: %v\n%s", err, b)
	}
	return resp.StatusCode, fams
}

// value is the value of the series of family name with the labels given
// (name=value pairs; others may be there too), and whether it is there.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
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
	return 0, false
}

func must(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(fams, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// TestScrapeAfterTraffic: after queries, mutations, failed requests and
// live subscriptions (a real graphql-ws client), /metrics answers only
// with the token and reports each: operations by name and type with their
// latency, errors by code, the wake-ups published, changes relayed live and
// replayed after a cursor, open websockets and subscriptions, queue depths,
// the hub at the head of the history, and the SQL pool.
func TestScrapeAfterTraffic(t *testing.T) {
	wstest.EnsureDeps(t)
	r := start(t, dialect.Postgres)
	ctx := authz.System(context.Background())
	st := r.app.Tickets.Client
	site := st.Site.Create().SetName("HQ").SaveX(ctx).ID
	cat := st.Category.Create().SetName("Incidents").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(ctx).ID

	if code, _ := r.scrape(""); code != http.StatusUnauthorized {
		t.Fatalf("a scrape without the token: %d, want 401", code)
	}
	if code, _ := r.scrape("wrong-token-wrong-token"); code != http.StatusUnauthorized {
		t.Fatalf("a scrape with a wrong token: %d, want 401", code)
	}

	c := wstest.Start(t, wstest.Options{URL: r.srv.URL + "/graphql", Protocol: wstest.TransportWS, Payload: map[string]any{"token": r.admin}})
	c.ExpectConnected()
	const sub = `subscription Follow($after: String) { ticketEvents(after: $after) { cursor kind } }`
	c.Subscribe("live", sub, nil)
	waitFor(t, "the subscription", func() bool { return r.app.Hub.Stats().Subscribers == 1 })

	create := func(title string) {
		out := r.gql(`mutation Open($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": title, "body": "Seen by the proxy.", "categoryID": scalar.EncodeID(cat), "siteID": scalar.EncodeID(site), "priority": "HIGH"}})
		if out["errors"] != nil {
			t.Fatalf("createTicket: %v", out["errors"])
		}
	}
	create("Beacon to a rare domain")
	var first struct{ TicketEvents struct{ Cursor string } }
	if err := c.ExpectNext("live").Data(&first); err != nil {
		t.Fatal(err)
	}
	create("Phishing wave")
	c.ExpectNext("live")
	// A second client resumes after the first change: the second is replayed.
	c.Subscribe("resumed", sub, map[string]any{"after": first.TicketEvents.Cursor})
	c.ExpectNext("resumed")

	for range 3 {
		if out := r.gql(`query ListTickets { tickets(first: 5) { totalCount } }`, nil); out["errors"] != nil {
			t.Fatalf("tickets: %v", out["errors"])
		}
	}
	r.gql(`query { viewer { login } }`, nil)
	r.gql(`query Broken { tickets(first: 5) {`, nil)                 // parse error
	r.gql(`query Huge { tickets(first: 1000) { totalCount } }`, nil) // refused before execution
	if resp, err := http.Post(r.srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ viewer { login } }"}`)); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	r.gql(`query Missing($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": scalar.EncodeID(1 << 40)})

	code, fams := r.scrape(metricsToken)
	if code != http.StatusOK {
		t.Fatalf("scrape with the token: %d", code)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"socdesk_graphql_requests_total", []string{"operation", "ListTickets", "type", "query"}, 3},
		{"socdesk_graphql_request_duration_seconds", []string{"operation", "ListTickets", "type", "query"}, 3},
		{"socdesk_graphql_requests_total", []string{"operation", "Open", "type", "mutation"}, 2},
		{"socdesk_graphql_requests_total", []string{"operation", "anonymous", "type", "query"}, 1},
		{"socdesk_graphql_requests_total", []string{"operation", "invalid", "type", "invalid"}, 1},
		{"socdesk_graphql_requests_total", []string{"operation", "Huge", "type", "query"}, 1},
		{"socdesk_graphql_requests_total", []string{"operation", "Follow", "type", "subscription"}, 2},
		{"socdesk_graphql_errors_total", []string{"code", "BAD_USER_INPUT"}, 2},
		{"socdesk_events_published_total", []string{"topic", "history", "result", "ok"}, 2},
		{"socdesk_live_changes_total", []string{"path", "relayed"}, 2},
		{"socdesk_live_changes_total", []string{"path", "replayed"}, 1},
		{"socdesk_live_subscriptions", []string{"kind", "ticketEvents"}, 2},
		{"socdesk_live_subscriptions", []string{"kind", "ticketTrend"}, 0},
		{"socdesk_websocket_connections", nil, 1},
		{"socdesk_live_queued_changes", nil, 0},
		{"socdesk_live_lag_entries", nil, 0},
		{"socdesk_live_lag_seconds", nil, 0},
		{"socdesk_live_lag_errors", nil, 0},
		{"go_sql_max_open_connections", []string{"db_name", "socdesk"}, 20},
		{"socdesk_http_requests_total", []string{"route", "metrics", "code", "401"}, 2},
		{"socdesk_http_requests_total", []string{"route", "graphql", "code", "401"}, 1},
	} {
		if got := must(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := must(t, fams, "socdesk_graphql_errors_total", "code", "NOT_FOUND"); v < 1 {
		t.Errorf("NOT_FOUND errors: %v", v)
	}
	if v := must(t, fams, "socdesk_live_history_entries_read_total"); v < 2 {
		t.Errorf("history entries read: %v, want at least 2", v)
	}
	if v := must(t, fams, "go_sql_open_connections", "db_name", "socdesk"); v < 1 {
		t.Errorf("open SQL connections: %v", v)
	}
	if _, ok := value(fams, "socdesk_graphql_requests_total", "operation", "Broken"); ok {
		t.Error("an operation that failed to parse is reported under its name")
	}

	c.Close()
	waitFor(t, "the websocket to close", func() bool { return r.app.Websockets.Len() == 0 })
	_, fams = r.scrape(metricsToken)
	if v := must(t, fams, "socdesk_websocket_connections"); v != 0 {
		t.Errorf("websockets after the client left: %v", v)
	}
	if v := must(t, fams, "socdesk_live_subscriptions", "kind", "ticketEvents"); v != 0 {
		t.Errorf("subscriptions after the client left: %v", v)
	}
}

// TestOperationNamesBounded: a client inventing operation names cannot
// grow the series past MaxOperationNames names: later ones are "other".
func TestOperationNamesBounded(t *testing.T) {
	r := start(t, dialect.SQLite)
	for i := range metrics.MaxOperationNames + 10 {
		r.gql(fmt.Sprintf(`query Invented%d { __typename }`, i), nil)
	}
	r.gql(`query Invented0 { __typename }`, nil) // known already: still itself
	_, fams := r.scrape(metricsToken)
	names := map[string]bool{}
	for _, m := range fams["socdesk_graphql_requests_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "operation" {
				names[l.GetValue()] = true
			}
		}
	}
	if len(names) > metrics.MaxOperationNames+1 {
		t.Fatalf("%d operation names reported, want at most %d and other", len(names), metrics.MaxOperationNames)
	}
	if v := must(t, fams, "socdesk_graphql_requests_total", "operation", "other", "type", "query"); v != 10 {
		t.Errorf("other: %v, want 10", v)
	}
	if v := must(t, fams, "socdesk_graphql_requests_total", "operation", "Invented0", "type", "query"); v != 2 {
		t.Errorf("Invented0: %v, want 2", v)
	}
	if v := must(t, fams, "socdesk_live_lag_errors"); v != 0 { // the lag's SQL on SQLite too
		t.Errorf("the hub's lag could not be read on SQLite")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// deafBroker carries no wake-ups: the hub learns of new history only on
// its timer.
type deafBroker struct{}

func (deafBroker) Publish(context.Context, events.Wake) error { return nil }
func (deafBroker) Close() error                               { return nil }
func (deafBroker) Subscribe(ctx context.Context) (<-chan events.Wake, error) {
	ch := make(chan events.Wake)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch, nil
}

// TestHubLag: history the hub has not read shows as lag, in entries and
// seconds, and the lag is gone once the hub has read it.
func TestHubLag(t *testing.T) {
	st := testdb.Open(t, dialect.Postgres, testdb.Options{})
	cfg := config.Default()
	cfg.MetricsToken = metricsToken
	cfg.LivePoll = time.Hour // no reading but when woken by the test
	r := startOn(t, st, cfg, deafBroker{})
	a := r.app
	waitFor(t, "the hub to start", func() bool { _, _, ok, _ := a.Hub.Lag(context.Background()); return ok })
	sys := authz.System(context.Background())
	site := st.Client.Site.Create().SetName("HQ").SaveX(sys).ID
	cat := st.Client.Category.Create().SetName("Incidents").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(sys).ID
	for _, title := range []string{"One", "Two", "Three"} {
		out := r.gql(`mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": title, "body": "x", "categoryID": scalar.EncodeID(cat), "siteID": scalar.EncodeID(site), "priority": "LOW"}})
		if out["errors"] != nil {
			t.Fatal(out["errors"])
		}
	}
	time.Sleep(50 * time.Millisecond)
	_, fams := r.scrape(metricsToken)
	if v := must(t, fams, "socdesk_live_lag_entries"); v != 3 {
		t.Errorf("lag: %v entries, want 3", v)
	}
	if v := must(t, fams, "socdesk_live_lag_seconds"); v < 0.05 || v > 60 {
		t.Errorf("lag: %v seconds, want the age of the first unread entry", v)
	}
	a.Hub.Wake()
	waitFor(t, "the hub to read", func() bool { return a.Hub.Counts().Read == 3 })
	_, fams = r.scrape(metricsToken)
	if v := must(t, fams, "socdesk_live_lag_entries"); v != 0 {
		t.Errorf("lag after reading: %v entries, want 0", v)
	}
	if v := must(t, fams, "socdesk_live_lag_seconds"); v != 0 {
		t.Errorf("lag after reading: %v seconds, want 0", v)
	}
}
