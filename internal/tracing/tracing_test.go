package tracing_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"socdesk/ent/category"
	"socdesk/graph/scalar"
	"socdesk/internal/app"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/config"
	"socdesk/internal/devtools/syncbuf"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/tracing"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// receiver is an OTLP/HTTP trace receiver: it decodes what exporters POST
// to /v1/traces (protobuf, as OpenTelemetry's collector does) and keeps
// the spans, with the service name of their resource.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	bad      []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	fail := func(why string) {
		r.mu.Lock()
		r.bad = append(r.bad, why)
		r.mu.Unlock()
		http.Error(w, why, http.StatusBadRequest)
	}
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		fail(req.Method + " " + req.URL.Path)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		fail("content type " + ct)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			fail(err.Error())
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		fail(err.Error())
		return
	}
	var msg coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		fail(err.Error())
		return
	}
	r.mu.Lock()
	for _, rs := range msg.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				r.services = append(r.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *receiver) received() ([]*tracepb.Span, []string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...), append([]string(nil), r.services...), append([]string(nil), r.bad...)
}

// jsonLines decodes a JSON log, a record a line.
func jsonLines(log string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if v := a.GetValue().GetStringValue(); v != "" {
				return v
			}
			return a.GetValue().String()
		}
	}
	return ""
}

func noEnv(string) string { return "" }

// TestTracesReachACollector: with an OTLP endpoint configured, a request
// that carries a traceparent continues the client's trace, and a real
// OTLP/HTTP receiver gets the HTTP span, the GraphQL operation's span
// under it, the resolver's under that and the SQL statements under the
// resolver, all of service "socdesk"; the request's log line names the
// trace. Statements outside requests (the live hub's polling) make no
// spans, and spans carry no variables.
func TestTracesReachACollector(t *testing.T) {
	rcv := newReceiver(t)
	ctx := context.Background()
	stop, err := tracing.Setup(ctx, rcv.srv.URL, noEnv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = stop(ctx)
		}
	}()
	tp := tracing.Provider()
	if tp == nil {
		t.Fatal("tracing.Setup with an endpoint left tracing off")
	}
	st := testdb.Open(t, dialect.Postgres, testdb.Options{Tracer: tp})
	logs := &syncbuf.Buffer{}
	a := app.New(st, events.NewLocal(), config.Default(), slog.New(slog.NewJSONHandler(logs, nil)), st.Ping)
	runCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(hubDone) }()
	defer func() { stopHub(); <-hubDone }()
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	tok, err := auth.Bootstrap(ctx, st.Client, "")
	if err != nil {
		t.Fatal(err)
	}
	sys := authz.System(ctx)
	site := st.Client.Site.Create().SetName("HQ").SaveX(sys).ID
	cat := st.Client.Category.Create().SetName("Incidents").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(sys).ID

	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
		secret      = "Seen by the proxy: secret-body-text"
	)
	post := func(traceparent, query string, vars map[string]any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if out["errors"] != nil {
			t.Fatalf("%s: %v", query, out["errors"])
		}
		return out
	}
	post("00-"+clientTrace+"-"+clientSpan+"-01", `query ListTickets { tickets(first: 5) { totalCount edges { node { title } } } }`, nil)
	post("", `mutation Open($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"kind": "ANALYSIS", "title": "Beacon", "body": secret, "categoryID": scalar.EncodeID(cat), "siteID": scalar.EncodeID(site), "priority": "HIGH"}})
	time.Sleep(2 * a.Hub.Poll) // the hub polls meanwhile, outside any request

	stopped = true
	if err := stop(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	spans, services, bad := rcv.received()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %v", bad)
	}
	for _, s := range services {
		if s != tracing.ServiceName {
			t.Errorf("service.name %q", s)
		}
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	find := func(name string) *tracepb.Span {
		t.Helper()
		for _, s := range spans {
			if s.Name == name {
				return s
			}
		}
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no span %q among %v", name, names)
		return nil
	}
	parent := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }

	httpSpan := find("POST /graphql")
	if hex.EncodeToString(httpSpan.TraceId) != clientTrace || hex.EncodeToString(httpSpan.ParentSpanId) != clientSpan {
		t.Fatalf("the HTTP span is not in the client's trace under its span: trace %x parent %x", httpSpan.TraceId, httpSpan.ParentSpanId)
	}
	op := find("query ListTickets")
	if parent(op) != httpSpan || attr(op, "graphql.operation.type") != "query" || attr(op, "graphql.operation.name") != "ListTickets" {
		t.Fatalf("operation span %v: parent %v", op, parent(op))
	}
	resolver := find("Query.tickets")
	if parent(resolver) != op {
		t.Fatalf("the resolver's span is not under the operation's: parent %v", parent(resolver))
	}
	var sqlUnderResolver int
	for _, s := range spans {
		if q := attr(s, "db.query.text"); q != "" {
			if !bytes.Equal(s.TraceId, httpSpan.TraceId) && !bytes.Equal(s.TraceId, find("mutation Open").TraceId) {
				t.Errorf("an SQL span outside the requests' traces (%s): %q", s.Name, q)
			}
			if parent(s) == resolver && strings.Contains(q, "tickets") {
				sqlUnderResolver++
			}
		}
		for _, a := range s.Attributes {
			if strings.Contains(a.GetValue().String(), "secret-body-text") {
				t.Errorf("span %s carries a variable's value in %s", s.Name, a.Key)
			}
		}
	}
	if sqlUnderResolver == 0 {
		t.Fatal("no SQL span reading tickets under the resolver's span")
	}
	mut := find("Mutation.createTicket")
	if parent(mut) != find("mutation Open") {
		t.Fatalf("the mutation resolver's span is not under its operation")
	}

	// The operation's latency links to its trace.
	fams, err := a.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exemplar string
	for _, f := range fams {
		if f.GetName() != "socdesk_graphql_request_duration_seconds" {
			continue
		}
		for _, m := range f.Metric {
			named := false
			for _, l := range m.Label {
				named = named || (l.GetName() == "operation" && l.GetValue() == "ListTickets")
			}
			for _, b := range m.GetHistogram().GetBucket() {
				for _, l := range b.GetExemplar().GetLabel() {
					if named && l.GetName() == "trace_id" {
						exemplar = l.GetValue()
					}
				}
			}
		}
	}
	if exemplar != clientTrace {
		t.Errorf("the ListTickets latency's exemplar names trace %q, want %s", exemplar, clientTrace)
	}

	var logged bool
	for _, l := range jsonLines(logs.String()) {
		if l["msg"] == "request" && l["operation"] == "ListTickets" {
			logged = true
			if l["trace_id"] != clientTrace {
				t.Errorf("the request's log line has trace_id %v, want %s", l["trace_id"], clientTrace)
			}
		}
	}
	if !logged {
		t.Fatal("no request log line for ListTickets")
	}
}

// TestOffUnlessConfigured: without an endpoint nothing is exported and the
// parts are assembled without tracing; OpenTelemetry's own variables turn
// it on, OTEL_SDK_DISABLED off again.
func TestOffUnlessConfigured(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		endpoint string
		env      func(string) string
		want     bool
	}{
		{"", noEnv, false},
		{"http://collector:4318", noEnv, true},
		{"", env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), true},
		{"", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"), true},
		{"http://collector:4318", env("OTEL_SDK_DISABLED", "true"), false},
		{"http://collector:4318", env("OTEL_TRACES_EXPORTER", "none"), false},
	} {
		if got := tracing.Enabled(c.endpoint, c.env); got != c.want {
			t.Errorf("Enabled(%q) = %v, want %v", c.endpoint, got, c.want)
		}
	}
	stop, err := tracing.Setup(context.Background(), "", noEnv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop(context.Background())
	if tracing.Provider() != nil {
		t.Fatal("tracing is on without an endpoint")
	}
	if _, err := tracing.Setup(context.Background(), "collector:4318", noEnv, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("an endpoint without a scheme was accepted")
	}
}

// TestExportFailuresLogged: a collector that cannot be reached is reported
// in the server's own (JSON) log, once, and nothing is written through the
// standard logger in the middle of it.
func TestExportFailuresLogged(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")     // export at once
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200") // and give up soon
	var std bytes.Buffer
	stdlog.SetOutput(&std)
	defer stdlog.SetOutput(os.Stderr)
	var logs syncbuf.Buffer
	stop, err := tracing.Setup(context.Background(), "http://127.0.0.1:1", noEnv, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop(context.Background())
	for i := range 3 {
		_, span := tracing.Provider().Tracer("test").Start(context.Background(), fmt.Sprint("op", i))
		span.End()
		time.Sleep(300 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "OpenTelemetry failed") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["level"] != "WARN" || !strings.Contains(fmt.Sprint(first["msg"]), "OpenTelemetry failed") {
		t.Fatalf("server log: %q", logs.String())
	}
	if len(lines) != 1 {
		t.Errorf("repeats not muted: %d lines", len(lines))
	}
	if std.Len() > 0 {
		t.Errorf("written through the standard logger: %q", std.String())
	}
}
