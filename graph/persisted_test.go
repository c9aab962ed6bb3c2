package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"socdesk/internal/app"
	"socdesk/internal/config"
	"socdesk/internal/errs"
	"socdesk/internal/events"
	"socdesk/internal/persisted"
)

// noData: the response has no data (null, or no key at all).
func noData(r *result) bool { return r.Data == nil || string(r.Data) == "null" }

func sha(q string) string {
	s := sha256.Sum256([]byte(q))
	return hex.EncodeToString(s[:])
}

// persistedReq posts query (omitted when "") with a persistedQuery
// extension naming hash (omitted when "").
func (e *env) persistedReq(query, hash string, version int) *result {
	e.t.Helper()
	body := map[string]any{}
	if query != "" {
		body["query"] = query
	}
	if hash != "" {
		body["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": version, "sha256Hash": hash}}
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(encodeJSON(e.t, body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+e.admin)
	return e.send(req)
}

// persistedGet asks for hash over GET.
func (e *env) persistedGet(hash string) *result {
	e.t.Helper()
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?extensions="+url.QueryEscape(ext), nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+e.admin)
	return e.send(req)
}

// TestAutomaticPersistedQueries: Apollo's protocol through the handler. A
// hash the server does not know gets PERSISTED_QUERY_NOT_FOUND; the
// document sent with its hash runs and registers it; then the hash alone
// runs it, over POST and GET. Only a document that parses, validates and
// passes the limits, within the size cap, is registered; a hash that is not
// the document's, or not a SHA-256, is bad input and registers nothing.
func TestAutomaticPersistedQueries(t *testing.T) {
	cfg := config.Default()
	cfg.APQMaxBytes = 120
	cfg.MaxRootFields = 3
	e := newEnvWith(t, dialect.Postgres, cfg)

	me := `query Me { viewer { login } }`
	r := e.persistedReq("", sha(me), 1)
	r.wantCode(string(errs.PersistedQueryNotFound))
	if r.Status != http.StatusOK || !noData(r) || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %d %s %+v (Apollo's link looks for the message or the code)", r.Status, r.Data, r.Errors)
	}
	e.persistedReq(me, sha(me), 1).ok()
	if r := e.persistedReq("", sha(me), 1).ok(); !strings.Contains(string(r.Data), `"admin"`) {
		t.Fatalf("by hash: %s", r.Data)
	}
	if r := e.persistedGet(sha(me)).ok(); !strings.Contains(string(r.Data), `"admin"`) {
		t.Fatalf("by hash over GET: %s", r.Data)
	}

	// Registered nothing: the hash alone is still unknown afterwards.
	other := `query Other { viewer { id } }`
	big := `query Big { viewer { login ` + strings.Repeat("x: login ", 12) + `} }`
	for _, tc := range []struct {
		name, query, hash string
		version           int
		code, field       string
	}{
		{"a hash not the document's", other, sha(me + " "), 1, string(errs.BadUserInput), "extensions.persistedQuery"},
		{"a hash not a SHA-256 (a Redis key of any length)", "", strings.Repeat("z", 300), 1, string(errs.BadUserInput), "extensions.persistedQuery"},
		{"an unsupported version", other, sha(other), 2, string(errs.BadUserInput), "extensions.persistedQuery"},
		{"a document that does not validate", `{ nope }`, sha(`{ nope }`), 1, string(errs.BadUserInput), ""},
		{"a document over the limits", `{a:viewer{id}b:viewer{id}c:viewer{id}d:viewer{id}}`, sha(`{a:viewer{id}b:viewer{id}c:viewer{id}d:viewer{id}}`), 1, string(errs.BadUserInput), ""},
		{"a document over the size cap (runs, sent in full)", big, sha(big), 1, "", ""},
	} {
		t.Log(tc.name)
		r := e.persistedReq(tc.query, tc.hash, tc.version)
		if tc.code == "" {
			r.ok()
		} else if r.wantCode(tc.code); tc.field != "" {
			r.wantCode(tc.code, tc.field)
		}
		if len(tc.hash) == 64 {
			e.persistedReq("", tc.hash, 1).wantCode(string(errs.PersistedQueryNotFound))
		}
	}

	// A mutation registered over POST still cannot run over GET.
	tag := `mutation { createTag(input: {name: "apq"}) { id } }`
	e.persistedReq(tag, sha(tag), 1).ok()
	if r := e.persistedGet(sha(tag)); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("mutation by hash over GET: %d %+v", r.Status, r.Errors)
	}
	if n := e.client.Tag.Query().CountX(sys()); n != 1 {
		t.Fatalf("%d tags, want the one created over POST", n)
	}
}

// TestPersistedOnly: in allow-list mode only the manifest's documents run,
// by id or sent in full; nothing a client sends registers a document.
func TestPersistedOnly(t *testing.T) {
	me := "query Me { viewer { login } }"
	manifest, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []any{map[string]any{"id": "me-v1", "name": "Me", "type": "query", "body": me}}})
	m, err := persisted.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, dialect.Postgres, config.Default(), events.NewLocal(), app.WithPersisted(persisted.Listed{Manifest: m}))

	if r := e.persistedReq("", "me-v1", 1).ok(); !strings.Contains(string(r.Data), `"admin"`) {
		t.Fatalf("by id: %s", r.Data)
	}
	e.persistedReq(me, "", 0).ok()
	e.persistedReq(me, "me-v1", 1).ok()
	e.persistedReq(`query Other { viewer { id } }`, "me-v1", 1).wantCode(string(errs.BadUserInput), "extensions.persistedQuery")

	other := `query Other { viewer { id } }`
	for _, r := range []*result{
		e.persistedReq(other, "", 0),
		e.persistedReq("", sha(other), 1),
		e.persistedReq(other, sha(other), 1), // an APQ registration
		e.persistedReq("", sha(other), 1),    // ... registered nothing
		e.persistedGet(sha(me)),              // the id is the manifest's, not a hash
	} {
		r.wantCode(string(errs.Forbidden))
		if !noData(r) {
			t.Fatalf("data %s", r.Data)
		}
	}
}

// TestPersistedOnlyWebsocket: the allow-list holds over websockets too: a
// listed subscription, named by its id, streams; any other is refused.
func TestPersistedOnlyWebsocket(t *testing.T) {
	create := `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`
	manifest, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []any{
			map[string]any{"id": "changes", "type": "subscription", "body": changeQuery},
			map[string]any{"id": "create", "type": "mutation", "body": create},
		}})
	m, err := persisted.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, dialect.Postgres, config.Default(), events.NewLocal(), app.WithPersisted(persisted.Listed{Manifest: m}))
	f := liveSetup(e)
	ws := e.dialWS(t, e.admin, nil)

	ws.send(map[string]any{"type": "subscribe", "id": "other", "payload": map[string]any{"query": `subscription { ticketEvents { kind } }`}})
	if m := ws.nextOf("other"); (m.Type != "error" && m.Type != "next") || m.ID != "other" || !strings.Contains(string(m.Payload), string(errs.Forbidden)) {
		t.Fatalf("unlisted subscription: %s %s", m.Type, m.Payload)
	}
	ws.send(map[string]any{"type": "subscribe", "id": "listed", "payload": map[string]any{
		"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": "changes"}}}})
	waitSubscribed(t, e, 1)
	id := e.liveCreate(e.admin, f.site, f.cat, "Beacon to rare domain")
	if c := ws.change("listed"); c.Kind != "CREATED" || c.Ticket == nil || c.Ticket.ID != id {
		t.Fatalf("listed subscription: %+v", c)
	}
}

// TestPersistedQueryNotRegisteredWhenRateLimited: a document refused by the
// sender's rate budget did not run, so it is not registered either: its
// hash alone is still unknown.
func TestPersistedQueryNotRegisteredWhenRateLimited(t *testing.T) {
	e := newEnvWith(t, dialect.Postgres, rateCfg(5))
	q := `{ a: viewer { login } b: viewer { login } c: viewer { login } }` // 7 points
	r := e.persistedReq(q, sha(q), 1)
	if r.Status != http.StatusTooManyRequests || r.code() != string(errs.RateLimited) {
		t.Fatalf("over the budget: %d %+v", r.Status, r.Errors)
	}
	e.persistedReq("", sha(q), 1).wantCode(string(errs.PersistedQueryNotFound))
}
