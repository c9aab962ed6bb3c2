package graph_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/channels"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

const (
	createChannelMut = `mutation($in: CreateChannelInput!) { createChannel(input: $in) { id name type enabled hasSecret } }`
	updateChannelMut = `mutation($id: ID!, $in: UpdateChannelInput!) { updateChannel(id: $id, input: $in) { id name enabled hasSecret } }`
	testChannelMut   = `mutation($id: ID!, $u: ID) { testChannel(id: $id, userID: $u) { ok error durationMs } }`
	channelsQuery    = `{ channels { id name type enabled hasSecret settings {
		email { host port tls username from } webhook { url format } messenger { url format }
		sms { url method authHeader contentType bodyTemplate } } } }`
)

type testResult struct {
	TestChannel struct {
		OK    bool
		Error *string
	}
}

// TestNotifyChannelsAsAPIObjects: admins create, update and test channels
// of every type against real receivers; secrets are write-only (never in a
// response, never in the logs); non-admins may do none of it and see no
// settings; bad settings name their field and change nothing.
func TestNotifyChannelsAsAPIObjects(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			const secret = "Sup3r-Secret-Value-7731"
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{TLS: receivers.SMTPNoTLS})
			hook, sms, msgr := receivers.StartHTTP(t), receivers.StartHTTP(t), receivers.StartHTTP(t)
			site := e.site("HQ")
			anaTok, ana := e.mailUser("ana", []schematype.Permission{schematype.PermissionTicketEdit}, site)
			e.client.User.UpdateOne(ana).SetPhone("+4915112345678").SetMessenger("@ana").ExecX(sys())
			e.client.User.UpdateOne(e.client.User.Query().Where(user.Login("admin")).OnlyX(sys())).SetEmail("admin@example.com").ExecX(sys())
			var responses []string // every response body, to look for the secret in
			do := func(tok, q string, vars map[string]any) *result {
				t.Helper()
				r := e.do(tok, q, vars)
				responses = append(responses, string(r.Data), string(encodeJSON(t, r.Errors)))
				return r
			}
			inputs := map[string]map[string]any{
				"EMAIL":     {"email": map[string]any{"host": smtp.Host, "port": smtp.Port, "tls": "NONE", "from": "soc@example.com"}},
				"WEBHOOK":   {"webhook": map[string]any{"url": hook.URL + "/hook"}},
				"SMS":       {"sms": map[string]any{"url": sms.URL + "/sms", "authHeader": "Authorization", "bodyTemplate": `{"to":"{{.Phone}}","text":"{{.Text}}"}`, "contentType": "application/json"}},
				"MESSENGER": {"messenger": map[string]any{"url": msgr.URL + "/chat", "format": "CHAT"}},
			}
			ids := map[string]string{}
			for _, typ := range []string{"EMAIL", "WEBHOOK", "SMS", "MESSENGER"} {
				in := map[string]any{"name": strings.ToLower(typ), "type": typ, "settings": inputs[typ], "secret": secret}
				if typ == "EMAIL" {
					delete(in, "secret") // NONE refuses a username; no password then
				}
				do(anaTok, createChannelMut, map[string]any{"in": in}).wantCode("FORBIDDEN")
				var c struct {
					CreateChannel struct {
						ID        string
						HasSecret bool
					}
				}
				do(e.admin, createChannelMut, map[string]any{"in": in}).ok().into(&c)
				if c.CreateChannel.HasSecret != (typ != "EMAIL") {
					t.Fatalf("%s hasSecret %v", typ, c.CreateChannel.HasSecret)
				}
				ids[typ] = c.CreateChannel.ID
				do(anaTok, testChannelMut, map[string]any{"id": c.CreateChannel.ID}).wantCode("FORBIDDEN")
				do(anaTok, updateChannelMut, map[string]any{"id": c.CreateChannel.ID, "in": map[string]any{"name": "mine"}}).wantCode("FORBIDDEN")
				var tr testResult
				do(e.admin, testChannelMut, map[string]any{"id": c.CreateChannel.ID, "u": gid(ana.ID)}).ok().into(&tr)
				if !tr.TestChannel.OK {
					t.Fatalf("testing %s: %v", typ, *tr.TestChannel.Error)
				}
			}
			if m := smtp.WaitFor(t, 1, time.Second); m[0].To[0] != "ana@example.com" || !strings.Contains(m[0].Text, "test") {
				t.Fatalf("test mail %+v", m[0])
			}
			if r := hook.WaitFor(t, 1, time.Second)[0]; channels.Verify(secret, r.Header, r.Body, 0, time.Now()) != nil || r.Path != "/hook" {
				t.Fatalf("test webhook %+v", r)
			}
			if r := sms.WaitFor(t, 1, time.Second)[0]; r.Header.Get("Authorization") != secret || !strings.Contains(string(r.Body), `"to":"+4915112345678"`) {
				t.Fatalf("test SMS %+v %s", r.Header, r.Body)
			}
			if r := msgr.WaitFor(t, 1, time.Second)[0]; !strings.HasPrefix(decodeJSON[map[string]string](t, r.Body)["text"], "@ana ") {
				t.Fatalf("test messenger %s", r.Body)
			}

			// Settings: admins see them (never the secret), others null.
			var list struct {
				Channels []struct {
					Type      string
					HasSecret bool
					Settings  *json.RawMessage
				}
			}
			do(e.admin, channelsQuery, nil).ok().into(&list)
			if len(list.Channels) != 4 || list.Channels[2].Settings == nil || !strings.Contains(string(*list.Channels[2].Settings), `"authHeader":"Authorization"`) {
				t.Fatalf("admin's channels %s", encodeJSON(t, list))
			}
			do(anaTok, channelsQuery, nil).ok().into(&list)
			for _, c := range list.Channels {
				if c.Settings != nil && string(*c.Settings) != "null" {
					t.Fatalf("a non-admin sees the settings of %s: %s", c.Type, *c.Settings)
				}
			}
			if !list.Channels[1].HasSecret {
				t.Fatal("hasSecret false for the webhook")
			}

			// Bad settings name the field and change nothing.
			for _, c := range []struct {
				typ, field string
				settings   map[string]any
			}{
				{"EMAIL", "email.host", map[string]any{"email": map[string]any{"host": "", "port": 25, "from": "soc@example.com"}}},
				{"EMAIL", "email.from", map[string]any{"email": map[string]any{"host": "mail.example.com", "port": 25, "from": "nobody"}}},
				{"WEBHOOK", "webhook.url", map[string]any{"webhook": map[string]any{"url": "ftp://example.com/x"}}},
				{"WEBHOOK", "webhook.format", map[string]any{"webhook": map[string]any{"url": "https://example.com/x", "format": "XML"}}},
				{"SMS", "sms.bodyTemplate", map[string]any{"sms": map[string]any{"url": "https://example.com/x", "bodyTemplate": "{{.Nope"}}},
				{"MESSENGER", "messenger.url", map[string]any{"messenger": map[string]any{"url": "not a url"}}},
			} {
				do(e.admin, createChannelMut, map[string]any{"in": map[string]any{"name": "bad", "type": c.typ, "settings": c.settings}}).wantCode("BAD_USER_INPUT", c.field)
				do(e.admin, updateChannelMut, map[string]any{"id": ids[c.typ], "in": map[string]any{"name": "renamed", "settings": c.settings}}).wantCode("BAD_USER_INPUT", c.field)
			}
			// An SMS gateway's auth header needs the secret it carries.
			do(e.admin, createChannelMut, map[string]any{"in": map[string]any{"name": "bad", "type": "SMS", "settings": inputs["SMS"]}}).wantCode("BAD_USER_INPUT", "secret")
			do(e.admin, updateChannelMut, map[string]any{"id": ids["SMS"], "in": map[string]any{"name": "renamed", "secret": ""}}).wantCode("BAD_USER_INPUT", "secret")
			var after struct {
				Channels []struct{ Name string }
			}
			do(e.admin, channelsQuery, nil).ok().into(&after)
			if got := len(after.Channels); got != 4 || slices.ContainsFunc(after.Channels, func(c struct{ Name string }) bool { return c.Name == "renamed" }) {
				t.Fatalf("bad input changed the channels: %+v", after.Channels)
			}

			// Updating keeps the secret unless given; "" removes it.
			var u struct {
				UpdateChannel struct {
					Name      string
					HasSecret bool
				}
			}
			do(e.admin, updateChannelMut, map[string]any{"id": ids["WEBHOOK"], "in": map[string]any{"name": "soc hook"}}).ok().into(&u)
			if u.UpdateChannel.Name != "soc hook" || !u.UpdateChannel.HasSecret {
				t.Fatalf("after a rename %+v", u)
			}
			hook.Reset()
			var tr testResult
			do(e.admin, testChannelMut, map[string]any{"id": ids["WEBHOOK"]}).ok().into(&tr)
			if r := hook.WaitFor(t, 1, time.Second)[0]; !tr.TestChannel.OK || channels.Verify(secret, r.Header, r.Body, 0, time.Now()) != nil {
				t.Fatalf("the renamed webhook is no longer signed with its secret: %+v", r.Header)
			}
			do(e.admin, updateChannelMut, map[string]any{"id": ids["WEBHOOK"], "in": map[string]any{"secret": ""}}).ok().into(&u)
			if u.UpdateChannel.HasSecret {
				t.Fatal("the secret stayed after removing it")
			}

			// A refusing receiver: ok false, with the reason and no secret.
			sms.Fail(http.StatusUnauthorized)
			do(e.admin, testChannelMut, map[string]any{"id": ids["SMS"], "u": gid(ana.ID)}).ok().into(&tr)
			if tr.TestChannel.OK || tr.TestChannel.Error == nil || !strings.Contains(*tr.TestChannel.Error, "401") {
				t.Fatalf("test against a 401: %+v", tr)
			}

			for _, r := range responses {
				if strings.Contains(r, secret) {
					t.Fatalf("a response carries the secret: %s", r)
				}
			}
			if logs := e.logs.String(); strings.Contains(logs, secret) {
				t.Fatalf("the logs carry the secret:\n%s", logs)
			}
		})
	}
}

// TestNotifyChannelRefusedDestination: without an allow-list, a channel on
// 127.0.0.1 is refused when tested (ok false, saying why) and sends nothing.
func TestNotifyChannelRefusedDestination(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.OutboundAllow = ""
			e := newEnvWith(t, b, cfg)
			hook := receivers.StartHTTP(t)
			var c struct{ CreateChannel struct{ ID string } }
			e.do(e.admin, createChannelMut, map[string]any{"in": map[string]any{"name": "local", "type": "WEBHOOK",
				"settings": map[string]any{"webhook": map[string]any{"url": hook.URL}}}}).ok().into(&c)
			var tr testResult
			e.do(e.admin, testChannelMut, map[string]any{"id": c.CreateChannel.ID}).ok().into(&tr)
			if tr.TestChannel.OK || !strings.Contains(deref(tr.TestChannel.Error).(string), "refused") {
				t.Fatalf("test of a loopback channel: %+v (%v)", tr, deref(tr.TestChannel.Error))
			}
			if n := len(hook.Requests()); n != 0 {
				t.Fatalf("the receiver got %d requests", n)
			}
		})
	}
}

// TestNotifyWebhookSigned: a WEBHOOK channel with a secret gets a signed
// JSON POST per change, its Idempotency-Key the delivery's.
func TestNotifyWebhookSigned(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			hook := receivers.StartHTTP(t)
			const secret = "hmac-key-for-the-test"
			e.httpChannel("hook", "WEBHOOK", hook, secret)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			_, w := e.mailUser("w", []schematype.Permission{schematype.PermissionTicketView}, site)
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			e.do(e.admin, watchMut, map[string]any{"id": c.CreateTicket.ID, "u": gid(w.ID), "n": "ALL"}).ok()
			e.do(e.admin, updMut, map[string]any{"id": c.CreateTicket.ID, "in": map[string]any{"title": "Exfiltration over DNS"}}).ok()
			e.settle()
			reqs := hook.Requests()
			if len(reqs) != 2 { // the creation and the update
				t.Fatalf("%d webhook requests, want 2", len(reqs))
			}
			ds := e.deliveries(e.admin, map[string]any{"type": "WEBHOOK"})
			keys := []string{}
			for _, d := range ds {
				if d.Status != "SENT" {
					t.Fatalf("delivery %+v", d)
				}
				keys = append(keys, d.IdempotencyKey)
			}
			got := []string{}
			for _, r := range reqs {
				if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("request %s %s", r.Method, r.Header.Get("Content-Type"))
				}
				if err := channels.Verify(secret, r.Header, r.Body, 0, time.Now()); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if channels.Verify("another key", r.Header, r.Body, 0, time.Now()) == nil {
					t.Fatal("another key verifies too")
				}
				var body struct {
					IdempotencyKey string
					Link           string
					Data           struct {
						Ticket     struct{ Number int }
						Recipients []string
					}
				}
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatal(err)
				}
				if body.IdempotencyKey != r.Key || body.Link != "https://soc.example.com/tickets/1" || body.Data.Ticket.Number != 1 {
					t.Fatalf("body %s", r.Body)
				}
				got = append(got, r.Key)
			}
			slices.Sort(keys)
			slices.Sort(got)
			if !slices.Equal(keys, got) {
				t.Fatalf("keys received %v, deliveries' %v", got, keys)
			}
		})
	}
}

// TestNotifyFailingReceiver: a receiver answering 503 is retried with
// backoff up to JobMaxAttempts and the delivery ends FAILED saying why; an
// admin lists it and retries it with the same key; a 404 is not retried.
func TestNotifyFailingReceiver(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			hook := receivers.StartHTTP(t)
			e.httpChannel("hook", "WEBHOOK", hook, "k")
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			anaTok, _ := e.mailUser("ana", []schematype.Permission{schematype.PermissionTicketEdit}, site)
			hook.Fail(http.StatusServiceUnavailable)
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			e.settle()
			failed := e.deliveries(e.admin, map[string]any{"status": "FAILED"})
			if len(failed) != 1 {
				t.Fatalf("failed deliveries %+v", failed)
			}
			d := failed[0]
			if d.Attempts != 3 || d.LastError == nil || !strings.Contains(*d.LastError, "503") {
				t.Fatalf("failed delivery %+v (%v)", d, deref(d.LastError))
			}
			if n := len(hook.Requests()); n != 3 || hook.Keys()[d.IdempotencyKey] != 3 {
				t.Fatalf("%d requests %v, want 3 with key %s", n, hook.Keys(), d.IdempotencyKey)
			}
			const retry = `mutation($id: ID!) { retryDelivery(id: $id) { id status } }`
			e.do(anaTok, retry, map[string]any{"id": d.ID}).wantCode("FORBIDDEN")
			hook.Reset()
			e.do(e.admin, retry, map[string]any{"id": d.ID}).ok()
			e.settle()
			if r := hook.Requests(); len(r) != 1 || r[0].Key != d.IdempotencyKey {
				t.Fatalf("after the retry: %v, want one request with %s", hook.Keys(), d.IdempotencyKey)
			}
			if got := e.deliveries(e.admin, map[string]any{"status": "SENT"}); len(got) != 1 || got[0].ID != d.ID {
				t.Fatalf("sent deliveries %+v", got)
			}
			e.do(e.admin, retry, map[string]any{"id": d.ID}).wantCode("BAD_USER_INPUT")

			// A permanent failure: one attempt.
			hook.Reset()
			hook.Fail(http.StatusNotFound)
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			e.settle()
			failed = e.deliveries(e.admin, map[string]any{"status": "FAILED"})
			if len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(deref(failed[0].LastError).(string), "404") || len(hook.Requests()) != 1 {
				t.Fatalf("after a 404: %+v, %d requests", failed, len(hook.Requests()))
			}
		})
	}
}

// TestNotifyDisabledChannel: a channel disabled while a delivery waits for
// its next attempt ends it FAILED saying so, and carries nothing more.
func TestNotifyDisabledChannel(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			hook := receivers.StartHTTP(t)
			id := e.httpChannel("hook", "WEBHOOK", hook, "")
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			hook.Delay(time.Second)
			hook.FailNext(1, http.StatusServiceUnavailable)
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			hook.WaitFor(t, 1, 5*time.Second) // the first attempt is under way
			e.do(e.admin, updateChannelMut, map[string]any{"id": id, "in": map[string]any{"enabled": false}}).ok()
			e.settle()
			ds := e.deliveries(e.admin, nil)
			if len(ds) != 1 || ds[0].Status != "FAILED" || ds[0].Attempts != 2 || !strings.Contains(deref(ds[0].LastError).(string), "disabled") {
				t.Fatalf("deliveries %+v (%v)", ds, deref(ds[0].LastError))
			}
			hook.Reset()
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			e.settle()
			if n := len(e.deliveries(e.admin, nil)); n != 1 || len(hook.Requests()) != 0 {
				t.Fatalf("a disabled channel: %d deliveries, %d requests", n, len(hook.Requests()))
			}
		})
	}
}

// deref is *p, or "" for nil.
func deref(p *string) any {
	if p == nil {
		return ""
	}
	return *p
}
