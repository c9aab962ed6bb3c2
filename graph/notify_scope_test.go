package graph_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

// TestNotifyRolledBackChangeSendsNothing: a change whose transaction fails
// after its fan-out job was enqueued leaves no job, no delivery and sends
// nothing; the next change is told as usual.
func TestNotifyRolledBackChangeSendsNothing(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			hook := receivers.StartHTTP(t)
			e.httpChannel("hook", "WEBHOOK", hook, "")
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			e.settle()
			hook.Reset()
			fanouts, deliveries := e.jobsOf("notify.fanout"), e.client.Delivery.Query().CountX(sys())

			real := e.app.Tickets.Followers
			enqueued := false
			e.app.Tickets.Followers = func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
				if err := real(ctx, tx, evs); err != nil {
					return err
				}
				enqueued = true
				return errors.New("the change fails after its fan-out was enqueued")
			}
			r := e.do(e.admin, updMut, map[string]any{"id": c.CreateTicket.ID, "in": map[string]any{"title": "Rolled back"}})
			e.app.Tickets.Followers = real
			if len(r.Errors) == 0 || !enqueued {
				t.Fatalf("the change did not fail after enqueueing: %+v", r.Errors)
			}
			if n := e.jobsOf("notify.fanout"); n != fanouts {
				t.Fatalf("%d fan-out jobs after a rolled-back change, want %d", n, fanouts)
			}
			if n := e.client.Delivery.Query().CountX(sys()); n != deliveries {
				t.Fatalf("%d deliveries after a rolled-back change, want %d", n, deliveries)
			}
			// The next change goes through; it alone reaches the receiver.
			e.do(e.admin, updMut, map[string]any{"id": c.CreateTicket.ID, "in": map[string]any{"title": "Committed"}}).ok()
			e.settle()
			reqs := hook.Requests()
			if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), "Committed") || strings.Contains(string(reqs[0].Body), "Rolled back") {
				t.Fatalf("the receiver got %d requests: %+v", len(reqs), reqs)
			}
		})
	}
}

// TestNotifyDeliveriesScoped: a non-admin sees the deliveries of tickets in
// their sites and their own, not others'; the filters narrow the list.
func TestNotifyDeliveriesScoped(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			hook := receivers.StartHTTP(t)
			hook.Fail(http.StatusNotFound)
			e.emailChannel("mail", smtp)
			e.httpChannel("hook", "WEBHOOK", hook, "")
			siteA, siteB, cat := e.site("A"), e.site("B"), e.category("Alerts", category.WorkflowAPPROVAL)
			view := []schematype.Permission{schematype.PermissionTicketView}
			aTok, a := e.mailUser("a", view, siteA)
			_, a2 := e.mailUser("a2", view, siteA)
			bTok, bu := e.mailUser("b", view, siteB)
			moverTok, mover := e.mailUser("mover", view, siteA, siteB)
			ticketIn := func(site int, watchers ...*ent.User) string {
				var c struct{ CreateTicket struct{ ID string } }
				e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
				e.settle()
				for _, u := range watchers {
					e.do(e.admin, watchMut, map[string]any{"id": c.CreateTicket.ID, "u": gid(u.ID), "n": "ALL"}).ok()
				}
				return c.CreateTicket.ID
			}
			tA, tB := ticketIn(siteA, a, a2), ticketIn(siteB, bu, mover)
			for _, id := range []string{tA, tB} {
				e.do(e.admin, updMut, map[string]any{"id": id, "in": map[string]any{"priority": "HIGH"}}).ok()
			}
			e.settle()
			e.client.User.UpdateOne(mover).RemoveSiteIDs(siteB).ExecX(sys())

			// (ticket number, recipient or "-") of what each one sees.
			seen := func(ds []deliveryNode) []string {
				out := []string{}
				for _, d := range ds {
					if d.TicketNumber == nil || *d.TicketNumber > 2 {
						continue
					}
					who := "-"
					if d.Recipient != nil {
						who = d.Recipient.Login
					}
					out = append(out, strconv.Itoa(*d.TicketNumber)+":"+who)
				}
				slices.Sort(out)
				return out
			}
			for _, c := range []struct {
				who   string
				token string
				want  []string
			}{
				{"admin", e.admin, []string{"1:-", "1:-", "1:a", "1:a2", "2:-", "2:-", "2:b", "2:mover"}},
				{"a", aTok, []string{"1:-", "1:-", "1:a", "1:a2"}},
				{"b", bTok, []string{"2:-", "2:-", "2:b", "2:mover"}},
				{"mover, who lost site B", moverTok, []string{"1:-", "1:-", "1:a", "1:a2"}}, // their own message about B went with the site
			} {
				if got := seen(e.deliveries(c.token, nil)); !slices.Equal(got, c.want) {
					t.Errorf("%s sees %v, want %v", c.who, got, c.want)
				}
			}
			for _, c := range []struct {
				vars map[string]any
				want []string
			}{
				{map[string]any{"r": gid(a.ID)}, []string{"1:a"}},
				{map[string]any{"type": "EMAIL"}, []string{"1:a", "1:a2", "2:b", "2:mover"}},
				{map[string]any{"type": "WEBHOOK"}, []string{"1:-", "1:-", "2:-", "2:-"}},
				{map[string]any{"status": "FAILED"}, []string{"1:-", "1:-", "2:-", "2:-"}},
				{map[string]any{"status": "SENT", "type": "EMAIL", "r": gid(mover.ID)}, []string{"2:mover"}},
				{map[string]any{"kind": "NOTIFICATION", "r": gid(bu.ID)}, []string{"2:b"}},
				{map[string]any{"kind": "PROPAGATION"}, []string{}},
				{map[string]any{"kind": "DIGEST"}, []string{}},
			} {
				if got := seen(e.deliveries(e.admin, c.vars)); !slices.Equal(got, c.want) {
					t.Errorf("deliveries(%v) = %v, want %v", c.vars, got, c.want)
				}
			}
			// Filters within a non-admin's scope stay in it.
			if got := seen(e.deliveries(aTok, map[string]any{"r": gid(bu.ID)})); len(got) != 0 {
				t.Errorf("a sees b's deliveries through the filter: %v", got)
			}
		})
	}
}

// TestNotifySettings: phone normalised, bad phone or messenger named,
// unknown channels named by their index, others' settings for admins only.
func TestNotifySettings(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			ch := e.emailChannel("mail", smtp)
			site := e.site("HQ")
			anaTok, ana := e.mailUser("ana", nil, site)
			_, bob := e.mailUser("bob", nil, site)
			type settings struct {
				UpdateNotificationSettings struct {
					ID, Phone, Messenger    string
					NotificationPreferences []struct {
						Channel struct{ ID string }
						Mode    string
					}
				}
			}
			var s settings
			e.do(anaTok, settingsMut, map[string]any{"in": map[string]any{"phone": "+49 151 1234-5678", "messenger": "@ana",
				"preferences": []any{map[string]any{"channelID": ch, "mode": "DAILY"}}}}).ok().into(&s)
			got := s.UpdateNotificationSettings
			if got.Phone != "+4915112345678" || got.Messenger != "@ana" || len(got.NotificationPreferences) != 1 ||
				got.NotificationPreferences[0].Channel.ID != ch || got.NotificationPreferences[0].Mode != "DAILY" {
				t.Fatalf("settings %+v", got)
			}
			missing := gid(e.client.Channel.Query().OnlyIDX(sys()) + 1000)
			for _, c := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"phone": "12"}, "phone"},
				{map[string]any{"phone": "+49 151 x"}, "phone"},
				{map[string]any{"messenger": strings.Repeat("x", 65)}, "messenger"},
				{map[string]any{"phone": "+4915187654321", "preferences": []any{map[string]any{"channelID": missing, "mode": "MUTED"}}}, "preferences[0].channelID"},
			} {
				e.do(anaTok, settingsMut, map[string]any{"in": c.in}).wantCode("BAD_USER_INPUT", c.field)
			}
			if u := e.client.User.GetX(sys(), ana.ID); u.Phone != "+4915112345678" || u.Messenger != "@ana" || len(u.NotificationPreferences) != 1 {
				t.Fatalf("refused input changed the user: %q %q %v", u.Phone, u.Messenger, u.NotificationPreferences)
			}
			e.do(anaTok, settingsMut, map[string]any{"u": gid(bob.ID), "in": map[string]any{"phone": "+4915100000000"}}).wantCode("FORBIDDEN")
			if e.client.User.GetX(sys(), bob.ID).Phone != "" {
				t.Fatal("ana changed bob's phone")
			}
			e.do(e.admin, settingsMut, map[string]any{"u": gid(bob.ID), "in": map[string]any{"phone": "0151 000-0000",
				"preferences": []any{map[string]any{"channelID": ch, "mode": "MUTED"}}}}).ok().into(&s)
			if s.UpdateNotificationSettings.Phone != "01510000000" || e.client.User.GetX(sys(), bob.ID).NotificationPreferences[0].Mode != schematype.ModeMuted {
				t.Fatalf("admin's change of bob: %+v", s.UpdateNotificationSettings)
			}
			// Empty removes.
			e.do(anaTok, settingsMut, map[string]any{"in": map[string]any{"phone": "", "messenger": ""}}).ok().into(&s)
			if s.UpdateNotificationSettings.Phone != "" || s.UpdateNotificationSettings.Messenger != "" {
				t.Fatalf("after clearing %+v", s.UpdateNotificationSettings)
			}
		})
	}
}
