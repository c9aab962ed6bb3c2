package graph_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

const settingsMut = `mutation($u: ID, $in: NotificationSettingsInput!) {
	updateNotificationSettings(userID: $u, input: $in) { id phone messenger notificationPreferences { channel { id } mode } } }`

// prefer sets token's user's mode on channel.
func (e *env) prefer(token, channel, mode string) {
	e.t.Helper()
	e.do(token, settingsMut, map[string]any{"in": map[string]any{"preferences": []any{map[string]any{"channelID": channel, "mode": mode}}}}).ok()
}

// scheduledDigests are the ids of the digest jobs still waiting for their time.
func (e *env) scheduledDigests() []int64 {
	e.t.Helper()
	rows, err := e.st.DB.QueryContext(context.Background(), `SELECT id FROM river_job WHERE kind = 'notify.digest' AND state = 'scheduled' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// TestNotifyMuteAndDigests: MUTED stops a user's messages on a channel;
// HOURLY and DAILY hold them (HELD, due at the window's end) and one digest
// goes at the end of the window listing them, the held ones DIGESTED.
func TestNotifyMuteAndDigests(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			ch := e.emailChannel("mail", smtp)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			view := []schematype.Permission{schematype.PermissionTicketView}
			_, imm := e.mailUser("imm", view, site)
			mutedTok, muted := e.mailUser("muted", view, site)
			hourlyTok, hourly := e.mailUser("hourly", view, site)
			dailyTok, daily := e.mailUser("daily", view, site)
			e.prefer(mutedTok, ch, "MUTED")
			e.prefer(hourlyTok, ch, "HOURLY")
			e.prefer(dailyTok, ch, "DAILY")
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			e.settle() // the creation is told before the watchers come
			for _, u := range []*ent.User{imm, muted, hourly, daily} {
				e.do(e.admin, watchMut, map[string]any{"id": c.CreateTicket.ID, "u": gid(u.ID), "n": "ALL"}).ok()
			}
			e.settle()
			smtp.Reset()
			change := func(title string) string {
				e.do(e.admin, updMut, map[string]any{"id": c.CreateTicket.ID, "in": map[string]any{"title": title}}).ok()
				return title
			}

			// A window that has not ended: held, one digest job per window.
			first, second := change("Beacon one"), change("Beacon two")
			e.settle("notify.digest")
			if got := mailedLogins(smtp.Messages()); !slices.Equal(got, []string{"imm", "imm"}) {
				t.Fatalf("mails to %v before the digests, want imm's two", got)
			}
			now := time.Now().UTC()
			for u, due := range map[*ent.User]time.Time{
				hourly: now.Truncate(time.Hour).Add(time.Hour),
				daily:  time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC),
			} {
				held := e.client.Delivery.Query().Where(delivery.RecipientID(u.ID)).AllX(sys())
				if len(held) != 2 {
					t.Fatalf("%s has %d deliveries, want 2 held", u.Login, len(held))
				}
				for _, d := range held {
					if d.Status != delivery.StatusHELD || d.DueAt == nil || !d.DueAt.Equal(due) {
						t.Fatalf("%s: %s due %v, want HELD due %v", u.Login, d.Status, d.DueAt, due)
					}
				}
			}
			if n := e.client.Delivery.Query().Where(delivery.RecipientID(muted.ID)).CountX(sys()); n != 0 {
				t.Fatalf("the muted user has %d deliveries", n)
			}
			jobs := e.scheduledDigests()
			if len(jobs) != 2 {
				t.Fatalf("%d digest jobs waiting, want one per window (2)", len(jobs))
			}
			// The hour ends (River runs the waiting job now).
			for _, id := range jobs {
				if _, err := e.app.Jobs.Client().JobRetry(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			}
			e.settle()
			checkDigest := func(u *ent.User, subjects ...string) {
				t.Helper()
				dg := e.client.Delivery.Query().Where(delivery.RecipientID(u.ID), delivery.KindEQ(delivery.KindDIGEST)).AllX(sys())
				if len(dg) != 1 || dg[0].Status != delivery.StatusSENT {
					t.Fatalf("%s: digests %+v, want one SENT", u.Login, dg)
				}
				for _, s := range subjects {
					if !strings.Contains(dg[0].Text, s) || !strings.Contains(dg[0].HTML, s) {
						t.Fatalf("%s: the digest lacks %q:\n%s", u.Login, s, dg[0].Text)
					}
				}
				if !strings.Contains(dg[0].Text, "https://soc.example.com/tickets/1") {
					t.Fatalf("%s: the digest has no link:\n%s", u.Login, dg[0].Text)
				}
				rest := e.client.Delivery.Query().Where(delivery.RecipientID(u.ID), delivery.KindEQ(delivery.KindNOTIFICATION)).AllX(sys())
				for _, d := range rest {
					if d.Status != delivery.StatusDIGESTED || d.DigestID == nil || *d.DigestID != dg[0].ID {
						t.Fatalf("%s: held one is %s (digest %v), want DIGESTED into %d", u.Login, d.Status, d.DigestID, dg[0].ID)
					}
				}
				e.client.Delivery.Delete().Where(delivery.RecipientID(u.ID)).ExecX(sys())
			}
			checkDigest(hourly, first, second)
			checkDigest(daily, first, second)
			var digests []receivers.Mail
			for _, m := range smtp.Messages() {
				if strings.HasPrefix(m.Subject, "socdesk digest: 2 ticket updates") {
					digests = append(digests, m)
					if !strings.Contains(m.Text, first) || !strings.Contains(m.Text, second) || !strings.Contains(m.HTML, second) {
						t.Fatalf("digest mail lacks a subject:\n%s", m.Text)
					}
				}
			}
			if got := mailedLogins(digests); !slices.Equal(got, []string{"daily", "hourly"}) {
				t.Fatalf("digest mails to %v", got)
			}

			// A window already over (the service's clock says so): the
			// digest goes at once.
			e.app.Notify.Now = func() time.Time { return time.Now().Add(-49 * time.Hour) }
			smtp.Reset()
			third := change("Beacon three")
			e.settle()
			if got := mailedLogins(smtp.Messages()); !slices.Equal(got, []string{"daily", "hourly", "imm"}) {
				t.Fatalf("mails to %v, want imm's and two digests", got)
			}
			checkDigest(hourly, third)
			checkDigest(daily, third)
			// Held late for a window whose digest already went (a fan-out
			// that straddled the window's end, a replica's clock behind):
			// another digest goes, the notification is not left HELD.
			smtp.Reset()
			fifth := change("Beacon five")
			e.settle()
			if got := mailedLogins(smtp.Messages()); !slices.Equal(got, []string{"daily", "hourly", "imm"}) {
				t.Fatalf("mails to %v, want imm's and two digests again", got)
			}
			checkDigest(hourly, fifth)
			checkDigest(daily, fifth)
			if n := e.client.Delivery.Query().Where(delivery.RecipientID(muted.ID)).CountX(sys()); n != 0 {
				t.Fatalf("the muted user has %d deliveries", n)
			}

			// Unmuted, the user hears again.
			e.app.Notify.Now = nil
			e.prefer(mutedTok, ch, "IMMEDIATE")
			smtp.Reset()
			change("Beacon four")
			e.settle("notify.digest")
			if got := mailedLogins(smtp.Messages()); !slices.Equal(got, []string{"imm", "muted"}) {
				t.Fatalf("mails to %v after unmuting", got)
			}
		})
	}
}
