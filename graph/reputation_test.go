package graph_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/reputationresult"
	"socdesk/ent/user"
	"socdesk/internal/config"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

// TestDetectionTemplates: the templates are served with their fields as
// the validation reads them — each required field's absence is refused,
// naming it — to viewers who read tickets, and to nobody else.
func TestDetectionTemplates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		viewTok, _ := e.user("vic", user.RoleANALYST, view, site)
		noneTok, _ := e.user("nob", user.RoleANALYST, nil, site)
		const q = `{ detectionTemplates { template label description fields { name label type required custom description } } }`
		var out struct {
			DetectionTemplates []struct {
				Template, Label string
				Fields          []struct {
					Name, Label, Type string
					Required, Custom  bool
				}
			}
		}
		e.do(viewTok, q, nil).ok().into(&out)
		var names []string
		for _, tpl := range out.DetectionTemplates {
			names = append(names, tpl.Template)
		}
		if strings.Join(names, ",") != "NETWORK,ENDPOINT,EMAIL" {
			t.Fatalf("templates %v", names)
		}
		types := map[string]string{}
		for _, tpl := range out.DetectionTemplates {
			for _, f := range tpl.Fields {
				types[tpl.Template+"."+f.Name] = f.Type
				if !f.Required {
					continue
				}
				// A ticket of the template without this field is refused, naming it.
				d := map[string]any{"template": tpl.Template, "sourceIP": "8.8.8.8", "destinationIP": "1.1.1.1", "host": "ws-01",
					"customFields": []map[string]any{{"key": "from", "value": "a@example.com"}, {"key": "to", "value": "b@example.com"}}}
				field := "input.detection.customFields"
				if f.Custom {
					var kept []map[string]any
					for _, c := range d["customFields"].([]map[string]any) {
						if c["key"] != f.Name {
							kept = append(kept, c)
						}
					}
					d["customFields"] = kept
				} else {
					delete(d, f.Name)
					field = "input.detection." + f.Name
				}
				e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
					"kind": "DETECTION", "title": "t", "siteID": gid(site), "categoryID": gid(cat), "detection": d}}).wantCode("BAD_USER_INPUT", field)
			}
		}
		for k, want := range map[string]string{"NETWORK.sourceIP": "IP", "NETWORK.sourcePort": "PORT", "NETWORK.firstDetectedAt": "TIME",
			"ENDPOINT.host": "HOST", "ENDPOINT.fileHash": "HASH", "EMAIL.from": "EMAIL", "EMAIL.url": "URL"} {
			if types[k] != want {
				t.Errorf("%s is %q, want %s", k, types[k], want)
			}
		}
		e.do(noneTok, q, nil).wantCode("FORBIDDEN")
	})
}

// forEachBackendWithVT runs fn on each backend with a fake VirusTotal and
// the settings cfg makes of reputationConfig's.
func forEachBackendWithVT(t *testing.T, cfg func(*config.Config), fn func(t *testing.T, e *env, fake *receivers.VirusTotal)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			fake := receivers.NewVirusTotal(t, vtKey)
			c := reputationConfig(fake)
			if cfg != nil {
				cfg(&c)
			}
			fn(t, newEnvWith(t, b, c), fake)
		})
	}
}

// reputationConfig admits the fake provider on 127.0.0.1 with key.
func reputationConfig(fake *receivers.VirusTotal) config.Config {
	cfg := deliveryConfig()
	cfg.ReputationURL, cfg.ReputationKey = fake.URL, fake.Key
	cfg.ReputationTimeout = 300 * time.Millisecond
	cfg.ReputationRate = 100 // the rate limit has tests of its own
	return cfg
}

const (
	vtKey           = "vt-api-key-5f2b9c0e7d4a4e1b8c3f"
	reputationQuery = `query($n: Int!) { ticket(number: $n) { reputation { indicator kind status verdict malicious suspicious harmless
		undetected reputation stats permalink fetchedAt ageSeconds stale error retryAt } } }`
	lookupMutation = `mutation($id: ID!, $refresh: Boolean) { lookupReputation(ticketID: $id, refresh: $refresh) { indicator kind status
		verdict malicious suspicious harmless undetected reputation stats permalink fetchedAt ageSeconds stale error retryAt } }`
)

type repResult struct {
	Indicator, Kind, Status string
	Verdict                 *string
	Malicious, Harmless     *int
	Reputation              *int
	Stats                   map[string]int
	Permalink               string
	FetchedAt               *time.Time
	AgeSeconds              *int
	Stale                   bool
	Error                   *string
	RetryAt                 *time.Time
}

// byIndicator indexes results, failing on a key anywhere in them.
func byIndicator(t *testing.T, rs []repResult) map[string]repResult {
	t.Helper()
	if b, _ := json.Marshal(rs); strings.Contains(string(b), vtKey) {
		t.Fatalf("the key in %s", b)
	}
	out := map[string]repResult{}
	for _, r := range rs {
		out[r.Indicator] = r
	}
	return out
}

// detectionTicket creates a NETWORK ticket with evidence and returns its id
// and number.
func (e *env) detectionTicket(site, cat int, src, dst, host string, records ...any) (string, int) {
	e.t.Helper()
	var c struct {
		CreateTicket struct {
			ID     string
			Number int
		}
	}
	e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id number } }`, map[string]any{"in": map[string]any{
		"kind": "DETECTION", "title": "Beacon", "siteID": gid(site), "categoryID": gid(cat), "evidence": records,
		"detection": map[string]any{"template": "NETWORK", "sourceIP": src, "destinationIP": dst, "host": host}}}).ok().into(&c)
	return c.CreateTicket.ID, c.CreateTicket.Number
}

// TestReputationLookup: a ticket's public indicators (never its private
// address) are looked up by its editors, mapped from the provider's answer
// and cached: a second lookup asks nothing, an answer older than the TTL is
// asked again, refresh asks again; viewers read the cache through the
// ticket, viewers of other sites find no ticket; the key appears in no
// answer and no log line.
func TestReputationLookup(t *testing.T) {
	forEachBackendWithVT(t, nil, func(t *testing.T, e *env, fake *receivers.VirusTotal) {
		fake.Report("ip_addresses/8.8.8.8", receivers.VTStats{Malicious: 3, Harmless: 60, Undetected: 8, Reputation: -12})
		fake.Report("domains/evil.example.com", receivers.VTStats{Harmless: 70, Undetected: 2, Reputation: 5})
		hash := strings.Repeat("c0ffee", 10) + "beef"
		fake.Report("files/"+hash, receivers.VTStats{Malicious: 40, Undetected: 20})
		site, other, cat := e.site("HQ"), e.site("Branch"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		editTok, _ := e.user("ana", user.RoleANALYST, edit, site)
		viewTok, _ := e.user("vic", user.RoleANALYST, view, site)
		elsewhere, _ := e.user("eve", user.RoleANALYST, edit, other)
		id, n := e.detectionTicket(site, cat, "8.8.8.8", "10.0.0.5", "evil.example.com",
			map[string]any{"file": map[string]any{"sha256": hash}, "url": "http://phish.example.net/login"})

		var page struct {
			Ticket struct{ Reputation []repResult }
		}
		e.do(viewTok, reputationQuery, map[string]any{"n": n}).ok().into(&page)
		got := byIndicator(t, page.Ticket.Reputation)
		if len(got) != 4 || got["8.8.8.8"].Status != "UNCHECKED" || got[hash].Kind != "FILE_HASH" || got["phish.example.net"].Kind != "DOMAIN" {
			t.Fatalf("before any lookup: %+v", page.Ticket.Reputation)
		}
		if len(fake.Requests()) != 0 {
			t.Fatalf("reading asked the provider: %v", fake.Requests())
		}

		e.do(viewTok, lookupMutation, map[string]any{"id": id}).wantCode("FORBIDDEN")
		e.do(elsewhere, lookupMutation, map[string]any{"id": id}).wantCode("NOT_FOUND", "ticketID")
		if len(fake.Requests()) != 0 {
			t.Fatalf("refused lookups asked the provider: %v", fake.Requests())
		}

		var lk struct{ LookupReputation []repResult }
		e.do(editTok, lookupMutation, map[string]any{"id": id}).ok().into(&lk)
		got = byIndicator(t, lk.LookupReputation)
		ip := got["8.8.8.8"]
		if ip.Status != "OK" || *ip.Verdict != "MALICIOUS" || *ip.Malicious != 3 || *ip.Harmless != 60 || *ip.Reputation != -12 ||
			ip.Stats["undetected"] != 8 || ip.Permalink != "https://www.virustotal.com/gui/ip-address/8.8.8.8" || ip.FetchedAt == nil || ip.Stale || ip.Error != nil {
			t.Fatalf("8.8.8.8: %+v", ip)
		}
		if d := got["evil.example.com"]; d.Status != "OK" || *d.Verdict != "HARMLESS" || d.Permalink != "https://www.virustotal.com/gui/domain/evil.example.com" {
			t.Fatalf("domain: %+v", d)
		}
		if f := got[hash]; f.Status != "OK" || *f.Verdict != "MALICIOUS" || f.Permalink != "https://www.virustotal.com/gui/file/"+hash {
			t.Fatalf("hash: %+v", f)
		}
		if p := got["phish.example.net"]; p.Status != "NOT_FOUND" || p.Verdict != nil || p.FetchedAt == nil {
			t.Fatalf("unknown domain: %+v", p)
		}
		reqs := fake.Requests()
		if len(reqs) != 4 || fake.BadKeys() != 0 || strings.Contains(strings.Join(reqs, ","), "10.0.0.5") {
			t.Fatalf("requests %v, bad keys %d", reqs, fake.BadKeys())
		}

		// Cached: a second lookup asks nothing; viewers read it through the ticket.
		e.do(editTok, lookupMutation, map[string]any{"id": id}).ok().into(&lk)
		if len(fake.Requests()) != 4 || byIndicator(t, lk.LookupReputation)["8.8.8.8"].Status != "OK" {
			t.Fatalf("second lookup: %v %+v", fake.Requests(), lk.LookupReputation)
		}
		e.do(viewTok, reputationQuery, map[string]any{"n": n}).ok().into(&page)
		if r := byIndicator(t, page.Ticket.Reputation)["8.8.8.8"]; r.Status != "OK" || *r.Malicious != 3 {
			t.Fatalf("viewer's cache: %+v", r)
		}
		var none struct{ Ticket *struct{ ID string } }
		r := e.do(elsewhere, reputationQuery, map[string]any{"n": n})
		if r.Data != nil && string(r.Data) != "null" {
			r.into(&none)
		}
		if none.Ticket != nil || strings.Contains(string(r.Data), "8.8.8.8") {
			t.Fatalf("another site's viewer: %s %+v", r.Data, r.Errors)
		}

		// Older than the TTL: stale, and asked again (that one only).
		e.client.ReputationResult.Update().Where(reputationresult.Indicator("8.8.8.8")).
			SetFetchedAt(time.Now().Add(-25 * time.Hour)).ExecX(sys())
		e.do(viewTok, reputationQuery, map[string]any{"n": n}).ok().into(&page)
		if r := byIndicator(t, page.Ticket.Reputation)["8.8.8.8"]; !r.Stale || *r.AgeSeconds < 25*3600 {
			t.Fatalf("aged: %+v", r)
		}
		e.do(editTok, lookupMutation, map[string]any{"id": id}).ok().into(&lk)
		if reqs := fake.Requests(); len(reqs) != 5 || reqs[4] != "ip_addresses/8.8.8.8" || byIndicator(t, lk.LookupReputation)["8.8.8.8"].Stale {
			t.Fatalf("after the TTL: %v %+v", reqs, lk.LookupReputation)
		}
		e.do(editTok, lookupMutation, map[string]any{"id": id, "refresh": true}).ok()
		if len(fake.Requests()) != 9 {
			t.Fatalf("refresh: %v", fake.Requests())
		}
		if strings.Contains(e.logs.String(), vtKey) {
			t.Fatal("the key was logged")
		}
	})
}

// TestReputationFailures: a provider that fails (500), is slow, drops the
// connection, or answers 429 fails no lookup: each result says its status
// and keeps the last answer's counts; over the rate limit nothing is asked
// (the requests are counted at the provider), and after a 429 nothing is
// asked until its Retry-After has passed.
func TestReputationFailures(t *testing.T) {
	forEachBackendWithVT(t, func(c *config.Config) { c.ReputationRate, c.ReputationWindow = 10, time.Hour }, func(t *testing.T, e *env, fake *receivers.VirusTotal) {
		fake.Report("ip_addresses/8.8.8.8", receivers.VTStats{Malicious: 1, Harmless: 50})
		site, cat := e.site("HQ"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		id, _ := e.detectionTicket(site, cat, "8.8.8.8", "10.0.0.5", "")
		age := func() {
			e.client.ReputationResult.Update().Where(reputationresult.Indicator("8.8.8.8")).
				SetFetchedAt(time.Now().Add(-25 * time.Hour)).ExecX(sys())
		}
		lookup := func(want, reason string, requests int) repResult {
			t.Helper()
			var lk struct{ LookupReputation []repResult }
			e.do(e.admin, lookupMutation, map[string]any{"id": id}).ok().into(&lk)
			r := byIndicator(t, lk.LookupReputation)["8.8.8.8"]
			if r.Status != want || (reason != "" && (r.Error == nil || !strings.Contains(*r.Error, reason))) {
				t.Fatalf("want %s (%q), got %+v", want, reason, r)
			}
			if n := len(fake.Requests()); n != requests {
				t.Fatalf("%d requests at the provider, want %d", n, requests)
			}
			if want != "OK" && (r.Malicious == nil || *r.Malicious != 1 || r.FetchedAt == nil) {
				t.Fatalf("the last answer's counts are lost: %+v", r)
			}
			return r
		}
		lookup("OK", "", 1)
		age()
		fake.SetMode(receivers.VTFailing, 0, "")
		lookup("UNAVAILABLE", "HTTP 500", 2)
		fake.SetMode(receivers.VTSlow, 5*time.Second, "")
		lookup("UNAVAILABLE", "did not answer in time", 3)
		fake.SetMode(receivers.VTDown, 0, "")
		lookup("UNAVAILABLE", "could not be reached", 4)
		fake.SetMode(receivers.VTLimited, 0, "3600")
		r := lookup("RATE_LIMITED", "HTTP 429", 5)
		if r.RetryAt == nil || time.Until(*r.RetryAt) < 59*time.Minute {
			t.Fatalf("retry at %v", r.RetryAt)
		}
		// Paused by the 429: nothing is asked, even with budget left.
		fake.SetMode(receivers.VTAnswer, 0, "")
		lookup("RATE_LIMITED", "rate limit", 5)
	})
}

// TestReputationRateLimit: over the provider's rate limit a lookup asks
// nothing more and answers RATE_LIMITED with when to come back.
func TestReputationRateLimit(t *testing.T) {
	forEachBackendWithVT(t, func(c *config.Config) { c.ReputationRate, c.ReputationWindow = 2, time.Hour }, func(t *testing.T, e *env, fake *receivers.VirusTotal) {
		site, cat := e.site("HQ"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		id, _ := e.detectionTicket(site, cat, "8.8.8.8", "1.1.1.1", "evil.example.com")
		var lk struct{ LookupReputation []repResult }
		e.do(e.admin, lookupMutation, map[string]any{"id": id}).ok().into(&lk)
		limited := 0
		for _, r := range lk.LookupReputation {
			if r.Status == "RATE_LIMITED" {
				limited++
				if r.RetryAt == nil || r.Error == nil {
					t.Fatalf("rate limited without a time or reason: %+v", r)
				}
			}
		}
		if n := len(fake.Requests()); n != 2 || limited != 1 {
			t.Fatalf("%d requests, %d rate limited: %+v", n, limited, lk.LookupReputation)
		}
		e.do(e.admin, lookupMutation, map[string]any{"id": id}).ok()
		if n := len(fake.Requests()); n != 2 {
			t.Fatalf("%d requests after the budget was spent", n)
		}
	})
}

// TestReputationOnIngest: with SOCDESK_REPUTATION_ON_INGEST a new DETECTION
// ticket is looked up by a job (an ANALYSIS ticket is not).
func TestReputationOnIngest(t *testing.T) {
	forEachBackendWithVT(t, func(c *config.Config) { c.ReputationOnIngest = true }, func(t *testing.T, e *env, fake *receivers.VirusTotal) {
		fake.Report("ip_addresses/8.8.8.8", receivers.VTStats{Malicious: 1})
		site, cat := e.site("HQ"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "About 9.9.9.9", "body": "9.9.9.9", "siteID": gid(site), "categoryID": gid(cat)}}).ok()
		_, n := e.detectionTicket(site, cat, "8.8.8.8", "10.0.0.5", "")
		eventually(t, 10*time.Second, "the on-ingestion lookup", func() bool {
			return e.client.ReputationResult.Query().Where(reputationresult.Indicator("8.8.8.8")).ExistX(sys())
		})
		var page struct {
			Ticket struct{ Reputation []repResult }
		}
		e.do(e.admin, reputationQuery, map[string]any{"n": n}).ok().into(&page)
		if r := byIndicator(t, page.Ticket.Reputation)["8.8.8.8"]; r.Status != "OK" || *r.Malicious != 1 {
			t.Fatalf("after ingestion: %+v", r)
		}
		if reqs := fake.Requests(); len(reqs) != 1 {
			t.Fatalf("requests %v", reqs)
		}
	})
}
