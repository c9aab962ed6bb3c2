package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeManifest writes a persisted-query manifest of operations (id → body).
func writeManifest(t *testing.T, ops map[string]string) string {
	t.Helper()
	var list []any
	for id, body := range ops {
		list = append(list, map[string]any{"id": id, "name": "Op", "type": "query", "body": body})
	}
	b, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": list})
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeRefusesBadSettingsBeforeTheDatabase: a listen address that is
// not one, a missing persisted-query manifest (with or without allow-list
// mode) and a manifest document the schema refuses stop `socdesk serve`
// with a message naming the mistake, before the database is created.
func TestServeRefusesBadSettingsBeforeTheDatabase(t *testing.T) {
	bad := writeManifest(t, map[string]string{"broken-1": "query X { nosuchfield }"})
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SOCDESK_METRICS_ADDR": "notanaddr"}, `SOCDESK_METRICS_ADDR: "notanaddr" is not an address to listen on`},
		{map[string]string{"SOCDESK_PERSISTED_QUERIES": "/nonexistent.json"}, "persisted-query manifest: open /nonexistent.json: no such file or directory"},
		{map[string]string{"SOCDESK_PERSISTED_QUERIES": "/nonexistent.json", "SOCDESK_PERSISTED_ONLY": "true"}, "persisted-query manifest: open /nonexistent.json"},
		{map[string]string{"SOCDESK_PERSISTED_QUERIES": bad}, `operation broken-1 does not validate against the schema: line 1, column 11: Cannot query field "nosuchfield" on type "Query".`},
		{map[string]string{"SOCDESK_PERSISTED_QUERIES": bad, "SOCDESK_PERSISTED_ONLY": "true"}, "operation broken-1 does not validate"},
	} {
		dir := t.TempDir()
		tc.env["SOCDESK_DATA_DIR"], tc.env["SOCDESK_ADDR"] = dir, freeAddr(t)
		var logs syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, []string{"serve"}, func(k string) string { return tc.env[k] }, &logs, &logs)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%v: the database was created before the refusal (%d files in the data directory)\n%s", tc.env, len(entries), logs.String())
		}
	}
}

// TestServeManifestWithoutPersistedOnly: a manifest given without
// allow-list mode is loaded, and its documents run by their id, while
// other documents still run.
func TestServeManifestWithoutPersistedOnly(t *testing.T) {
	const token = "sdk_manifest_test_token_0123456789abcdef"
	addr := freeAddr(t)
	logs, stop := serveReady(t, map[string]string{"SOCDESK_ADDR": addr, "SOCDESK_ADMIN_TOKEN": token,
		"SOCDESK_PERSISTED_QUERIES": writeManifest(t, map[string]string{"me-v1": "query Me { viewer { login } }"})})
	defer stop()
	post := func(body string) string {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"me-v1"}}}`); got != `{"data":{"viewer":{"login":"admin"}}}` {
		t.Errorf("by the manifest's id: %s", got)
	}
	if got := post(`{"query":"{ viewer { id login } }"}`); !strings.Contains(got, `"login":"admin"`) {
		t.Errorf("a document not in the manifest: %s", got)
	}
	if !strings.Contains(logs.String(), "persisted-query manifest loaded") || !strings.Contains(logs.String(), "operations=1") {
		t.Errorf("the log does not tell the manifest:\n%s", logs.String())
	}
}
