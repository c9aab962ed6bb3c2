package graph_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent/delivery"
	"socdesk/ent/explanationstep"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

var explainLink = regexp.MustCompile(`https://soc\.example\.com/explain/(sdx_[A-Za-z0-9_-]+)`)

// mailbox reads what a step sent: once every explanation delivery has
// settled, the mails that arrived since the last look, by address.
type mailbox struct {
	t    *testing.T
	e    *env
	smtp *receivers.SMTP
}

// next waits for n mails and every delivery to settle, and returns them by
// recipient, each with the link it carries ("" without one).
func (m *mailbox) next(n int) map[string]string {
	m.t.Helper()
	m.smtp.WaitFor(m.t, n, 20*time.Second)
	eventually(m.t, 20*time.Second, "explanation deliveries to settle", func() bool {
		return m.e.client.Delivery.Query().Where(delivery.KindEQ(delivery.KindEXPLANATION), delivery.StatusEQ(delivery.StatusPENDING)).CountX(sys()) == 0
	})
	out := map[string]string{}
	for _, mail := range m.smtp.Messages() {
		link := ""
		if x := explainLink.FindStringSubmatch(mail.Text); x != nil {
			link = x[1]
		}
		for _, to := range mail.To {
			out[to] = link
		}
	}
	if len(m.smtp.Messages()) != n {
		m.t.Fatalf("%d mails, want %d: %v", len(m.smtp.Messages()), n, out)
	}
	m.smtp.Reset()
	return out
}

func (m *mailbox) want(n int, who ...string) map[string]string {
	m.t.Helper()
	got := m.next(n)
	var to []string
	for k := range got {
		to = append(to, k)
	}
	slices.Sort(to)
	slices.Sort(who)
	if !slices.Equal(to, who) {
		m.t.Fatalf("mailed %v, want %v", to, who)
	}
	return got
}

// noTokenStored fails if token is in any column of the deliveries or the
// links.
func noTokenStored(t *testing.T, e *env, token string) {
	t.Helper()
	for _, table := range []string{"deliveries", "explanation_links"} {
		rows, err := e.st.DB.QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			n++
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				if strings.Contains(fmt.Sprint(v), token) || strings.Contains(fmt.Sprint(v), strings.TrimPrefix(token, "sdx_")) {
					t.Fatalf("the token is stored in %s.%s", table, cols[i])
				}
			}
		}
		rows.Close()
		if n == 0 {
			t.Fatalf("no rows in %s", table)
		}
	}
}

// TestExplanationMails: each step mails exactly the people concerned
// through the delivery engine and a real SMTP receiver; the person whose
// turn it is gets a personal link, which works for that request and role
// only, until the request ends; no token is stored anywhere.
func TestExplanationMails(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			w := newExpWorld(e)
			box := &mailbox{t: t, e: e, smtp: smtp}
			const vic, mia, ada = "vic@example.com", "mia@example.com", "ada@example.com"

			r := w.create(func(in map[string]any) { in["auditorID"] = gid(w.auditor.ID) })
			vio := box.want(1, vic)[vic]
			if vio == "" {
				t.Fatal("the violator's mail has no link")
			}
			noTokenStored(t, e, vio)
			// Another request of the same ticket: the first link does not open it.
			other := w.create(func(in map[string]any) { in["violatorID"] = gid(w.stranger.ID) })
			sam := box.want(1, "sam@example.com")["sam@example.com"]
			var lv struct {
				ExplanationLink struct {
					ViolatorName string
					Role         string
					Actions      []string
					Evidence     []map[string]any
				}
			}
			e.do(vio, `{ explanationLink { violatorName role actions evidence } }`, nil).ok().into(&lv)
			if lv.ExplanationLink.ViolatorName != "Vic Violator" || lv.ExplanationLink.Role != "VIOLATOR" ||
				!slices.Equal(lv.ExplanationLink.Actions, []string{"SUBMIT"}) || len(lv.ExplanationLink.Evidence) != 2 {
				t.Fatalf("the violator's link opens %+v", lv)
			}
			_ = other
			_ = sam

			w.answer(vio, "My answer.").ok()
			mgr := box.want(1, mia)[mia]
			if mgr == "" || mgr == vio {
				t.Fatalf("the manager's link %q", mgr)
			}
			// A link is for its role: the violator's does not review.
			w.review(vio, "ACCEPT", "").wantCode("FORBIDDEN")
			w.review(mgr, "ACCEPT", "").ok()
			aud := box.want(1, ada)[ada]
			w.review(mgr, "RETURN", "late").wantCode("INVALID_TRANSITION")
			w.review(aud, "AUDIT_RETURN", "More detail, please.").ok()
			vio2 := box.want(1, vic)[vic]
			if vio2 == "" || vio2 == vio {
				t.Fatal("the returned answer's mail has no fresh link")
			}
			w.answer(vio, "More detail.").ok() // the first link works until the request ends
			box.want(1, mia)
			w.review(mgr, "ACCEPT", "").ok()
			box.want(1, ada)
			w.review(aud, "AUDIT_COMPLETE", "").ok()
			end := box.want(3, vic, mia, ada)
			for who, link := range end {
				if link != "" {
					t.Fatalf("the end's mail to %s carries a link", who)
				}
			}
			for _, tok := range []string{vio, vio2, mgr, aud} {
				e.do(tok, `{ explanationLink { status } }`, nil).wantCode("NOT_FOUND")
				noTokenStored(t, e, tok)
			}
			// The other request's link still works, for its own request.
			e.do(sam, `{ explanationLink { violatorName } }`, nil).ok()
			if got := w.get(r.ID); got.Status != "AUDIT_COMPLETED" {
				t.Fatalf("status %s", got.Status)
			}
		})
	}
}

// TestExplanationRemindersAndNoEmail: a violator without an email gets a
// FAILED delivery; reminders go once per waiting period, before the deadline.
func TestExplanationRemindersAndNoEmail(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			w := newExpWorld(e)
			box := &mailbox{t: t, e: e, smtp: smtp}
			ex := e.app.Explanations

			noMail := e.client.Employee.Create().SetNumber("N1").SetName("Nora Nomail").SetDepartmentID(w.dept.ID).SaveX(sys())
			w.create(func(in map[string]any) { in["violatorID"] = gid(noMail.ID) })
			eventually(t, 20*time.Second, "the delivery to fail", func() bool {
				return e.client.Delivery.Query().Where(delivery.EmployeeID(noMail.ID), delivery.StatusEQ(delivery.StatusFAILED)).CountX(sys()) == 1
			})
			d := e.client.Delivery.Query().Where(delivery.EmployeeID(noMail.ID)).OnlyX(sys())
			if d.LastError == nil || !strings.Contains(*d.LastError, "address") || d.Address != nil {
				t.Fatalf("delivery %+v", d)
			}
			if n := e.client.ExplanationLink.Query().CountX(sys()); n != 0 {
				t.Fatalf("%d links minted for nobody", n)
			}

			r := w.create(func(in map[string]any) { in["deadline"] = w.clock.Now().Add(48 * time.Hour).Format(time.RFC3339) })
			box.want(1, "vic@example.com")
			// Not yet within a day of the deadline (nor is Nora's, 72h away).
			if n, err := ex.RemindDue(context.Background()); err != nil || n != 0 {
				t.Fatalf("reminded %d, %v", n, err)
			}
			w.clock.add(25 * time.Hour)
			if n, err := ex.RemindDue(context.Background()); err != nil || n != 1 {
				t.Fatalf("reminded %d, %v", n, err)
			}
			if box.want(1, "vic@example.com")["vic@example.com"] == "" {
				t.Fatal("the reminder has no link")
			}
			w.wantStep(t, 3, "EXPLANATION_UPDATED", "REMIND", "NEW", "NEW", nil)
			if n, _ := ex.RemindDue(context.Background()); n != 0 {
				t.Fatal("reminded twice in one waiting period")
			}
			// Returned, the violator waits again: a new reminder is due.
			vio := w.link(r.ID, w.violator, "VIOLATOR")
			w.answer(vio, "Answer.").ok()
			box.want(1, "mia@example.com")
			mgr := w.link(r.ID, w.manager, "MANAGER")
			w.review(mgr, "RETURN", "Again.").ok()
			box.want(1, "vic@example.com")
			if n, _ := ex.RemindDue(context.Background()); n != 1 {
				t.Fatal("no reminder in the new waiting period")
			}
			box.want(1, "vic@example.com")
			steps := e.client.ExplanationStep.Query().Where(explanationstep.ActionEQ(explanationstep.ActionREMIND)).CountX(sys())
			if steps != 2 {
				t.Fatalf("%d REMIND steps", steps)
			}
			// Past the deadline: overdue, no more reminders.
			w.clock.add(48 * time.Hour)
			if n, _ := ex.RemindDue(context.Background()); n != 0 || !w.get(r.ID).Overdue {
				t.Fatal("reminded past the deadline, or not overdue")
			}
		})
	}
}
