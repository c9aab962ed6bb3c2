package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"socdesk/ent/category"
	"socdesk/ent/playbookrun"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/app"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/playbooks"
)

const (
	createPlaybookMut = `mutation($in: CreatePlaybookInput!) { createPlaybook(input: $in) {
  id name enabled request { url method headers { name value } secretHeaderNames payloadTemplate timeoutMs } } }`
	updatePlaybookMut = `mutation($id: ID!, $in: UpdatePlaybookInput!) { updatePlaybook(id: $id, input: $in) {
  id name enabled request { url method headers { name value } secretHeaderNames payloadTemplate timeoutMs } } }`
	runPlaybookMut = `mutation($id: ID!, $t: [ID!]!) { runPlaybook(id: $id, ticketIDs: $t) {
  queued failed results { ticketID run { id status ticketNumber playbook { name } ticket { number } } error { code message field } } } }`
	runsQuery = `query($n: Int!) { ticket(number: $n) {
  playbookRuns(first: 20) { edges { node { id status attempts httpStatus durationMs response error startedAt finishedAt playbook { name } requestedBy { login } } } }
  history(first: 100) { edges { node { kind changes { field from to } } } }
} }`
	// pbTemplate renders the ticket as JSON, its title escaped by json.
	pbTemplate = `{"number": {{.Number}}, "title": {{json .Title}}, "site": {{json .Site}}, "run": {{.RunID}}, "status": "{{.Status}}"}`
	pbSecret   = "Bearer playbook-secret-7f3a"
)

type pbRequest struct {
	URL, Method       string
	Headers           []struct{ Name, Value string }
	SecretHeaderNames []string
	PayloadTemplate   *string
	TimeoutMs         int
}

type pbOut struct {
	ID, Name string
	Enabled  bool
	Request  *pbRequest
}

type runOutcome struct {
	TicketID string
	Run      *struct {
		ID, Status   string
		TicketNumber int
		Playbook     struct{ Name string }
		Ticket       *struct{ Number int }
	}
	Error *struct {
		Code, Message string
		Field         *string
	}
}

type runResult struct {
	Queued, Failed int
	Results        []runOutcome
}

type runNode struct {
	ID, Status             string
	Attempts               int
	HTTPStatus, DurationMs *int
	Response, Error        *string
	StartedAt, FinishedAt  *string
	Playbook               struct{ Name string }
	RequestedBy            *struct{ Login string }
}

// pbFix is a site with its editor, an analyst who may only view, an
// editor of another site, and tickets of the site.
type pbFix struct {
	site, other, cat         int
	editor, analyst, outside string
}

func pbSetup(e *env) pbFix {
	f := pbFix{site: e.site("HQ"), other: e.site("Branch"), cat: e.category("Alerts", category.WorkflowAPPROVAL)}
	f.editor, _ = e.user("editor", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, f.site)
	f.analyst, _ = e.user("analyst", user.RoleANALYST, view, f.site)
	f.outside, _ = e.user("outside", user.RoleANALYST, edit, f.other)
	return f
}

// ticket creates a ticket of the site and returns its id and number.
func (f pbFix) ticket(e *env, title string) (string, int) {
	e.t.Helper()
	in := analysis(f.site, f.cat)
	in["title"] = title
	var c struct {
		CreateTicket struct {
			ID     string
			Number int
		}
	}
	e.do(e.admin, createMut, map[string]any{"in": in}).ok().into(&c)
	return c.CreateTicket.ID, c.CreateTicket.Number
}

// playbook creates an enabled playbook to url and returns its id.
func (e *env) playbook(name, url string, extra map[string]any) string {
	e.t.Helper()
	in := map[string]any{"name": name, "url": url, "payloadTemplate": pbTemplate,
		"headers": []map[string]any{{"name": "X-Team", "value": "soc"}}, "secretHeaders": []map[string]any{{"name": "Authorization", "value": pbSecret}}}
	for k, v := range extra {
		in[k] = v
	}
	var out struct{ CreatePlaybook pbOut }
	e.do(e.admin, createPlaybookMut, map[string]any{"in": in}).ok().into(&out)
	return out.CreatePlaybook.ID
}

func (e *env) runPlaybook(token, id string, tickets ...string) runResult {
	e.t.Helper()
	var out struct{ RunPlaybook runResult }
	e.do(token, runPlaybookMut, map[string]any{"id": id, "t": tickets}).ok().into(&out)
	return out.RunPlaybook
}

// runOf reads run id through the API as the admin.
func (e *env) runOf(id string) runNode {
	e.t.Helper()
	var out struct{ Node *runNode }
	e.do(e.admin, `query($id: ID!) { node(id: $id) { ... on PlaybookRun { id status attempts httpStatus durationMs response error startedAt finishedAt playbook { name } requestedBy { login } } } }`,
		map[string]any{"id": id}).ok().into(&out)
	if out.Node == nil {
		e.t.Fatalf("no run %s", id)
	}
	return *out.Node
}

// waitRun waits until run id is SUCCEEDED or FAILED and returns it.
func (e *env) waitRun(id string) runNode {
	e.t.Helper()
	var r runNode
	eventually(e.t, 10*time.Second, "run "+id+" to finish", func() bool {
		r = e.runOf(id)
		return r.Status == "SUCCEEDED" || r.Status == "FAILED"
	})
	return r
}

// TestPlaybookAdministration: only admins create and change playbooks; bad
// input names its field and creates nothing; secret headers are
// write-only (names listed, values never in a response or a log) and
// non-admins list playbooks without their requests.
func TestPlaybookAdministration(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := pbSetup(e)
			r := receivers.StartHTTP(t)
			good := map[string]any{"name": "isolate", "url": r.URL + "/hooks/isolate"}

			e.do(f.editor, createPlaybookMut, map[string]any{"in": good}).wantCode("FORBIDDEN")
			with := func(k string, v any) map[string]any {
				m := map[string]any{"name": "bad", "url": r.URL}
				m[k] = v
				return m
			}
			bad := []struct {
				in    map[string]any
				field string
			}{
				{with("url", "http://user:pw@127.0.0.1/x"), "url"},
				{with("url", "ftp://127.0.0.1/x"), "url"},
				{with("method", "TRACE"), "method"},
				{with("headers", []map[string]any{{"name": "X-A", "value": "a\r\nX-Injected: 1"}}), "headers"},
				{with("headers", []map[string]any{{"name": "Bad Name", "value": "x"}}), "headers"},
				{with("headers", []map[string]any{{"name": "Host", "value": "evil"}}), "headers"},
				{with("secretHeaders", []map[string]any{{"name": "Authorization", "value": "a\nb"}}), "secretHeaders"},
				{with("secretHeaders", []map[string]any{{"name": "x-token", "value": "1"}, {"name": "X-Token", "value": "2"}}), "secretHeaders"},
				{with("payloadTemplate", `{"title": {{json .Title}`), "payloadTemplate"},
				{with("timeoutMs", 5), "timeoutMs"},
				{with("timeoutMs", 600000), "timeoutMs"},
			}
			for _, c := range bad {
				e.do(e.admin, createPlaybookMut, map[string]any{"in": c.in}).wantCode("BAD_USER_INPUT", c.field)
			}
			if n := e.client.Playbook.Query().CountX(sys()); n != 0 {
				t.Fatalf("%d playbooks after refused creations", n)
			}

			in := map[string]any{"name": "isolate", "url": r.URL + "/hooks/isolate", "method": "PUT", "timeoutMs": 2000,
				"payloadTemplate": pbTemplate, "headers": []map[string]any{{"name": "X-Team", "value": "soc"}},
				"secretHeaders": []map[string]any{{"name": "Authorization", "value": pbSecret}}}
			res := e.do(e.admin, createPlaybookMut, map[string]any{"in": in}).ok()
			var out struct{ CreatePlaybook pbOut }
			res.into(&out)
			p := out.CreatePlaybook
			if p.Request == nil || p.Request.URL != r.URL+"/hooks/isolate" || p.Request.Method != "PUT" || p.Request.TimeoutMs != 2000 ||
				len(p.Request.Headers) != 1 || p.Request.Headers[0].Name != "X-Team" || p.Request.Headers[0].Value != "soc" ||
				strings.Join(p.Request.SecretHeaderNames, ",") != "Authorization" || p.Request.PayloadTemplate == nil || *p.Request.PayloadTemplate != pbTemplate {
				t.Fatalf("created %+v", p)
			}
			leaks := func(where string, s string) {
				t.Helper()
				if strings.Contains(s, "playbook-secret-7f3a") {
					t.Fatalf("the secret header's value appears in %s", where)
				}
			}
			leaks("createPlaybook's answer", string(res.Data))

			// Changes: by admins only; bad input names its field and changes nothing.
			e.do(f.editor, updatePlaybookMut, map[string]any{"id": p.ID, "in": map[string]any{"name": "x"}}).wantCode("FORBIDDEN")
			for _, c := range bad {
				delete(c.in, "name")
				e.do(e.admin, updatePlaybookMut, map[string]any{"id": p.ID, "in": c.in}).wantCode("BAD_USER_INPUT", c.field)
			}
			res = e.do(e.admin, updatePlaybookMut, map[string]any{"id": p.ID, "in": map[string]any{"description": "isolates the host"}}).ok()
			leaks("updatePlaybook's answer", string(res.Data))
			var upd struct{ UpdatePlaybook pbOut }
			res.into(&upd)
			if !equalJSON(upd.UpdatePlaybook.Request, p.Request) {
				t.Fatalf("a refused or unrelated update changed the request: %+v, was %+v", upd.UpdatePlaybook.Request, p.Request)
			}

			// Non-admins list playbooks, without their requests.
			var list struct{ Playbooks []pbOut }
			e.do(f.analyst, `{ playbooks { id name enabled request { url secretHeaderNames } } }`, nil).ok().into(&list)
			if len(list.Playbooks) != 1 || list.Playbooks[0].Name != "isolate" || list.Playbooks[0].Request != nil {
				t.Fatalf("an analyst's playbooks: %+v", list.Playbooks)
			}

			// The secret is sent, and still never shown nor logged.
			tid, number := f.ticket(e, "Host beaconing")
			rr := e.runPlaybook(f.editor, p.ID, tid)
			run := e.waitRun(rr.Results[0].Run.ID)
			got := r.WaitFor(t, 1, 5*time.Second)
			if run.Status != "SUCCEEDED" || got[0].Method != "PUT" || got[0].Header.Get("Authorization") != pbSecret || got[0].Header.Get("X-Team") != "soc" {
				t.Fatalf("run %+v; request %s %v", run, got[0].Method, got[0].Header)
			}
			raw := e.do(e.admin, runsQuery, map[string]any{"n": number}).ok()
			leaks("the ticket's runs and history", string(raw.Data))
			raw = e.do(e.admin, `{ playbooks { id name request { url method headers { name value } secretHeaderNames payloadTemplate timeoutMs } } }`, nil).ok()
			leaks("playbooks", string(raw.Data))
			leaks("the server's log", e.logs.String())
		})
	}
}

// TestPlaybookRun: an editor's run on a ticket is QUEUED, then RUNNING,
// then SUCCEEDED with the HTTP status, the duration and the first 4 KiB of
// the answer (valid UTF-8, even when the cut falls inside a character or
// the answer holds a NUL); the endpoint gets the payload rendered from the
// template over the ticket (its title JSON-escaped), the headers and an
// Idempotency-Key; the ticket lists the run, playbookRuns(status:) finds
// it, the history records PLAYBOOK_RUN and PLAYBOOK_RUN_UPDATED, and a
// live subscriber sees each step.
func TestPlaybookRun(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := pbSetup(e)
			r := receivers.StartHTTP(t)
			answer := "ok\x00" + strings.Repeat("é", 5*1024) // 10 KiB and 3 bytes: the 4 KiB cut splits an é
			r.Fail(200)                                      // every answer 200 with …
			r.FailBody(answer)                               // … this body
			pb := e.playbook("enrich", r.URL+"/enrich", nil)
			title := `Beacon to "evil" <c2> \ tab	end`
			tid, number := f.ticket(e, title)

			ws := e.dialWS(t, e.admin, nil)
			op := ws.subscribe(changeQuery, nil)
			waitSubscribed(t, e, 1)

			res := e.runPlaybook(f.editor, pb, tid)
			if res.Queued != 1 || res.Failed != 0 || len(res.Results) != 1 {
				t.Fatalf("runPlaybook: %+v", res)
			}
			o := res.Results[0]
			if o.TicketID != tid || o.Error != nil || o.Run == nil || o.Run.Status != "QUEUED" || o.Run.Playbook.Name != "enrich" ||
				o.Run.Ticket == nil || o.Run.Ticket.Number != number || o.Run.TicketNumber != number {
				t.Fatalf("outcome %+v", o)
			}
			runID := o.Run.ID

			// Live: queued, running, succeeded.
			var steps []string
			for len(steps) < 3 {
				c := ws.change(op)
				if c.TicketID != tid || len(c.Changes) != 1 || c.Changes[0].Field != "playbookRun" {
					t.Fatalf("live change %+v", c)
				}
				to, _ := c.Changes[0].To.(map[string]any)
				if to["id"] != runID || to["playbook"] != "enrich" {
					t.Fatalf("live change names run %v of %v, want %s of enrich", to["id"], to["playbook"], runID)
				}
				steps = append(steps, fmt.Sprintf("%s:%v", c.Kind, to["status"]))
				if to["status"] == "SUCCEEDED" && to["httpStatus"] != float64(200) {
					t.Fatalf("SUCCEEDED without its status: %+v", to)
				}
			}
			if want := "PLAYBOOK_RUN:QUEUED,PLAYBOOK_RUN_UPDATED:RUNNING,PLAYBOOK_RUN_UPDATED:SUCCEEDED"; strings.Join(steps, ",") != want {
				t.Fatalf("live steps %v, want %s", steps, want)
			}

			run := e.waitRun(runID)
			if run.Status != "SUCCEEDED" || run.Attempts != 1 || run.HTTPStatus == nil || *run.HTTPStatus != 200 || run.DurationMs == nil ||
				run.Error != nil || run.StartedAt == nil || run.FinishedAt == nil || run.RequestedBy == nil || run.RequestedBy.Login != "editor" {
				t.Fatalf("run %+v", run)
			}
			kept := *run.Response
			if len(kept) > playbooks.MaxResponseKept || len(kept) < playbooks.MaxResponseKept-8 || !utf8.ValidString(kept) ||
				!strings.HasPrefix(kept, "ok") || strings.ContainsRune(kept, 0) || !strings.HasSuffix(kept, "éé") {
				t.Fatalf("kept %d bytes (valid UTF-8 %v, NUL %v) of the answer, want the first %d as valid UTF-8 without NUL: %q…",
					len(kept), utf8.ValidString(kept), strings.ContainsRune(kept, 0), playbooks.MaxResponseKept, kept[:min(20, len(kept))])
			}

			// What the endpoint got.
			got := r.WaitFor(t, 1, 5*time.Second)[0]
			var body struct {
				Number      int
				Title, Site string
				Run         int
				Status      string
			}
			if err := json.Unmarshal(got.Body, &body); err != nil {
				t.Fatalf("payload %q is not JSON: %v", got.Body, err)
			}
			if body.Number != number || body.Title != title || body.Site != "HQ" || gid(body.Run) != runID || body.Status != "NEW" {
				t.Fatalf("payload %+v, want ticket #%d %q of HQ, run %s", body, number, title, runID)
			}
			if got.Method != "POST" || got.Path != "/enrich" || got.Header.Get("Content-Type") != "application/json" ||
				got.Key == "" || got.Header.Get("X-Team") != "soc" || got.Header.Get("Authorization") != pbSecret {
				t.Fatalf("request %s %s %v", got.Method, got.Path, got.Header)
			}

			// The ticket's runs, the filtered list and the history.
			var v struct {
				Ticket struct {
					PlaybookRuns struct{ Edges []struct{ Node runNode } }
					History      struct{ Edges []struct{ Node historyNode } }
				}
			}
			e.do(f.editor, runsQuery, map[string]any{"n": number}).ok().into(&v)
			if len(v.Ticket.PlaybookRuns.Edges) != 1 || v.Ticket.PlaybookRuns.Edges[0].Node.ID != runID || v.Ticket.PlaybookRuns.Edges[0].Node.Status != "SUCCEEDED" {
				t.Fatalf("Ticket.playbookRuns %+v", v.Ticket.PlaybookRuns)
			}
			var kinds []string
			for _, h := range v.Ticket.History.Edges {
				kinds = append(kinds, h.Node.Kind)
			}
			if want := "CREATED,PLAYBOOK_RUN,PLAYBOOK_RUN_UPDATED,PLAYBOOK_RUN_UPDATED"; strings.Join(kinds, ",") != want {
				t.Fatalf("history %v, want %s", kinds, want)
			}
			for status, want := range map[string]int{"SUCCEEDED": 1, "FAILED": 0, "QUEUED": 0} {
				var l struct {
					PlaybookRuns struct {
						TotalCount int
						Edges      []struct{ Node struct{ ID string } }
					}
				}
				e.do(f.editor, `query($s: PlaybookRunStatus) { playbookRuns(first: 10, status: $s) { totalCount edges { node { id } } } }`,
					map[string]any{"s": status}).ok().into(&l)
				if l.PlaybookRuns.TotalCount != want || len(l.PlaybookRuns.Edges) != want || want == 1 && l.PlaybookRuns.Edges[0].Node.ID != runID {
					t.Fatalf("playbookRuns(status: %s): %+v, want %d", status, l.PlaybookRuns, want)
				}
			}
			ws.quiet(100 * time.Millisecond)
		})
	}
}

// TestPlaybookBulkRun: one runPlaybook over 100 tickets records 100 runs,
// all SUCCEEDED, and the endpoint sees 100 distinct idempotency keys.
func TestPlaybookBulkRun(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := pbSetup(e)
			r := receivers.StartHTTP(t)
			pb := e.playbook("bulk", r.URL, nil)
			ids := make([]string, 100)
			for i := range ids {
				ids[i], _ = f.ticket(e, fmt.Sprintf("Alert %d", i))
			}
			start := time.Now()
			res := e.runPlaybook(f.editor, pb, ids...)
			if res.Queued != 100 || res.Failed != 0 || len(res.Results) != 100 {
				t.Fatalf("queued %d, failed %d, %d results", res.Queued, res.Failed, len(res.Results))
			}
			for i, o := range res.Results {
				if o.TicketID != ids[i] || o.Run == nil {
					t.Fatalf("result %d: %+v, want the run of %s, in order", i, o, ids[i])
				}
			}
			eventually(t, 30*time.Second, "100 SUCCEEDED runs", func() bool {
				return e.client.PlaybookRun.Query().Where(playbookrun.StatusEQ(playbookrun.StatusSUCCEEDED)).CountX(sys()) == 100
			})
			t.Logf("%s: 100 runs in %v", b, time.Since(start))
			if n := e.client.PlaybookRun.Query().CountX(sys()); n != 100 {
				t.Fatalf("%d runs, want 100", n)
			}
			keys := r.Keys()
			if len(keys) != 100 || keys[""] != 0 {
				t.Fatalf("the endpoint saw %d distinct keys (%d requests without one), want 100", len(keys), keys[""])
			}
			tickets := map[int]bool{}
			for _, req := range r.Requests() {
				var body struct{ Number int }
				_ = json.Unmarshal(req.Body, &body)
				tickets[body.Number] = true
			}
			if len(tickets) != 100 {
				t.Fatalf("the payloads named %d tickets, want 100", len(tickets))
			}
		})
	}
}

// TestPlaybookRunFailures: a 500 is retried up to MaxAttempts and ends
// FAILED with its reason and status; a 400 fails at once; a timeout fails
// with a timeout reason; retryPlaybookRun (admins) runs a FAILED run again;
// a disabled playbook is not run; refusals come per ticket (FORBIDDEN
// without TICKET_EDIT, NOT_FOUND for a ticket the viewer cannot see), and
// more than 1000 tickets is bad input.
func TestPlaybookRunFailures(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := pbSetup(e)
			r500, r400, slow := receivers.StartHTTP(t), receivers.StartHTTP(t), receivers.StartHTTP(t)
			r500.Fail(500)
			r500.FailBody("upstream down")
			r400.Fail(400)
			r400.FailBody(`{"error":"bad ticket"}`)
			slow.Delay(5 * time.Second)
			tid, number := f.ticket(e, "Failing")

			run := func(url string, extra map[string]any) runNode {
				t.Helper()
				pb := e.playbook("pb"+fmt.Sprint(time.Now().UnixNano()), url, extra)
				res := e.runPlaybook(f.editor, pb, tid)
				if res.Queued != 1 {
					t.Fatalf("runPlaybook: %+v", res)
				}
				return e.waitRun(res.Results[0].Run.ID)
			}

			failed := run(r500.URL, nil)
			if failed.Status != "FAILED" || failed.Attempts != playbooks.MaxAttempts || failed.HTTPStatus == nil || *failed.HTTPStatus != 500 ||
				failed.Error == nil || !strings.Contains(*failed.Error, "500") || failed.Response == nil || *failed.Response != "upstream down" {
				t.Fatalf("a 500 endpoint's run: %+v", failed)
			}
			if keys := r500.Keys(); len(keys) != 1 || len(r500.Requests()) != playbooks.MaxAttempts {
				t.Fatalf("the 500 endpoint saw %v, want %d attempts with one key", keys, playbooks.MaxAttempts)
			}

			bad := run(r400.URL, nil)
			if bad.Status != "FAILED" || bad.Attempts != 1 || bad.HTTPStatus == nil || *bad.HTTPStatus != 400 || bad.Error == nil ||
				!strings.Contains(*bad.Error, "400") || len(r400.Requests()) != 1 {
				t.Fatalf("a 400 endpoint's run: %+v after %d requests", bad, len(r400.Requests()))
			}

			timedOut := run(slow.URL, map[string]any{"timeoutMs": 200})
			if timedOut.Status != "FAILED" || timedOut.Error == nil || !strings.Contains(strings.ToLower(*timedOut.Error), "timed out") || timedOut.HTTPStatus != nil {
				t.Fatalf("a slow endpoint's run: %+v", timedOut)
			}

			// retryPlaybookRun: admins only, FAILED runs only; it runs again.
			e.do(f.editor, `mutation($id: ID!) { retryPlaybookRun(id: $id) { id } }`, map[string]any{"id": bad.ID}).wantCode("FORBIDDEN")
			r400.Reset()
			var rr struct {
				RetryPlaybookRun struct {
					ID, Status string
					Playbook   struct{ Name string }
				}
			}
			e.do(e.admin, `mutation($id: ID!) { retryPlaybookRun(id: $id) { id status playbook { name } } }`, map[string]any{"id": bad.ID}).ok().into(&rr)
			if rr.RetryPlaybookRun.ID != bad.ID || rr.RetryPlaybookRun.Status != "QUEUED" {
				t.Fatalf("retryPlaybookRun: %+v", rr)
			}
			again := e.waitRun(bad.ID)
			if again.Status != "SUCCEEDED" || *again.HTTPStatus != 200 || again.Error != nil || len(r400.Requests()) != 1 {
				t.Fatalf("the retried run: %+v", again)
			}
			e.do(e.admin, `mutation($id: ID!) { retryPlaybookRun(id: $id) { id } }`, map[string]any{"id": bad.ID}).wantCode("BAD_USER_INPUT", "id")

			// The failures are in the history and in playbookRuns(status: FAILED).
			var l struct{ PlaybookRuns struct{ TotalCount int } }
			e.do(e.admin, `{ playbookRuns(first: 10, status: FAILED) { totalCount } }`, nil).ok().into(&l)
			if l.PlaybookRuns.TotalCount != 2 {
				t.Fatalf("%d FAILED runs listed, want 2 (the 500 and the timeout)", l.PlaybookRuns.TotalCount)
			}
			var v struct {
				Ticket struct {
					History struct{ Edges []struct{ Node historyNode } }
				}
			}
			e.do(e.admin, runsQuery, map[string]any{"n": number}).ok().into(&v)
			failures := 0
			for _, h := range v.Ticket.History.Edges {
				for _, c := range h.Node.Changes {
					if to, _ := c.To.(map[string]any); h.Node.Kind == "PLAYBOOK_RUN_UPDATED" && to["status"] == "FAILED" && to["error"] != nil {
						failures++
					}
				}
			}
			if failures != 3 {
				t.Fatalf("%d FAILED entries with a reason in the history, want 3", failures)
			}

			// Refusals.
			ok := receivers.StartHTTP(t)
			pb := e.playbook("fine", ok.URL, nil)
			res := e.runPlaybook(f.analyst, pb, tid)
			if res.Queued != 0 || res.Failed != 1 || res.Results[0].Error == nil || res.Results[0].Error.Code != "FORBIDDEN" || res.Results[0].Run != nil {
				t.Fatalf("an analyst without TICKET_EDIT: %+v", res)
			}
			res = e.runPlaybook(f.outside, pb, tid)
			if res.Queued != 0 || res.Failed != 1 || res.Results[0].Error == nil || res.Results[0].Error.Code != "NOT_FOUND" {
				t.Fatalf("an editor of another site: %+v", res)
			}
			res = e.runPlaybook(f.editor, pb, tid, gid(987654), tid)
			if res.Queued != 1 || res.Failed != 2 || res.Results[1].Error == nil || res.Results[1].Error.Code != "NOT_FOUND" ||
				res.Results[2].Error == nil || res.Results[2].Error.Code != "BAD_USER_INPUT" {
				t.Fatalf("a run with an unknown and a repeated ticket: %+v", res)
			}
			e.waitRun(res.Results[0].Run.ID) // before the playbook is disabled below
			if n := len(ok.Requests()); n != 1 {
				t.Fatalf("the endpoint got %d requests, want the one good run's", n)
			}
			many := make([]string, playbooks.MaxTickets+1)
			for i := range many {
				many[i] = tid
			}
			e.do(f.editor, runPlaybookMut, map[string]any{"id": pb, "t": many}).wantCode("BAD_USER_INPUT", "ticketIDs")
			e.do(e.admin, updatePlaybookMut, map[string]any{"id": pb, "in": map[string]any{"enabled": false}}).ok()
			e.do(f.editor, runPlaybookMut, map[string]any{"id": pb, "t": []string{tid}}).wantCode("BAD_USER_INPUT", "id")
			if n := e.client.PlaybookRun.Query().CountX(sys()); n != 4 {
				t.Fatalf("%d runs recorded, want 4 (refused runs record none)", n)
			}
		})
	}
}

// TestPlaybookAnswerHidesSecrets: an endpoint that echoes the request (a
// 401 quoting the Authorization header, then just its token) does not hand
// the write-only secret header to the site's viewers, who read the kept
// answer through Ticket.playbookRuns.
func TestPlaybookAnswerHidesSecrets(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := pbSetup(e)
			echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				token := strings.TrimPrefix(auth, "Bearer ")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, "rejected Authorization: %s (token %q unknown)", auth, token)
			}))
			t.Cleanup(echo.Close)
			pb := e.playbook("echo", echo.URL, nil)
			tid, number := f.ticket(e, "Echoed")
			run := e.waitRun(e.runPlaybook(f.editor, pb, tid).Results[0].Run.ID)
			if run.Status != "FAILED" || run.HTTPStatus == nil || *run.HTTPStatus != 401 || run.Response == nil {
				t.Fatalf("the echoing endpoint's run: %+v", run)
			}
			token := strings.TrimPrefix(pbSecret, "Bearer ")
			var v struct {
				Ticket struct {
					PlaybookRuns struct{ Edges []struct{ Node runNode } }
					History      struct{ Edges []struct{ Node historyNode } }
				}
			}
			e.do(f.analyst, runsQuery, map[string]any{"n": number}).ok().into(&v)
			if len(v.Ticket.PlaybookRuns.Edges) != 1 {
				t.Fatalf("the viewer sees %d runs, want 1", len(v.Ticket.PlaybookRuns.Edges))
			}
			seen := v.Ticket.PlaybookRuns.Edges[0].Node
			raw, _ := json.Marshal(v)
			if strings.Contains(string(raw), token) {
				t.Fatalf("a site viewer reads the secret header's token: %s", raw)
			}
			if seen.Response == nil || !strings.Contains(*seen.Response, "rejected Authorization: [secret] (token \"[secret]\" unknown)") {
				t.Fatalf("the kept answer %v, want the answer with the secret hidden", seen.Response)
			}
		})
	}
}

// TestPlaybookRefusedDestination: without the allow-list admitting it, a
// loopback endpoint is refused, and the run fails at once, for good.
func TestPlaybookRefusedDestination(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.OutboundAllow = ""
			e := newEnvWith(t, b, cfg)
			f := pbSetup(e)
			r := receivers.StartHTTP(t)
			pb := e.playbook("local", r.URL, nil)
			tid, _ := f.ticket(e, "Refused")
			res := e.runPlaybook(f.editor, pb, tid)
			run := e.waitRun(res.Results[0].Run.ID)
			if run.Status != "FAILED" || run.Attempts != 1 || run.Error == nil || !strings.Contains(*run.Error, "refused") || run.HTTPStatus != nil {
				t.Fatalf("a run to a refused destination: %+v", run)
			}
			if n := len(r.Requests()); n != 0 {
				t.Fatalf("the refused endpoint got %d requests", n)
			}
		})
	}
}

// TestPlaybookDisabledBeforeItRuns: runs queued before an admin disables
// their playbook fail with that reason instead of calling the endpoint.
// The env works no jobs; a second app on its database works them once
// the playbook is disabled.
func TestPlaybookDisabledBeforeItRuns(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.JobWorkers = 0
			e := newEnvWith(t, b, cfg)
			f := pbSetup(e)
			r := receivers.StartHTTP(t)
			pb := e.playbook("stopped", r.URL, nil)
			tid, _ := f.ticket(e, "Queued then stopped")
			res := e.runPlaybook(f.editor, pb, tid)
			e.do(e.admin, updatePlaybookMut, map[string]any{"id": pb, "in": map[string]any{"enabled": false}}).ok()

			w := app.New(e.st, events.NewLocal(), deliveryConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), e.st.Ping)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = w.Run(ctx); close(done) }()
			t.Cleanup(func() { stop(); <-done })

			run := e.waitRun(res.Results[0].Run.ID)
			if run.Status != "FAILED" || run.Error == nil || !strings.Contains(*run.Error, "disabled") || run.Attempts != 1 {
				t.Fatalf("a run of a playbook disabled before it ran: %+v", run)
			}
			if n := len(r.Requests()); n != 0 {
				t.Fatalf("the endpoint of a disabled playbook got %d requests", n)
			}
		})
	}
}
