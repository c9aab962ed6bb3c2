package graph_test

import (
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/evidence"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/tickets"
)

type evidencePage struct {
	Ticket struct {
		Evidence struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   string
			}
			Edges []struct {
				Node struct{ Record map[string]any }
			}
		}
		History struct {
			Edges []struct {
				Node struct {
					Kind    string
					Changes []struct {
						Field string
						To    any
					}
				}
			}
		}
	}
}

const evidenceQuery = `query($n: Int!, $first: Int!, $after: Cursor) { ticket(number: $n) {
	evidence(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { record } } }
	history(first: 10) { edges { node { kind changes { field to } } } } } }`

// evidenceChange is the evidence change of the history entry of kind.
func (p evidencePage) evidenceChange(kind string) map[string]any {
	for _, ev := range p.Ticket.History.Edges {
		if ev.Node.Kind != kind {
			continue
		}
		for _, ch := range ev.Node.Changes {
			if ch.Field == "evidence" {
				m, _ := ch.To.(map[string]any)
				return m
			}
		}
	}
	return nil
}

// TestEvidence: records given at creation and appended later are listed
// oldest first, paginated, with their counts in the history (CREATED and
// EVIDENCE_ADDED); bad records, too many, too large or on an ANALYSIS
// ticket are refused naming the field, with nothing stored; a viewer
// cannot append, an editor of another site finds no ticket, and only
// admins append to a ticket the system created.
func TestEvidence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, other, cat := e.site("HQ"), e.site("Branch"), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		tok, _ := e.user("ana", user.RoleANALYST, edit, site)
		viewTok, _ := e.user("vic", user.RoleANALYST, view, site)
		elsewhere, _ := e.user("eve", user.RoleANALYST, edit, other)
		const create = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id number } }`
		detection := func(origin string, records ...any) map[string]any {
			in := map[string]any{"kind": "DETECTION", "title": "Beacon", "siteID": gid(site), "categoryID": gid(cat), "origin": origin,
				"detection": map[string]any{"template": "ENDPOINT", "host": "ws-01"}}
			if records != nil {
				in["evidence"] = records
			}
			return in
		}
		var made struct {
			CreateTicket struct {
				ID     string
				Number int
			}
		}
		e.do(tok, create, map[string]any{"in": detection("USER", map[string]any{"n": 1, "msg": "first"}, map[string]any{"n": 2, "nested": map[string]any{"k": []any{1, "x"}}})}).ok().into(&made)
		tk := made.CreateTicket

		var p evidencePage
		e.do(tok, evidenceQuery, map[string]any{"n": tk.Number, "first": 10}).ok().into(&p)
		if ev := p.Ticket.Evidence; ev.TotalCount != 2 || len(ev.Edges) != 2 || ev.Edges[0].Node.Record["msg"] != "first" ||
			ev.Edges[1].Node.Record["nested"].(map[string]any)["k"].([]any)[1] != "x" {
			t.Fatalf("evidence at creation: %+v", ev)
		}
		if ch := p.evidenceChange("CREATED"); ch["count"] != 2.0 || ch["total"] != 2.0 {
			t.Fatalf("CREATED records %v, want count 2 total 2", ch)
		}

		const add = `mutation($id: ID!, $r: [JSON!]!) { addEvidence(ticketID: $id, records: $r) { id number } }`
		e.do(tok, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"n": 3}, map[string]any{"n": 4}}}).ok()
		e.do(tok, evidenceQuery, map[string]any{"n": tk.Number, "first": 3}).ok().into(&p)
		if ev := p.Ticket.Evidence; ev.TotalCount != 4 || len(ev.Edges) != 3 || !ev.PageInfo.HasNextPage || ev.Edges[2].Node.Record["n"] != 3.0 {
			t.Fatalf("first page after appending: %+v", ev)
		}
		if ch := p.evidenceChange("EVIDENCE_ADDED"); ch["count"] != 2.0 || ch["total"] != 4.0 {
			t.Fatalf("EVIDENCE_ADDED records %v, want count 2 total 4", ch)
		}
		var rest evidencePage
		e.do(tok, evidenceQuery, map[string]any{"n": tk.Number, "first": 3, "after": p.Ticket.Evidence.PageInfo.EndCursor}).ok().into(&rest)
		if ev := rest.Ticket.Evidence; len(ev.Edges) != 1 || ev.PageInfo.HasNextPage || ev.Edges[0].Node.Record["n"] != 4.0 {
			t.Fatalf("second page: %+v", ev)
		}
		e.do(tok, evidenceQuery, map[string]any{"n": tk.Number, "first": 101}).wantCode("BAD_USER_INPUT")

		id, _ := scalar.DecodeID(tk.ID)
		stored := func() int { return e.client.Evidence.Query().Where(evidence.TicketID(id)).CountX(sys()) }
		events := func() int { return e.client.TicketEvent.Query().Where(ticketevent.TicketID(id)).CountX(sys()) }
		before, eventsBefore := stored(), events()
		big := map[string]any{"blob": strings.Repeat("x", tickets.MaxEvidenceRecordBytes)}
		many := make([]any, tickets.MaxEvidencePerCall+1)
		for i := range many {
			many[i] = map[string]any{"i": i}
		}
		for name, c := range map[string]struct {
			token, query string
			vars         map[string]any
			code, field  string
		}{
			"not an object":     {tok, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"ok": 1}, []any{1, 2}}}, "BAD_USER_INPUT", "records"},
			"a string":          {tok, add, map[string]any{"id": tk.ID, "r": []any{"line"}}, "BAD_USER_INPUT", "records"},
			"too large":         {tok, add, map[string]any{"id": tk.ID, "r": []any{big}}, "BAD_USER_INPUT", "records"},
			"too many at once":  {tok, add, map[string]any{"id": tk.ID, "r": many}, "BAD_USER_INPUT", "records"},
			"none":              {tok, add, map[string]any{"id": tk.ID, "r": []any{}}, "BAD_USER_INPUT", "records"},
			"viewer":            {viewTok, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"n": 5}}}, "FORBIDDEN", ""},
			"other site":        {elsewhere, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"n": 5}}}, "NOT_FOUND", "ticketID"},
			"create: no object": {tok, create, map[string]any{"in": detection("USER", 42)}, "BAD_USER_INPUT", "input.evidence"},
			"create: too large": {tok, create, map[string]any{"in": detection("USER", big)}, "BAD_USER_INPUT", "input.evidence"},
		} {
			r := e.do(c.token, c.query, c.vars)
			if r.code() != c.code || (c.field != "" && r.field() != c.field) {
				t.Fatalf("%s: got %s on %q (%+v), want %s on %q", name, r.code(), r.field(), r.Errors, c.code, c.field)
			}
		}
		if stored() != before || events() != eventsBefore {
			t.Fatalf("refused input changed something: %d records (was %d), %d events (was %d)", stored(), before, events(), eventsBefore)
		}

		// ANALYSIS tickets have no evidence.
		in := map[string]any{"kind": "ANALYSIS", "title": "Notes", "body": "text", "siteID": gid(site), "categoryID": gid(cat), "evidence": []any{map[string]any{"n": 1}}}
		e.do(tok, create, map[string]any{"in": in}).wantCode("BAD_USER_INPUT", "input.evidence")
		delete(in, "evidence")
		var analysis struct{ CreateTicket struct{ ID string } }
		e.do(tok, create, map[string]any{"in": in}).ok().into(&analysis)
		e.do(tok, add, map[string]any{"id": analysis.CreateTicket.ID, "r": []any{map[string]any{"n": 1}}}).wantCode("BAD_USER_INPUT", "records")

		// A ticket keeps at most MaxEvidencePerTicket records.
		bulk := make([]*ent.EvidenceCreate, tickets.MaxEvidencePerTicket-stored()-1)
		for i := range bulk {
			bulk[i] = e.client.Evidence.Create().SetTicketID(id).SetRecord(map[string]any{"filler": i})
		}
		e.client.Evidence.CreateBulk(bulk...).ExecX(sys())
		e.do(tok, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"a": 1}, map[string]any{"b": 2}}}).wantCode("BAD_USER_INPUT", "records")
		e.do(tok, add, map[string]any{"id": tk.ID, "r": []any{map[string]any{"last": true}}}).ok()
		if n := stored(); n != tickets.MaxEvidencePerTicket {
			t.Fatalf("%d records, want %d", n, tickets.MaxEvidencePerTicket)
		}

		// A SYSTEM detection: its records are the detection's; admins append.
		var sysTicket struct{ CreateTicket struct{ ID string } }
		e.do(e.admin, create, map[string]any{"in": detection("SYSTEM", map[string]any{"alert": 1})}).ok().into(&sysTicket)
		e.do(tok, add, map[string]any{"id": sysTicket.CreateTicket.ID, "r": []any{map[string]any{"alert": 2}}}).wantCode("FORBIDDEN")
		e.do(e.admin, add, map[string]any{"id": sysTicket.CreateTicket.ID, "r": []any{map[string]any{"alert": 2}}}).ok()
	})
}
