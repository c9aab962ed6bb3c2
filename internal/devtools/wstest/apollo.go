package wstest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ApolloOptions configure a run of Apollo Client 4 over HTTP (js/apollo.mjs).
type ApolloOptions struct {
	URL   string // http://host/graphql
	Token string // sent as Authorization: Bearer; "" sends none
	// Persisted puts Apollo's PersistedQueryLink before the HttpLink;
	// GETForHashed makes it send hash-only queries with GET.
	Persisted, GETForHashed bool
	// Manifest, if set, is the path of a persisted-query manifest the link
	// takes its ids from (@apollo/persisted-query-lists).
	Manifest string
	Ops      []ApolloOp
}

// ApolloOp is one operation, run with fetchPolicy no-cache.
type ApolloOp struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// ApolloLine is what the client reported: every HTTP request ("fetch"),
// then each operation's "result" or "error".
type ApolloLine struct {
	Type        string          `json:"type"`
	Op          int             `json:"op"`
	Method      string          `json:"method"`
	Body        map[string]any  `json:"body"` // the request's JSON body, or its GET parameters
	Status      int             `json:"status"`
	ContentType string          `json:"contentType"`
	Data        json.RawMessage `json:"data"`
	Name        string          `json:"name"` // CombinedGraphQLErrors, ServerError, …
	Message     string          `json:"message"`
	Errors      []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	StatusCode int `json:"statusCode"` // a ServerError's
}

// SentQuery reports whether a fetch carried the document itself, not only
// its hash.
func (l ApolloLine) SentQuery() bool { q, _ := l.Body["query"].(string); return q != "" }

// Apollo runs o's operations in one node process and returns what it
// reported. It fails t if node fails or takes over 30 seconds.
func Apollo(t testing.TB, o ApolloOptions) []ApolloLine {
	t.Helper()
	EnsureDeps(t)
	ops, err := json.Marshal(o.Ops)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(Dir(), "apollo.mjs"), "--url", o.URL, "--ops", string(ops)}
	if o.Token != "" {
		args = append(args, "--token", o.Token)
	}
	if o.Persisted {
		args = append(args, "--persisted")
	}
	if o.GETForHashed {
		args = append(args, "--get-for-hashed")
	}
	if o.Manifest != "" {
		args = append(args, "--manifest", o.Manifest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = Dir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("apollo.mjs: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var out []ApolloLine
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		t.Logf("apollo < %s", line)
		var l ApolloLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("apollo.mjs: unparsable output %q", line)
		}
		out = append(out, l)
	}
	return out
}
