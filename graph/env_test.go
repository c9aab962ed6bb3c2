package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/app"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/live"
	"socdesk/internal/metrics"
	"socdesk/internal/store"
	"socdesk/internal/viewer"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// env is a running socdesk API on a real database, driven over HTTP.
type env struct {
	t       *testing.T
	backend string
	st      *store.Store
	client  *ent.Client
	srv     *httptest.Server
	broker  events.Broker
	hub     *live.Hub
	app     *app.App
	metrics *metrics.Metrics
	admin   string // the admin's token
	queries atomic.Int64
	sqlMu   sync.Mutex
	sql     []string   // every statement run, in order
	faults  faults     // database failures on demand
	logs    logCapture // everything the server logged
}

// statementsSince returns the statements run after the first n.
func (e *env) statementsSince(n int) []string {
	e.sqlMu.Lock()
	defer e.sqlMu.Unlock()
	return append([]string(nil), e.sql[n:]...)
}

func (e *env) statementCount() int {
	e.sqlMu.Lock()
	defer e.sqlMu.Unlock()
	return len(e.sql)
}

// forEachBackend runs fn against PostgreSQL and the embedded SQLite default.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}

func newEnv(t *testing.T, backend string) *env { return newEnvWith(t, backend, config.Default()) }

// newEnvWith is newEnv with other settings.
func newEnvWith(t *testing.T, backend string, cfg config.Config) *env {
	return newEnvOn(t, backend, cfg, events.NewLocal())
}

// newEnvOn is newEnvWith publishing through broker, the app assembled with opts.
func newEnvOn(t *testing.T, backend string, cfg config.Config, broker events.Broker, opts ...app.Option) *env {
	e := &env{t: t, backend: backend, broker: broker}
	if cfg.BlobURL == "" { // attachments' contents in the test's own directory
		cfg.BlobURL = "file://" + t.TempDir() + "?no_tmp_dir=1&metadata=skip"
	}
	e.st = testdb.Open(t, backend, testdb.Options{Driver: func(d dialect.Driver) dialect.Driver {
		return e.faults.wrap(dialect.DebugWithContext(d, func(_ context.Context, a ...any) {
			e.queries.Add(1)
			e.sqlMu.Lock()
			e.sql = append(e.sql, fmt.Sprint(a...))
			e.sqlMu.Unlock()
			if os.Getenv("SOCDESK_LOG_SQL") != "" {
				fmt.Fprintln(os.Stderr, a...)
			}
		}))
	}})
	e.client = e.st.Client
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log = slog.New(e.logs.handler(log.Handler()))
	a := app.New(e.st, e.broker, cfg, log, e.st.Ping, opts...)
	e.hub, e.app, e.metrics = a.Hub, a, a.Metrics
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { _ = a.Run(hubCtx); close(hubDone) }()
	t.Cleanup(func() { stopHub(); <-hubDone })
	e.srv = httptest.NewServer(a.Handler)
	t.Cleanup(e.srv.Close)
	tok, err := auth.Bootstrap(context.Background(), e.client, "")
	if err != nil || tok == "" {
		t.Fatalf("bootstrap: %q %v", tok, err)
	}
	e.admin = tok
	return e
}

// sys is a context that bypasses policies, for fixtures and checks.
func sys() context.Context { return authz.System(context.Background()) }

// user creates a user with a token and returns the token.
func (e *env) user(login string, role user.Role, perms []schematype.Permission, sites ...int) (string, *ent.User) {
	e.t.Helper()
	u, err := e.client.User.Create().SetLogin(login).SetDisplayName(login).SetRole(role).
		SetPermissions(perms).AddSiteIDs(sites...).Save(sys())
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := auth.Issue(context.Background(), e.client, login, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, u
}

func (e *env) site(name string) int {
	e.t.Helper()
	return e.client.Site.Create().SetName(name).SaveX(sys()).ID
}

func (e *env) category(name string, w category.Workflow) int {
	e.t.Helper()
	return e.client.Category.Create().SetName(name).SetWorkflow(w).SaveX(sys()).ID
}

func (e *env) tag(name string) int {
	e.t.Helper()
	return e.client.Tag.Create().SetName(name).SaveX(sys()).ID
}

// gqlError is one error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// result is a GraphQL response.
type result struct {
	t           *testing.T
	Status      int
	ContentType string
	Data        json.RawMessage `json:"data"`
	Errors      []gqlError      `json:"errors"`
}

// code returns the first error's extensions.code, or "".
func (r *result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// field returns the first error's extensions.field, or "".
func (r *result) field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}

// ok fails the test unless the response has no errors.
func (r *result) ok() *result {
	r.t.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		r.t.Fatalf("status %d, errors %+v", r.Status, r.Errors)
	}
	return r
}

// into decodes the data into v.
func (r *result) into(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		r.t.Fatalf("decoding %s: %v", r.Data, err)
	}
}

// wantCode fails the test unless the first error has code (and field, if given).
func (r *result) wantCode(code string, field ...string) {
	r.t.Helper()
	if r.code() != code {
		r.t.Fatalf("want %s, got status %d errors %+v data %s", code, r.Status, r.Errors, r.Data)
	}
	if len(field) > 0 && r.field() != field[0] {
		r.t.Fatalf("want field %q, got %q (%+v)", field[0], r.field(), r.Errors)
	}
}

// do posts a GraphQL request with token.
func (e *env) do(token, query string, vars map[string]any) *result {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) *result {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &result{t: e.t, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	if strings.Contains(r.ContentType, "json") {
		if err := json.Unmarshal(raw, r); err != nil {
			e.t.Fatalf("status %d: decoding %q: %v", resp.StatusCode, raw, err)
		}
	}
	return r
}

// gid is the GraphQL ID of an ent id.
func gid(id int) string { return scalar.EncodeID(id) }

// gids maps ids to GraphQL IDs.
func gids(ids ...int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = gid(id)
	}
	return out
}

// viewerContext is the context of a request by the user with login.
func (e *env) viewerContext(t *testing.T, login string) context.Context {
	t.Helper()
	u := e.client.User.Query().Where(user.Login(login)).WithSites().OnlyX(sys())
	v := &viewer.Viewer{UserID: u.ID, Login: u.Login, Role: viewer.Role(u.Role), Permissions: u.Permissions}
	for _, s := range u.Edges.Sites {
		v.SiteIDs = append(v.SiteIDs, s.ID)
	}
	return viewer.NewContext(context.Background(), v)
}

func encodeJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// equalJSON compares values as JSON.
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
