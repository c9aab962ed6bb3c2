package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/events"
)

func TestCreateTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat, inc := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		tag := e.tag("phishing")
		tok, analyst := e.user("ana", user.RoleANALYST, edit, site)
		_, other := e.user("bob", user.RoleANALYST, view, site)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		published, _ := e.broker.Subscribe(ctx)

		type created struct {
			CreateTicket struct {
				ID, Status, Title, Origin, Priority, BodyFormat string
				Number, Version                                 int
				RegisteredBy                                    struct{ Login string }
				Assignees                                       []struct{ Login string }
				Tags                                            []struct{ Name string }
				Detection                                       *struct {
					Template, SourceIP string
					DestinationPort    int
					CustomFields       []struct{ Key, Value string }
				}
			}
		}
		const mut = `mutation($in: CreateTicketInput!) { createTicket(input: $in) {
			id number status title origin priority bodyFormat version registeredBy { login }
			assignees { login } tags { name }
			detection { template sourceIP destinationPort customFields { key value } } } }`

		var a created
		e.do(tok, mut, map[string]any{"in": analysis(site, cat)}).ok().into(&a)
		c := a.CreateTicket
		if c.Status != "NEW" || c.Origin != "USER" || c.Priority != "LOW" || c.BodyFormat != "MARKDOWN" || c.Version != 1 || c.RegisteredBy.Login != "ana" || c.Detection != nil {
			t.Fatalf("created %+v", c)
		}

		var b created
		in := analysis(site, cat)
		in["assigneeIDs"], in["tagIDs"], in["priority"] = gids(other.ID), gids(tag), "HIGH"
		e.do(tok, mut, map[string]any{"in": in}).ok().into(&b)
		if b.CreateTicket.Status != "ASSIGNED" || b.CreateTicket.Number != c.Number+1 || len(b.CreateTicket.Assignees) != 1 || b.CreateTicket.Tags[0].Name != "phishing" || b.CreateTicket.Priority != "HIGH" {
			t.Fatalf("with assignee: %+v (first was #%d)", b.CreateTicket, c.Number)
		}
		if got := e.client.Ticket.GetX(sys(), ent.TicketIDFromNumber(b.CreateTicket.Number)).PriorityRank; got != 1 {
			t.Fatalf("priority rank of HIGH = %d", got)
		}

		// Only administrators (detection integrations) open SYSTEM tickets.
		e.do(tok, mut, map[string]any{"in": map[string]any{
			"kind": "DETECTION", "title": "Forged", "siteID": gid(site), "categoryID": gid(inc), "origin": "SYSTEM",
			"detection": map[string]any{"template": "ENDPOINT", "host": "pc"},
		}}).wantCode("FORBIDDEN")
		var d created
		e.do(e.admin, mut, map[string]any{"in": map[string]any{
			"kind": "DETECTION", "title": "Port scan", "siteID": gid(site), "categoryID": gid(inc), "origin": "SYSTEM",
			"detection": map[string]any{"template": "NETWORK", "sourceIP": "10.0.0.5", "destinationIP": "2001:db8::1",
				"destinationPort": 443, "protocol": "tcp", "customFields": []map[string]any{{"key": "rule", "value": "scan-1"}}},
		}}).ok().into(&d)
		if dc := d.CreateTicket; dc.Status != "TRIAGE" || dc.Origin != "SYSTEM" || dc.BodyFormat != "JSON" || dc.Detection == nil ||
			dc.Detection.Template != "NETWORK" || dc.Detection.SourceIP != "10.0.0.5" || dc.Detection.DestinationPort != 443 || dc.Detection.CustomFields[0].Value != "scan-1" {
			t.Fatalf("detection ticket %+v", dc)
		}

		// Each creation appended a CREATED event, and woke the hubs up after commit.
		evs := e.client.TicketEvent.Query().Order(ent.Asc(ticketevent.FieldID)).AllX(sys())
		if len(evs) != 3 || *evs[2].ActorID == analyst.ID {
			t.Fatalf("events = %d", len(evs))
		}
		first := evs[0]
		if first.Kind != ticketevent.KindCREATED || *first.ActorID != analyst.ID || first.TicketNumber != c.Number || first.SiteID != site {
			t.Fatalf("event %+v", first)
		}
		if ch := first.Changes[0]; ch.Field != "status" || ch.From != nil || ch.To != "NEW" {
			t.Fatalf("first change %+v", ch)
		}
		for i := range 3 {
			select {
			case w := <-published:
				// The broker carries a wake-up, not the entry (issue 9).
				if w.Topic != events.TopicHistory {
					t.Fatalf("published %+v, want a history wake-up for event %d", w, evs[i].ID)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("event %d not published", i)
			}
		}
	})
}

func TestCreateTicketRejectsBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		with := func(changes map[string]any) map[string]any {
			in := analysis(site, cat)
			for k, v := range changes {
				if v == nil {
					delete(in, k)
				} else {
					in[k] = v
				}
			}
			return map[string]any{"in": in}
		}
		det := func(d map[string]any) map[string]any {
			return with(map[string]any{"kind": "DETECTION", "body": nil, "detection": d})
		}
		for _, c := range []struct {
			name  string
			vars  map[string]any
			field string
		}{
			{"empty title", with(map[string]any{"title": "  "}), "input.title"},
			{"title of 256 characters", with(map[string]any{"title": strings.Repeat("é", 256)}), "input.title"},
			{"analysis without body", with(map[string]any{"body": nil}), "input.body"},
			{"analysis with detection", with(map[string]any{"detection": map[string]any{"template": "ENDPOINT", "host": "h"}}), "input.detection"},
			{"invalid JSON body", with(map[string]any{"bodyFormat": "JSON", "body": "{nope"}), "input.body"},
			{"detection without fields", det(nil), "input.detection"},
			{"network without source", det(map[string]any{"template": "NETWORK", "destinationIP": "10.0.0.1"}), "input.detection.sourceIP"},
			{"bad IP", det(map[string]any{"template": "NETWORK", "sourceIP": "10.0.0.300", "destinationIP": "10.0.0.1"}), "input.detection.sourceIP"},
			{"port out of range", det(map[string]any{"template": "NETWORK", "sourceIP": "10.0.0.3", "destinationIP": "10.0.0.1", "sourcePort": 70000}), "input.detection.sourcePort"},
			{"endpoint without host", det(map[string]any{"template": "ENDPOINT"}), "input.detection.host"},
			{"email without sender", det(map[string]any{"template": "EMAIL", "customFields": []map[string]any{{"key": "to", "value": "x@y"}}}), "input.detection.customFields"},
			{"detection times reversed", det(map[string]any{"template": "ENDPOINT", "host": "h", "firstDetectedAt": "2026-01-02T00:00:00Z", "lastDetectedAt": "2026-01-01T00:00:00Z"}), "input.detection.lastDetectedAt"},
			{"category id of a site", with(map[string]any{"categoryID": gid(site)}), "input.categoryID"},
			{"unknown tag", with(map[string]any{"tagIDs": gids(site)}), "input.tagIDs"},
			{"malformed id", with(map[string]any{"siteID": "not-an-id"}), "input.siteID"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(e.admin, createMut, c.vars)
				if r.code() != "BAD_USER_INPUT" || r.field() != c.field {
					t.Fatalf("got code %q field %q (%+v), want BAD_USER_INPUT %s", r.code(), r.field(), r.Errors, c.field)
				}
			})
		}
		if n := e.client.Ticket.Query().CountX(sys()); n != 0 {
			t.Fatalf("%d tickets created by bad input", n)
		}
		// 255 characters, multi-byte, is fine.
		e.do(e.admin, createMut, with(map[string]any{"title": strings.Repeat("é", 255)})).ok()
	})
}

const updateMut = `mutation($id: ID!, $in: UpdateTicketInput!, $v: Int) { updateTicket(id: $id, input: $in, expectedVersion: $v) {
	title body priority incident attackVerdict version category { name } tags { name } } }`

func TestUpdateTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat, cat2, inc := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL), e.category("Hunts", category.WorkflowAPPROVAL), e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)
		t1, t2 := e.tag("one"), e.tag("two")
		tk := e.client.Ticket.Create().SetTitle("Old").SetKind(ticket.KindANALYSIS).SetBody("old body").
			SetCategoryID(cat).SetSiteID(site).AddTagIDs(t1).SaveX(sys())

		type upd struct {
			UpdateTicket struct {
				Title, Body, Priority string
				AttackVerdict         *string
				Incident              bool
				Version               int
				Category              struct{ Name string }
				Tags                  []struct{ Name string }
			}
		}
		var u upd
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "v": 1, "in": map[string]any{
			"title": "New", "priority": "MEDIUM", "incident": true, "attackVerdict": "TRUE_POSITIVE",
			"categoryID": gid(cat2), "tagIDs": gids(t2),
		}}).ok().into(&u)
		if x := u.UpdateTicket; x.Title != "New" || x.Body != "old body" || x.Priority != "MEDIUM" || !x.Incident || *x.AttackVerdict != "TRUE_POSITIVE" ||
			x.Version != 2 || x.Category.Name != "Hunts" || len(x.Tags) != 1 || x.Tags[0].Name != "two" {
			t.Fatalf("updated %+v", x)
		}
		ev := e.client.TicketEvent.Query().Where(ticketevent.KindEQ(ticketevent.KindUPDATED)).OnlyX(sys())
		want := map[string][2]any{
			"title": {"Old", "New"}, "priority": {"LOW", "MEDIUM"}, "incident": {false, true},
			"attackVerdict": {nil, "TRUE_POSITIVE"}, "category": {float64(cat), float64(cat2)},
			"tags": {[]any{float64(t1)}, []any{float64(t2)}},
		}
		if len(ev.Changes) != len(want) {
			t.Fatalf("changes %+v", ev.Changes)
		}
		for _, ch := range roundTrip(t, ev.Changes) {
			w, ok := want[string(ch.Field)]
			if !ok || !equalJSON(ch.From, w[0]) || !equalJSON(ch.To, w[1]) {
				t.Errorf("change %s: %v → %v, want %v", ch.Field, ch.From, ch.To, w)
			}
		}

		// A stale version changes nothing.
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "v": 1, "in": map[string]any{"title": "Stale"}}).wantCode("CONFLICT")
		// Another workflow's category, an empty title: refused, nothing changes.
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "in": map[string]any{"categoryID": gid(inc)}}).wantCode("BAD_USER_INPUT", "input.categoryID")
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "in": map[string]any{"title": ""}}).wantCode("BAD_USER_INPUT", "input.title")
		// Clearing the verdict and removing every tag.
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "in": map[string]any{"clearAttackVerdict": true, "tagIDs": []string{}}}).ok().into(&u)
		if u.UpdateTicket.AttackVerdict != nil || len(u.UpdateTicket.Tags) != 0 || u.UpdateTicket.Version != 3 || u.UpdateTicket.Title != "New" {
			t.Fatalf("after clearing: %+v", u.UpdateTicket)
		}
		// A change to nothing is no change: no version, no history.
		e.do(e.admin, updateMut, map[string]any{"id": gid(tk.ID), "in": map[string]any{"title": "New"}}).ok().into(&u)
		if u.UpdateTicket.Version != 3 || e.client.TicketEvent.Query().CountX(sys()) != 2 {
			t.Fatalf("no-op update bumped version to %d", u.UpdateTicket.Version)
		}
	})
}

func TestSystemDetectionContentIsReadOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		mk := func(origin ticket.Origin, kind ticket.Kind) *ent.Ticket {
			c := e.client.Ticket.Create().SetTitle("Detected").SetKind(kind).SetOrigin(origin).SetBody("{}").SetBodyFormat(ticket.BodyFormatJSON).
				SetCategoryID(cat).SetSiteID(site)
			if kind == ticket.KindDETECTION {
				c.SetDetectionTemplate(ticket.DetectionTemplateENDPOINT).SetHost("pc-1")
			}
			return c.SaveX(sys())
		}
		sys1 := mk(ticket.OriginSYSTEM, ticket.KindDETECTION)
		for field, in := range map[string]map[string]any{
			"input.title":     {"title": "x"},
			"input.body":      {"body": "{\"a\":1}"},
			"input.detection": {"detection": map[string]any{"template": "ENDPOINT", "host": "pc-2"}},
		} {
			e.do(e.admin, updateMut, map[string]any{"id": gid(sys1.ID), "in": in}).wantCode("BAD_USER_INPUT", field)
		}
		// Its properties stay editable, and so is a user's detection ticket.
		e.do(e.admin, updateMut, map[string]any{"id": gid(sys1.ID), "in": map[string]any{"priority": "HIGH"}}).ok()
		e.do(e.admin, updateMut, map[string]any{"id": gid(mk(ticket.OriginUSER, ticket.KindDETECTION).ID), "in": map[string]any{"title": "x"}}).ok()
		if got := e.client.Ticket.GetX(sys(), sys1.ID); got.Title != "Detected" || got.Host != "pc-1" {
			t.Fatalf("system ticket changed: %+v", got)
		}
	})
}

func TestDeleteTicketKeepsAuditRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		tok, u := e.user("ed", user.RoleANALYST, edit, site)
		var c struct{ CreateTicket struct{ ID string } }
		e.do(tok, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
		e.do(tok, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": c.CreateTicket.ID}).ok()
		e.do(tok, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": c.CreateTicket.ID}).wantCode("NOT_FOUND")
		evs := e.client.TicketEvent.Query().Order(ent.Asc(ticketevent.FieldID)).AllX(sys())
		if len(evs) != 2 || evs[1].Kind != ticketevent.KindDELETED || *evs[1].ActorID != u.ID || evs[1].TicketID != nil || evs[1].TicketNumber != evs[0].TicketNumber || evs[0].TicketID != nil {
			t.Fatalf("events after delete: %+v", evs)
		}
		if ch := roundTrip(t, evs[1].Changes); ch[0].Field != "title" || ch[0].From != "Suspicious login" {
			t.Fatalf("deleted record %+v", ch)
		}
		// History is append-only, even for an admin through the data layer.
		adminCtx := e.viewerContext(t, "admin")
		if err := e.client.TicketEvent.UpdateOneID(evs[1].ID).ClearTicketID().Exec(adminCtx); err == nil {
			t.Fatal("history row updated")
		}
		if err := e.client.TicketEvent.DeleteOneID(evs[1].ID).Exec(adminCtx); err == nil {
			t.Fatal("history row deleted")
		}
	})
}

func TestReferenceDataErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
		e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
		e.do(e.admin, `mutation { createSite(input: {name: "HQ"}) { id } }`, nil).wantCode("CONFLICT")
		e.do(e.admin, `mutation($id: ID!) { deleteCategory(id: $id) { deletedID } }`, map[string]any{"id": gid(cat)}).wantCode("CONFLICT")
		e.do(e.admin, `mutation { createTag(input: {name: "x", color: "red"}) { id } }`, nil).wantCode("BAD_USER_INPUT", "input.color")
		e.do(e.admin, `mutation { createUser(input: {login: "has space", displayName: "x"}) { id } }`, nil).wantCode("BAD_USER_INPUT", "input.login")
		// A site id that is a category's: bad input, and no user is created.
		r := e.do(e.admin, `mutation($s: ID!) { createUser(input: {login: "dangling", displayName: "x", siteIDs: [$s]}) { id } }`, map[string]any{"s": gid(cat)})
		if r.wantCode("BAD_USER_INPUT"); e.client.User.Query().Where(user.Login("dangling")).ExistX(sys()) {
			t.Fatal("a user with a dangling site was created")
		}
		if e.client.Category.Query().CountX(sys()) != 1 || e.client.Site.Query().CountX(sys()) != 1 || e.client.Tag.Query().CountX(sys()) != 0 {
			t.Fatal("a refused mutation changed reference data")
		}
		var d struct {
			CreateUser struct {
				Login       string
				Permissions []string
				Sites       []struct{ Name string }
			}
		}
		e.do(e.admin, `mutation($s: ID!) { createUser(input: {login: "new.analyst", displayName: "New", permissions: [TICKET_EDIT], siteIDs: [$s]}) { login permissions sites { name } } }`,
			map[string]any{"s": gid(site)}).ok().into(&d)
		if d.CreateUser.Permissions[0] != "TICKET_EDIT" || d.CreateUser.Sites[0].Name != "HQ" {
			t.Fatalf("created user %+v", d.CreateUser)
		}
	})
}

// roundTrip gives changes the shape they have when read back as JSON.
func roundTrip(t *testing.T, chs []schematype.FieldChange) []schematype.FieldChange {
	t.Helper()
	return decodeJSON[[]schematype.FieldChange](t, encodeJSON(t, chs))
}
