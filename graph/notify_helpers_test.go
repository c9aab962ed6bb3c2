package graph_test

import (
	"testing"
	"time"

	"socdesk/internal/config"
	"socdesk/internal/devtools/receivers"
)

// deliveryConfig is the settings of tests that deliver: jobs polled and
// retried fast, the receivers on 127.0.0.1 admitted.
func deliveryConfig() config.Config {
	cfg := config.Default()
	cfg.JobPoll = 50 * time.Millisecond
	cfg.JobRetryBase = 20 * time.Millisecond
	cfg.JobMaxAttempts = 3
	cfg.OutboundAllow = "127.0.0.0/8"
	cfg.PublicURL = "https://soc.example.com"
	return cfg
}

// emailChannel makes an EMAIL channel to smtp (plain SMTP: the channel
// tests cover TLS) and returns its GraphQL id.
func (e *env) emailChannel(name string, smtp *receivers.SMTP) string {
	e.t.Helper()
	var c struct{ CreateChannel struct{ ID string } }
	e.do(e.admin, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": name, "type": "EMAIL", "settings": map[string]any{"email": map[string]any{
			"host": smtp.Host, "port": smtp.Port, "tls": "NONE", "from": "socdesk@example.com"}}}}).ok().into(&c)
	return c.CreateChannel.ID
}

// httpChannel makes a WEBHOOK, SMS or MESSENGER channel to r and returns
// its GraphQL id.
func (e *env) httpChannel(name, typ string, r *receivers.HTTP, secret string) string {
	e.t.Helper()
	settings := map[string]any{}
	switch typ {
	case "WEBHOOK":
		settings["webhook"] = map[string]any{"url": r.URL}
	case "MESSENGER":
		settings["messenger"] = map[string]any{"url": r.URL}
	case "SMS":
		settings["sms"] = map[string]any{"url": r.URL, "authHeader": "Authorization", "bodyTemplate": `{"to":"{{.Phone}}","text":"{{.Text}}"}`}
	}
	in := map[string]any{"name": name, "type": typ, "settings": settings}
	if secret != "" {
		in["secret"] = secret
	}
	var c struct{ CreateChannel struct{ ID string } }
	e.do(e.admin, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { id } }`, map[string]any{"in": in}).ok().into(&c)
	return c.CreateChannel.ID
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
