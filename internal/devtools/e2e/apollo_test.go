package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socdesk/internal/devtools/wstest"
	"socdesk/internal/errs"
)

// fetches and results split what Apollo Client reported.
func fetches(lines []wstest.ApolloLine) (f, r []wstest.ApolloLine) {
	for _, l := range lines {
		if l.Type == "fetch" {
			f = append(f, l)
		} else {
			r = append(r, l)
		}
	}
	return f, r
}

// wantSent fails unless the requests carried the document (true) or only
// its hash (false), in this order.
func wantSent(t *testing.T, what string, f []wstest.ApolloLine, sent ...bool) {
	t.Helper()
	ok := len(f) == len(sent)
	for i := range f {
		if ok && (f[i].SentQuery() != sent[i] || f[i].Body["extensions"].(map[string]any)["persistedQuery"] == nil) {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("%s: want %d requests sending the document %v (each with its hash), got %+v", what, len(sent), sent, f)
	}
}

func wantData(t *testing.T, what string, r []wstest.ApolloLine, n int) {
	t.Helper()
	if len(r) != n {
		t.Fatalf("%s: want %d results, got %+v", what, n, r)
	}
	for _, l := range r {
		if l.Type != "result" || len(l.Data) < 3 {
			t.Fatalf("%s: %+v", what, l)
		}
	}
}

// TestApolloPersistedQueries: Apollo Client 4's persisted-query link against
// one server keeping the documents in memory: the first request of a
// document sends its hash only, gets PERSISTED_QUERY_NOT_FOUND and sends it
// again with the document; from then on the hash alone runs it, for
// another client too, for mutations, and over GET.
func TestApolloPersistedQueries(t *testing.T) {
	wstest.EnsureDeps(t)
	c := newCluster(t)
	s := c.start("A", "", nil)
	url := s.URL + "/graphql"
	me := wstest.ApolloOp{Query: `query Me { viewer { login } }`}

	f, r := fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Persisted: true, Ops: []wstest.ApolloOp{me, me}}))
	wantSent(t, "first client", f, false, true, false)
	wantData(t, "first client", r, 2)
	if !strings.Contains(string(r[0].Data), `"admin"`) {
		t.Fatalf("data %s", r[0].Data)
	}

	f, r = fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Persisted: true, Ops: []wstest.ApolloOp{me}}))
	wantSent(t, "second client", f, false)
	wantData(t, "second client", r, 1)

	tag := `mutation Tag($n: String!) { createTag(input: {name: $n}) { name } }`
	f, r = fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Persisted: true, Ops: []wstest.ApolloOp{
		{Query: tag, Variables: map[string]any{"n": "phishing"}}, {Query: tag, Variables: map[string]any{"n": "malware"}}}}))
	wantSent(t, "mutations", f, false, true, false)
	wantData(t, "mutations", r, 2)
	if !strings.Contains(string(r[1].Data), `"malware"`) {
		t.Fatalf("second mutation: %s", r[1].Data)
	}

	sites := wstest.ApolloOp{Query: `query Sites { sites { name } }`}
	f, _ = fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Persisted: true, GETForHashed: true, Ops: []wstest.ApolloOp{sites}}))
	wantSent(t, "GET, unknown", f, false, true)
	if f[0].Method != "GET" || f[1].Method != "POST" {
		t.Fatalf("want GET then POST, got %s, %s", f[0].Method, f[1].Method)
	}
	f, r = fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Persisted: true, GETForHashed: true, Ops: []wstest.ApolloOp{sites}}))
	wantSent(t, "GET, known", f, false)
	wantData(t, "GET, known", r, 1)
	if f[0].Method != "GET" {
		t.Fatalf("want GET, got %s", f[0].Method)
	}
}

// TestApolloPersistedQueriesAcrossReplicas: a document registered through
// one replica runs by its hash alone through another sharing its Redis,
// the first time a fresh client asks that replica.
func TestApolloPersistedQueriesAcrossReplicas(t *testing.T) {
	wstest.EnsureDeps(t)
	redisURL := sharedRedis(t)
	c := newCluster(t)
	a := c.start("A", redisURL, nil)
	b := c.start("B", redisURL, nil)
	// A document of this run's own: the shared Redis may hold earlier runs'.
	q := wstest.ApolloOp{Query: `query Me { viewer { login run_` + randomHex(6) + `: login } }`}

	f, r := fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: a.URL + "/graphql", Token: c.token, Persisted: true, Ops: []wstest.ApolloOp{q}}))
	wantSent(t, "through A", f, false, true)
	wantData(t, "through A", r, 1)
	f, r = fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: b.URL + "/graphql", Token: c.token, Persisted: true, Ops: []wstest.ApolloOp{q}}))
	wantSent(t, "through B", f, false)
	wantData(t, "through B", r, 1)
}

// TestApolloUnauthenticated: a request without a valid token is answered
// 401 in the media type Apollo Client 4 asks for
// (application/graphql-response+json), so it reports a GraphQL error with
// code UNAUTHENTICATED, not a bare ServerError; with the persisted-query
// link too, which must not retry it.
func TestApolloUnauthenticated(t *testing.T) {
	wstest.EnsureDeps(t)
	c := newCluster(t)
	s := c.start("A", "", nil)
	for _, o := range []wstest.ApolloOptions{
		{},
		{Token: "sdk_not_a_token_" + randomHex(16)},
		{Token: "sdk_not_a_token_" + randomHex(16), Persisted: true},
	} {
		o.URL = s.URL + "/graphql"
		o.Ops = []wstest.ApolloOp{{Query: `query Me { viewer { login } }`}}
		f, r := fetches(wstest.Apollo(t, o))
		if len(r) != 1 || r[0].Name != "CombinedGraphQLErrors" || len(r[0].Errors) != 1 ||
			r[0].Errors[0].Extensions["code"] != string(errs.Unauthenticated) {
			t.Fatalf("token %q persisted %v: want a GraphQL error UNAUTHENTICATED, got %+v", o.Token, o.Persisted, r)
		}
		if len(f) != 1 || f[0].Status != 401 || !strings.HasPrefix(f[0].ContentType, errs.MediaGraphQLResponse) {
			t.Fatalf("token %q persisted %v: want one 401 answered as %s, got %+v", o.Token, o.Persisted, errs.MediaGraphQLResponse, f)
		}
	}
}

// TestApolloPersistedOnly: with SOCDESK_PERSISTED_ONLY the server runs the
// manifest's documents, named by the ids Apollo's manifest tooling gives
// the link, and refuses any other document with FORBIDDEN, sent in full or
// by hash, whatever the client registered before.
func TestApolloPersistedOnly(t *testing.T) {
	wstest.EnsureDeps(t)
	c := newCluster(t)
	body := "query Me {\n  viewer {\n    login\n  }\n}"
	sum := sha256.Sum256([]byte(body))
	manifest, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []any{map[string]any{"id": hex.EncodeToString(sum[:]), "name": "Me", "type": "query", "body": body}}})
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	s := c.start("A", "", map[string]string{"SOCDESK_PERSISTED_ONLY": "true", "SOCDESK_PERSISTED_QUERIES": path})
	url := s.URL + "/graphql"

	f, r := fetches(wstest.Apollo(t, wstest.ApolloOptions{URL: url, Token: c.token, Manifest: path,
		Ops: []wstest.ApolloOp{{Query: "query Me { viewer { login } }"}}}))
	wantSent(t, "listed", f, false)
	wantData(t, "listed", r, 1)
	if !strings.Contains(string(r[0].Data), `"admin"`) {
		t.Fatalf("data %s", r[0].Data)
	}

	for _, o := range []wstest.ApolloOptions{{}, {Persisted: true}} {
		o.URL, o.Token = url, c.token
		o.Ops = []wstest.ApolloOp{{Query: "query Sites { sites { name } }"}}
		f, r := fetches(wstest.Apollo(t, o))
		if len(f) != 1 || len(r) != 1 || r[0].Name != "CombinedGraphQLErrors" || r[0].Errors[0].Extensions["code"] != string(errs.Forbidden) {
			t.Fatalf("unlisted (persisted link %v): want one request refused with FORBIDDEN, got %+v %+v", o.Persisted, f, r)
		}
	}
}
