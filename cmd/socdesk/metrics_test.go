package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMetricsListeners: /metrics is served on its own listener when
// SOCDESK_METRICS_ADDR is set (and not on the API's), on the API's behind
// the token when only SOCDESK_METRICS_TOKEN is, and nowhere by default; a
// short token is refused at start.
func TestMetricsListeners(t *testing.T) {
	const token = "metrics-token-0123456789abcdef"
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	serve := func(env map[string]string) func() {
		t.Helper()
		_, stop := serveReady(t, env)
		return stop
	}
	const series = "socdesk_graphql_requests_total"

	t.Run("own listener", func(t *testing.T) {
		addr, maddr := freeAddr(t), freeAddr(t)
		stop := serve(map[string]string{"SOCDESK_ADDR": addr, "SOCDESK_METRICS_ADDR": maddr})
		defer stop()
		// A request first, so that the GraphQL series have a sample.
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		if code, body := get("http://"+maddr+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "socdesk_http_requests_total") || !strings.Contains(body, "go_sql_open_connections") {
			t.Fatalf("own listener: %d\n%.500s", code, body)
		}
		if code, _ := get("http://"+addr+"/metrics", ""); code != http.StatusNotFound {
			t.Fatalf("the API listener serves metrics too: %d", code)
		}
	})
	t.Run("token on the main listener", func(t *testing.T) {
		addr := freeAddr(t)
		stop := serve(map[string]string{"SOCDESK_ADDR": addr, "SOCDESK_METRICS_TOKEN": token})
		defer stop()
		if code, body := get("http://"+addr+"/metrics", ""); code != http.StatusUnauthorized || strings.Contains(body, series) {
			t.Fatalf("without the token: %d %.200s", code, body)
		}
		if code, body := get("http://"+addr+"/metrics", token); code != http.StatusOK || !strings.Contains(body, "socdesk_live_subscriptions") {
			t.Fatalf("with the token: %d %.500s", code, body)
		}
	})
	t.Run("neither", func(t *testing.T) {
		addr := freeAddr(t)
		stop := serve(map[string]string{"SOCDESK_ADDR": addr})
		defer stop()
		if code, _ := get("http://"+addr+"/metrics", token); code != http.StatusNotFound {
			t.Fatalf("metrics served unasked: %d", code)
		}
	})
	t.Run("short token", func(t *testing.T) {
		var out syncBuffer
		env := map[string]string{"SOCDESK_DATA_DIR": t.TempDir(), "SOCDESK_METRICS_TOKEN": "short"}
		if err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out, &out); err == nil || !strings.Contains(err.Error(), "metrics token") {
			t.Fatalf("a short metrics token: %v", err)
		}
	})
}

// TestServeExportsTraces: with SOCDESK_OTLP_ENDPOINT set, serve exports
// the spans of the requests it answers, flushed when it stops (the
// receiving end is checked span by span in package tracing).
func TestServeExportsTraces(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	addr := freeAddr(t)
	logs, stop := serveReady(t, map[string]string{"SOCDESK_ADDR": addr, "SOCDESK_OTLP_ENDPOINT": collector.URL})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ viewer { login } }"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stop() // flushes the spans
	if posts.Load() == 0 {
		t.Fatalf("no spans exported to the OTLP endpoint\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "trace_id=") {
		t.Fatalf("no trace id in the request log:\n%s", logs.String())
	}
}

// TestHelpNamesOperationsSettings: --help names the metrics and tracing
// settings and never shows the metrics token from the environment.
func TestHelpNamesOperationsSettings(t *testing.T) {
	var out syncBuffer
	env := map[string]string{"SOCDESK_METRICS_TOKEN": "hush-hush-hush-hush-hush"}
	_ = run(context.Background(), []string{"serve", "--help"}, func(k string) string { return env[k] }, &out, &out)
	for _, v := range []string{"SOCDESK_METRICS_ADDR", "SOCDESK_METRICS_TOKEN", "SOCDESK_OTLP_ENDPOINT"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("serve --help does not mention %s", v)
		}
	}
	if strings.Contains(out.String(), "hush-hush") {
		t.Fatal("serve --help shows the metrics token")
	}
}
