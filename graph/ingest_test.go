package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"socdesk/ent/category"
	"socdesk/ent/evidence"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/auth"
	"socdesk/internal/channels"
)

// ingestFixture is a site, an analyst who sees it, a service account with a
// token, and a NETWORK rule it may ingest through.
type ingestFixture struct {
	site, cat, tag int
	analyst        *struct{ id int }
	analystTok     string
	svc            string // the service account's token
	svcID          int
	ruleID         string
	rule           string
	secret         string
}

const ruleFields = `id key name kind priority template dedupFields dedupWindowSeconds repeatAfterClose enabled
	titleTemplate evidenceBound hasHmacSecret paths { sourceIP destinationIP sourcePort host }
	category { name } site { name } assignees { login } tags { name } ingesters { login }`

func newIngestFixture(t *testing.T, e *env, extra map[string]any) *ingestFixture {
	t.Helper()
	f := &ingestFixture{site: e.site("hq"), cat: e.category("Network", category.WorkflowAPPROVAL), tag: e.tag("ids"),
		rule: "port-scan", secret: strings.Repeat("k", 40)}
	var a struct{ id int }
	tok, u := e.user("ana", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, f.site)
	a.id, f.analyst, f.analystTok = u.ID, &a, tok
	var created struct {
		CreateUser struct{ ID string } `json:"createUser"`
	}
	e.do(e.admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"login": "ids-sensor", "displayName": "IDS sensor", "role": "SERVICE"}}).ok().into(&created)
	svcTok, err := auth.Issue(t.Context(), e.client, "ids-sensor", "test")
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svcTok
	f.svcID = e.client.User.Query().Where(user.Login("ids-sensor")).OnlyX(sys()).ID
	in := map[string]any{
		"key": f.rule, "name": "Port scan", "categoryID": gid(f.cat), "siteID": gid(f.site), "priority": "HIGH",
		"template": "NETWORK", "assigneeIDs": gids(a.id), "tagIDs": gids(f.tag), "ingesterIDs": []string{created.CreateUser.ID},
		"dedupFields": []string{"src.ip", "dst.ip"}, "titleTemplate": "Port scan from {{.src.ip}} to {{.dst.ip}}",
		"paths": map[string]any{"sourceIP": "src.ip", "destinationIP": "dst.ip", "sourcePort": "src.port", "destinationPort": "dst.port",
			"protocol": "proto", "lastDetectedAt": "ts"},
		"hmacSecret": f.secret,
	}
	for k, v := range extra {
		in[k] = v
	}
	var out struct {
		CreateDetectionRule struct{ ID string } `json:"createDetectionRule"`
	}
	e.do(e.admin, `mutation($in: DetectionRuleInput!) { createDetectionRule(input: $in) { id } }`, map[string]any{"in": in}).ok().into(&out)
	f.ruleID = out.CreateDetectionRule.ID
	return f
}

func scan(src string) map[string]any {
	return map[string]any{"src": map[string]any{"ip": src, "port": 40000}, "dst": map[string]any{"ip": "10.0.0.5", "port": "22"}, "proto": "tcp"}
}

type ingested struct {
	Outcome string
	Ticket  *struct {
		Number, DuplicateCount, DetectionCount, EvidenceDropped int
		Status, ID                                              string
	}
}

const ingestMutation = `mutation($rule: String!, $ev: JSON!, $key: String) { ingestDetection(rule: $rule, event: $ev, idempotencyKey: $key) {
	outcome ticket { id number status duplicateCount detectionCount evidenceDropped } } }`

func (f *ingestFixture) ingest(t *testing.T, e *env, tok string, ev map[string]any, key ...string) ingested {
	t.Helper()
	vars := map[string]any{"rule": f.rule, "ev": ev}
	if len(key) > 0 {
		vars["key"] = key[0]
	}
	var out struct{ IngestDetection ingested }
	e.do(tok, ingestMutation, vars).ok().into(&out)
	return out.IngestDetection
}

// The mapping: title from the template, detection fields from the paths,
// the event as evidence, the rule's category, site, priority, tags and
// assignee; registered by the service account, origin SYSTEM.
func TestIngestMapping(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, nil)
		ev := scan("192.0.2.7")
		ev["ts"] = "2026-12-01T10:00:00Z"
		r := f.ingest(t, e, f.svc, ev)
		if r.Outcome != "CREATED" || r.Ticket == nil || r.Ticket.DetectionCount != 1 {
			t.Fatalf("%+v", r)
		}
		var got struct {
			Ticket struct {
				Title, Kind, Origin, Priority, Status string
				Site                                  struct{ Name string }
				Category                              struct{ Name string }
				Assignees                             []struct{ Login string }
				Tags                                  []struct{ Name string }
				RegisteredBy                          struct{ Login string }
				Detection                             struct {
					Template, SourceIP, DestinationIP, Protocol string
					SourcePort, DestinationPort                 int
					LastDetectedAt                              time.Time
				}
				Evidence struct {
					Edges []struct {
						Node struct{ Record map[string]any }
					}
				}
			}
		}
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { title kind origin priority status site { name } category { name }
			assignees { login } tags { name } registeredBy { login }
			detection { template sourceIP destinationIP protocol sourcePort destinationPort lastDetectedAt }
			evidence(first: 10) { edges { node { record } } } } }`, map[string]any{"n": r.Ticket.Number}).ok().into(&got)
		tk := got.Ticket
		if tk.Title != "Port scan from 192.0.2.7 to 10.0.0.5" || tk.Kind != "DETECTION" || tk.Origin != "SYSTEM" || tk.Priority != "HIGH" ||
			tk.Status != "ASSIGNED" || tk.Site.Name != "hq" || tk.Category.Name != "Network" || len(tk.Assignees) != 1 || tk.Assignees[0].Login != "ana" ||
			len(tk.Tags) != 1 || tk.RegisteredBy.Login != "ids-sensor" {
			t.Errorf("ticket %+v", tk)
		}
		d := tk.Detection
		if d.Template != "NETWORK" || d.SourceIP != "192.0.2.7" || d.DestinationIP != "10.0.0.5" || d.Protocol != "tcp" ||
			d.SourcePort != 40000 || d.DestinationPort != 22 || !d.LastDetectedAt.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("detection %+v", d)
		}
		if len(tk.Evidence.Edges) != 1 || tk.Evidence.Edges[0].Node.Record["proto"] != "tcp" {
			t.Errorf("evidence %+v", tk.Evidence)
		}
		// A value of the wrong type is refused, naming the field; nothing is written.
		bad := scan("192.0.2.8")
		bad["src"].(map[string]any)["port"] = "high"
		e.do(f.svc, ingestMutation, map[string]any{"rule": f.rule, "ev": bad}).wantCode("BAD_USER_INPUT", "event.sourcePort")
		bad = scan("not-an-ip")
		e.do(f.svc, ingestMutation, map[string]any{"rule": f.rule, "ev": bad}).wantCode("BAD_USER_INPUT", "event.sourceIP")
		if n := e.client.Ticket.Query().CountX(sys()); n != 1 {
			t.Errorf("%d tickets after refused events, want 1", n)
		}
	})
}

// A service account ingests and reads what it registered, nothing else.
func TestIngestServiceAccountRights(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, nil)
		// An attack an admin's ingestion opened: the service account's repeat
		// is counted on it, but the ticket is not shown to it.
		theirs := f.ingest(t, e, e.admin, scan("192.0.2.99"))
		if theirs.Ticket == nil {
			t.Fatal("the admin's ingestion shows no ticket")
		}
		if got := f.ingest(t, e, f.svc, scan("192.0.2.99")); got.Outcome != "DUPLICATE" || got.Ticket != nil {
			t.Fatalf("the service account's repeat of another's attack: %+v", got)
		}
		mine := f.ingest(t, e, f.svc, scan("192.0.2.1")).Ticket
		var other struct {
			CreateTicket struct{ Number int } `json:"createTicket"`
		}
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { number } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "someone else's", "body": "x", "categoryID": gid(f.cat), "siteID": gid(f.site)}}).ok().into(&other)
		var seen struct {
			Mine, Other *struct {
				Title    string
				Site     struct{ Name string }
				Category struct{ Name string }
			}
			Tickets struct{ TotalCount int }
			Users   struct {
				Edges []struct{ Node struct{ Login string } }
			}
			Viewer struct{ Login string }
		}
		e.do(f.svc, `query($m: Int!, $o: Int!) { mine: ticket(number: $m) { title site { name } category { name } }
			other: ticket(number: $o) { title } tickets(first: 10) { totalCount } users(first: 10) { edges { node { login } } } viewer { login } }`,
			map[string]any{"m": mine.Number, "o": other.CreateTicket.Number}).ok().into(&seen)
		if seen.Mine == nil || seen.Mine.Site.Name != "hq" || seen.Mine.Category.Name != "Network" || seen.Other != nil || seen.Tickets.TotalCount != 1 ||
			len(seen.Users.Edges) != 1 || seen.Users.Edges[0].Node.Login != "ids-sensor" || seen.Viewer.Login != "ids-sensor" {
			t.Errorf("the service account sees %+v", seen)
		}
		for name, q := range map[string]string{
			"createTag":     `mutation { createTag(input: {name: "x"}) { id } }`,
			"updateTicket":  fmt.Sprintf(`mutation { updateTicket(id: %q, input: {priority: LOW}) { id } }`, mine.ID),
			"addMemo":       fmt.Sprintf(`mutation { addMemo(ticketID: %q, body: "x") { id } }`, mine.ID),
			"createRule":    `mutation { createDetectionRule(input: {key: "x"}) { id } }`,
			"updateRule":    fmt.Sprintf(`mutation { updateDetectionRule(id: %q, input: {key: "Bad Key"}) { id } }`, f.ruleID),
			"deleteRule":    fmt.Sprintf(`mutation { deleteDetectionRule(id: %q) }`, f.ruleID),
			"detectionRule": `{ detectionRules(first: 5) { edges { node { key } } } }`,
		} {
			r := e.do(f.svc, q, nil)
			if c := r.code(); c != "FORBIDDEN" {
				t.Errorf("%s by a service account: %+v %s", name, r.Errors, r.Data)
			}
		}
		// An analyst, and a service account the rule does not name, may not ingest.
		e.do(f.analystTok, ingestMutation, map[string]any{"rule": f.rule, "ev": scan("192.0.2.2")}).wantCode("FORBIDDEN")
		e.do(e.admin, `mutation { createUser(input: {login: "other-sensor", displayName: "x", role: SERVICE}) { id } }`, nil).ok()
		otherTok, _ := auth.Issue(t.Context(), e.client, "other-sensor", "test")
		e.do(otherTok, ingestMutation, map[string]any{"rule": f.rule, "ev": scan("192.0.2.2")}).wantCode("FORBIDDEN")
		e.do(f.svc, ingestMutation, map[string]any{"rule": "no-such-rule", "ev": scan("192.0.2.2")}).wantCode("NOT_FOUND", "rule")
		// A service account holds no permissions nor sites.
		e.do(e.admin, `mutation { createUser(input: {login: "perm-sensor", displayName: "x", role: SERVICE, permissions: [TICKET_VIEW]}) { id } }`, nil).
			wantCode("BAD_USER_INPUT", "input.permissions")
		e.do(e.admin, `mutation($s: [ID!]) { createUser(input: {login: "site-sensor", displayName: "x", role: SERVICE, siteIDs: $s}) { id } }`,
			map[string]any{"s": gids(f.site)}).wantCode("BAD_USER_INPUT", "input.siteIDs")
		if n := e.client.Ticket.Query().CountX(sys()); n != 3 {
			t.Errorf("%d tickets, want 3", n)
		}
	})
}

// Rule CRUD: every bad input names its field; the secret is write-only.
func TestDetectionRuleValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, nil)
		var got struct{ DetectionRule map[string]any }
		r := e.do(e.admin, `query($k: String!) { detectionRule(key: $k) { `+ruleFields+` } }`, map[string]any{"k": f.rule}).ok()
		r.into(&got)
		if got.DetectionRule["hasHmacSecret"] != true || bytes.Contains(r.Data, []byte(f.secret)) {
			t.Errorf("rule %s", r.Data)
		}
		tasks := e.category("Tasks", category.WorkflowTASK)
		outsider, _ := e.user("bob", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView})
		_ = outsider
		bob := e.client.User.Query().Where(user.Login("bob")).OnlyX(sys()).ID
		base := map[string]any{"key": "r2", "name": "R", "categoryID": gid(f.cat), "siteID": gid(f.site), "dedupFields": []string{"a"},
			"titleTemplate": "t", "paths": map[string]any{"sourceIP": "a", "destinationIP": "b"}}
		for _, c := range []struct {
			change map[string]any
			code   string
			field  string
		}{
			{map[string]any{"key": "Bad Key"}, "BAD_USER_INPUT", "input.key"},
			{map[string]any{"key": f.rule}, "CONFLICT", "input.key"},
			{map[string]any{"titleTemplate": "{{.a"}, "BAD_USER_INPUT", "input.titleTemplate"},
			{map[string]any{"paths": map[string]any{"destinationIP": "b"}}, "BAD_USER_INPUT", "input.paths.sourceIP"},
			{map[string]any{"paths": map[string]any{"sourceIP": "a..b", "destinationIP": "b"}}, "BAD_USER_INPUT", "input.paths.sourceIP"},
			{map[string]any{"dedupFields": []string{}}, "BAD_USER_INPUT", "input.dedupFields"},
			{map[string]any{"dedupWindowSeconds": 0}, "BAD_USER_INPUT", "input.dedupWindowSeconds"},
			{map[string]any{"categoryID": gid(tasks)}, "BAD_USER_INPUT", "input.categoryID"},
			{map[string]any{"assigneeIDs": gids(bob)}, "BAD_USER_INPUT", "input.assigneeIDs"},
			{map[string]any{"ingesterIDs": gids(bob)}, "BAD_USER_INPUT", "input.ingesterIDs"},
			{map[string]any{"hmacSecret": "short"}, "BAD_USER_INPUT", "input.hmacSecret"},
			{map[string]any{"evidenceBound": 1001}, "BAD_USER_INPUT", "input.evidenceBound"},
			{map[string]any{"name": nil}, "BAD_USER_INPUT", "input.name"},
		} {
			in := map[string]any{}
			for k, v := range base {
				in[k] = v
			}
			for k, v := range c.change {
				if v == nil {
					delete(in, k)
				} else {
					in[k] = v
				}
			}
			e.do(e.admin, `mutation($in: DetectionRuleInput!) { createDetectionRule(input: $in) { id } }`, map[string]any{"in": in}).wantCode(c.code, c.field)
		}
		if n := e.client.DetectionRule.Query().CountX(sys()); n != 1 {
			t.Errorf("%d rules after refused inputs, want 1", n)
		}
		// An analyst cannot make rules nor see them; an update changes what it names.
		e.do(f.analystTok, `mutation($in: DetectionRuleInput!) { createDetectionRule(input: $in) { id } }`, map[string]any{"in": base}).wantCode("FORBIDDEN")
		var upd struct{ UpdateDetectionRule map[string]any }
		e.do(e.admin, `mutation($id: ID!) { updateDetectionRule(id: $id, input: {enabled: false, clearHmacSecret: true}) { enabled hasHmacSecret } }`,
			map[string]any{"id": f.ruleID}).ok().into(&upd)
		if upd.UpdateDetectionRule["enabled"] != false || upd.UpdateDetectionRule["hasHmacSecret"] != false {
			t.Errorf("updated %+v", upd)
		}
		e.do(f.svc, ingestMutation, map[string]any{"rule": f.rule, "ev": scan("192.0.2.1")}).wantCode("FORBIDDEN")
		e.do(e.admin, `mutation($id: ID!) { deleteDetectionRule(id: $id) }`, map[string]any{"id": f.ruleID}).ok()
	})
}

// Repeats within the window count on the ticket; after the window, or
// after a close, a NEW_LINKED rule opens a new ticket linked to the old
// one and a REOPEN rule reopens it.
func TestIngestDedup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		e.app.Ingest.Now = func() time.Time { return now }
		f := newIngestFixture(t, e, map[string]any{"dedupWindowSeconds": 600})
		first := f.ingest(t, e, f.svc, scan("192.0.2.1"))
		now = now.Add(5 * time.Minute)
		second := f.ingest(t, e, f.svc, scan("192.0.2.1"))
		other := f.ingest(t, e, f.svc, scan("192.0.2.99"))
		if second.Outcome != "DUPLICATE" || second.Ticket.Number != first.Ticket.Number || second.Ticket.DuplicateCount != 1 || second.Ticket.DetectionCount != 2 {
			t.Fatalf("second %+v first %+v", second, first)
		}
		if other.Outcome != "CREATED" || other.Ticket.Number == first.Ticket.Number {
			t.Errorf("another attack %+v", other)
		}
		var h struct {
			Ticket struct {
				History struct {
					Edges []struct{ Node struct{ Kind string } }
				}
				Links []struct {
					Kind   string
					Ticket struct{ Number int }
				}
			}
		}
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { history(first: 10) { edges { node { kind } } } links { kind ticket { number } } } }`,
			map[string]any{"n": first.Ticket.Number}).ok().into(&h)
		if k := h.Ticket.History.Edges; len(k) != 2 || k[1].Node.Kind != "DUPLICATE" {
			t.Errorf("history %+v", k)
		}
		// Past the window (10 minutes after the last repeat): a new ticket, linked.
		now = now.Add(11 * time.Minute)
		late := f.ingest(t, e, f.svc, scan("192.0.2.1"))
		if late.Outcome != "CREATED" || late.Ticket.Number == first.Ticket.Number {
			t.Fatalf("after the window %+v", late)
		}
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { history(first: 10) { edges { node { kind } } } links { kind ticket { number } } } }`,
			map[string]any{"n": late.Ticket.Number}).ok().into(&h)
		if len(h.Ticket.Links) != 1 || h.Ticket.Links[0].Ticket.Number != first.Ticket.Number || h.Ticket.Links[0].Kind != "RELATED" {
			t.Errorf("links %+v", h.Ticket.Links)
		}
		// Closed within the window: a new linked ticket too.
		e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: CLOSE) { status } }`, map[string]any{"id": late.Ticket.ID}).ok()
		afterClose := f.ingest(t, e, f.svc, scan("192.0.2.1"))
		if afterClose.Outcome != "CREATED" || afterClose.Ticket.Number == late.Ticket.Number {
			t.Errorf("after the close %+v", afterClose)
		}
		// A REOPEN rule reopens the closed ticket and counts the repeat.
		e.do(e.admin, `mutation($id: ID!) { updateDetectionRule(id: $id, input: {repeatAfterClose: REOPEN}) { id } }`, map[string]any{"id": f.ruleID}).ok()
		e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: CLOSE) { status } }`, map[string]any{"id": afterClose.Ticket.ID}).ok()
		reopened := f.ingest(t, e, f.svc, scan("192.0.2.1"))
		if reopened.Outcome != "REOPENED" || reopened.Ticket.Number != afterClose.Ticket.Number || reopened.Ticket.Status != "ASSIGNED" || reopened.Ticket.DuplicateCount != 1 {
			t.Errorf("reopened %+v", reopened)
		}
		now = now.Add(time.Hour) // past the window, still open: counted (REOPEN rules keep one ticket per attack)
		if r := f.ingest(t, e, f.svc, scan("192.0.2.1")); r.Outcome != "DUPLICATE" || r.Ticket.Number != afterClose.Ticket.Number {
			t.Errorf("REOPEN past the window %+v", r)
		}
	})
}

// The evidence bound: the oldest records dropped and counted.
func TestIngestEvidenceBound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, map[string]any{"evidenceBound": 3})
		var last ingested
		for i := range 5 {
			ev := scan("192.0.2.1")
			ev["seq"] = i
			last = f.ingest(t, e, f.svc, ev)
		}
		if last.Ticket.DetectionCount != 5 || last.Ticket.EvidenceDropped != 2 {
			t.Fatalf("%+v", last)
		}
		var got struct {
			Ticket struct {
				Evidence struct {
					TotalCount int
					Edges      []struct {
						Node struct{ Record map[string]any }
					}
				}
			}
		}
		e.do(e.admin, `query($n: Int!) { ticket(number: $n) { evidence(first: 10) { totalCount edges { node { record } } } } }`,
			map[string]any{"n": last.Ticket.Number}).ok().into(&got)
		ev := got.Ticket.Evidence
		if ev.TotalCount != 3 || fmt.Sprint(ev.Edges[0].Node.Record["seq"]) != "2" || fmt.Sprint(ev.Edges[2].Node.Record["seq"]) != "4" {
			t.Errorf("evidence %+v", ev)
		}
	})
}

// The same key and event: the first result, nothing changed; the same key
// and another event: CONFLICT, nothing changed.
func TestIngestIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, nil)
		first := f.ingest(t, e, f.svc, scan("192.0.2.1"), "k-1")
		again := f.ingest(t, e, f.svc, scan("192.0.2.1"), "k-1")
		if again.Outcome != "REPLAYED" || again.Ticket.Number != first.Ticket.Number || again.Ticket.DetectionCount != 1 {
			t.Fatalf("replay %+v", again)
		}
		events := e.client.TicketEvent.Query().CountX(sys())
		e.do(f.svc, ingestMutation, map[string]any{"rule": f.rule, "ev": scan("192.0.2.2"), "key": "k-1"}).wantCode("CONFLICT", "idempotencyKey")
		e.do(f.svc, ingestMutation, map[string]any{"rule": f.rule, "ev": scan("192.0.2.2"), "key": strings.Repeat("k", 256)}).wantCode("BAD_USER_INPUT", "idempotencyKey")
		if n := e.client.TicketEvent.Query().CountX(sys()); n != events || e.client.Ticket.Query().CountX(sys()) != 1 {
			t.Errorf("a refused replay changed something: %d history entries, want %d", n, events)
		}
		// Another key, the same attack: a duplicate; the key is the caller's own.
		if r := f.ingest(t, e, f.svc, scan("192.0.2.1"), "k-2"); r.Outcome != "DUPLICATE" {
			t.Errorf("%+v", r)
		}
		if r := f.ingest(t, e, e.admin, scan("192.0.2.2"), "k-1"); r.Outcome != "CREATED" {
			t.Errorf("another principal's key: %+v", r)
		}
		// Keys are purged only after a day.
		if n, err := e.app.Ingest.PurgeKeys(t.Context()); err != nil || n != 0 {
			t.Errorf("purged %d %v", n, err)
		}
		e.app.Ingest.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
		if n, err := e.app.Ingest.PurgeKeys(t.Context()); err != nil || n != 3 {
			t.Errorf("purged %d %v, want 3", n, err)
		}
	})
}

type batchResult struct {
	Results []struct {
		Index        int
		Outcome      string
		TicketNumber int
		Error        *struct{ Code, Field, Message string }
	}
}

func (e *env) postIngest(t *testing.T, path string, body []byte, h map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// POST /ingest/{rule}: arrays reported per event, by token and by signature;
// a bad signature, too many events or too large a body write nothing.
func TestIngestHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := newIngestFixture(t, e, nil)
		batch := encodeJSON(t, []any{scan("192.0.2.1"), "not an object", scan("192.0.2.1"), scan("192.0.2.3")})
		status, body := e.postIngest(t, "/ingest/"+f.rule, batch, map[string]string{"Authorization": "Bearer " + f.svc, "Idempotency-Key": "b1"})
		res := decodeJSON[batchResult](t, body)
		if status != 200 || len(res.Results) != 4 || res.Results[0].Outcome != "CREATED" || res.Results[1].Outcome != "FAILED" ||
			res.Results[1].Error.Code != "BAD_USER_INPUT" || res.Results[2].Outcome != "DUPLICATE" || res.Results[3].Outcome != "CREATED" ||
			res.Results[2].TicketNumber != res.Results[0].TicketNumber || res.Results[3].Index != 3 {
			t.Fatalf("%d %s", status, body)
		}
		_, body = e.postIngest(t, "/ingest/"+f.rule, batch, map[string]string{"Authorization": "Bearer " + f.svc, "Idempotency-Key": "b1"})
		if res := decodeJSON[batchResult](t, body); res.Results[0].Outcome != "REPLAYED" || res.Results[2].Outcome != "REPLAYED" || res.Results[1].Outcome != "FAILED" {
			t.Errorf("replayed batch %s", body)
		}
		tickets := e.client.Ticket.Query().CountX(sys())
		// Signed by the rule's key: accepted, with no viewer.
		one := encodeJSON(t, scan("192.0.2.50"))
		ts := time.Now().Unix()
		sig := channels.Sign(f.secret, ts, one)
		status, body = e.postIngest(t, "/ingest/"+f.rule, one, map[string]string{channels.HeaderTimestamp: strconv.FormatInt(ts, 10), channels.HeaderSignature: sig})
		if status != 200 || !bytes.Contains(body, []byte(`"outcome":"CREATED"`)) {
			t.Fatalf("signed %d %s", status, body)
		}
		for name, h := range map[string]map[string]string{
			"bad signature": {channels.HeaderTimestamp: strconv.FormatInt(ts, 10), channels.HeaderSignature: channels.Sign("another key of forty bytes........", ts, one)},
			"old timestamp": {channels.HeaderTimestamp: strconv.FormatInt(ts-3600, 10), channels.HeaderSignature: channels.Sign(f.secret, ts-3600, one)},
			"nothing":       {},
			"bad token":     {"Authorization": "Bearer sdk_nope"},
		} {
			if status, body := e.postIngest(t, "/ingest/"+f.rule, encodeJSON(t, scan("192.0.2.51")), h); status != 401 {
				t.Errorf("%s: %d %s", name, status, body)
			}
		}
		many := make([]any, 1001)
		for i := range many {
			many[i] = scan("192.0.2.1")
		}
		if status, body := e.postIngest(t, "/ingest/"+f.rule, encodeJSON(t, many), map[string]string{"Authorization": "Bearer " + f.svc}); status != 400 {
			t.Errorf("1001 events: %d %s", status, body)
		}
		huge := []byte(`{"x":"` + strings.Repeat("a", 9<<20) + `"}`)
		if status, _ := e.postIngest(t, "/ingest/"+f.rule, huge, map[string]string{"Authorization": "Bearer " + f.svc}); status != 413 {
			t.Errorf("a 9 MiB body: %d", status)
		}
		if n := e.client.Ticket.Query().CountX(sys()); n != tickets+1 {
			t.Errorf("%d tickets, want %d", n, tickets+1)
		}
	})
}

// 32 ingesters sending one attack at once on PostgreSQL: one ticket whose
// count is the events sent, every evidence record kept or counted dropped.
func TestIngestConcurrentDedup(t *testing.T) {
	e := newEnv(t, dialect.Postgres)
	f := newIngestFixture(t, e, map[string]any{"evidenceBound": 50})
	const ingesters, each = 32, 5
	var wg sync.WaitGroup
	errc := make(chan string, ingesters*each)
	for g := range ingesters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Even ingesters send their events one by one, odd ones as one
			// array (one transaction), with another attack in between.
			var bodies [][]byte
			var batch []any
			for i := range each {
				ev := scan("198.51.100.1")
				ev["from"] = fmt.Sprintf("%d-%d", g, i)
				if g%2 == 1 {
					batch = append(batch, ev, scan(fmt.Sprintf("198.51.100.%d", 2+g%3)))
					continue
				}
				b, _ := json.Marshal(ev)
				bodies = append(bodies, b)
			}
			if batch != nil {
				b, _ := json.Marshal(batch)
				bodies = append(bodies, b)
			}
			for _, b := range bodies {
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/ingest/"+f.rule, bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+f.svc)
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					errc <- err.Error()
					continue
				}
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errc <- fmt.Sprintf("%d %s", resp.StatusCode, buf.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
	tks := e.client.Ticket.Query().Where(ticket.SrcIP("198.51.100.1")).AllX(sys())
	if len(tks) != 1 {
		t.Fatalf("%d tickets, want 1", len(tks))
	}
	if n := e.client.Ticket.Query().CountX(sys()); n != 4 {
		t.Errorf("%d tickets in all, want 4 (one per attack)", n)
	}
	tk := tks[0]
	kept := e.client.Evidence.Query().Where(evidence.TicketID(tk.ID)).CountX(sys())
	dups := e.client.TicketEvent.Query().Where(ticketevent.TicketID(tk.ID), ticketevent.KindEQ(ticketevent.KindDUPLICATE)).CountX(sys())
	if tk.DuplicateCount+1 != ingesters*each || kept+tk.EvidenceDropped != ingesters*each || kept != 50 || dups != ingesters*each-1 {
		t.Errorf("count %d, evidence kept %d + dropped %d, DUPLICATE entries %d; want %d events", tk.DuplicateCount+1, kept, tk.EvidenceDropped, dups, ingesters*each)
	}
}
