package graph_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/delivery"
	"socdesk/ent/playbookrun"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/app"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/notify"
)

// TestOrphansKeptAsFailed: a delivery or a playbook run whose job ended
// with no outcome recorded (its replica killed during the last attempt,
// River's rescuer discarding the job) is kept as FAILED with the reason,
// where admins find and retry it; one whose job may still run is left alone.
func TestOrphansKeptAsFailed(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.JobWorkers = 0 // nothing here works the jobs: they stay as made
			e := newEnvWith(t, b, cfg)
			r := receivers.StartHTTP(t)
			e.httpChannel("hook", "WEBHOOK", r, "")
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			// The fan-out, as a worker would do it, makes the webhook's delivery and its job.
			fan := app.New(e.st, events.NewLocal(), deliveryConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), e.st.Ping)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = fan.Run(ctx); close(done) }()
			eventually(t, 10*time.Second, "the delivery sent", func() bool {
				return e.client.Delivery.Query().Where(delivery.StatusEQ(delivery.StatusSENT)).ExistX(sys())
			})
			stop()
			<-done

			sent := e.client.Delivery.Query().OnlyX(sys())
			ch := e.client.Channel.Query().OnlyX(sys())
			orphan := e.client.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(ch.ID).SetChannelType(schematype.ChannelWebhook).
				SetSubject("orphan").SetText("t").SaveX(sys())
			queued := e.client.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(ch.ID).SetChannelType(schematype.ChannelWebhook).
				SetSubject("queued").SetText("t").SaveX(sys())
			if _, err := e.app.Jobs.Insert(sys(), notify.DeliverArgs{DeliveryID: queued.ID}, nil); err != nil {
				t.Fatal(err)
			}
			if err := e.app.Notify.FailOrphans(sys(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			got := func(id int) (delivery.Status, string) {
				d := e.client.Delivery.GetX(sys(), id)
				msg := ""
				if d.LastError != nil {
					msg = *d.LastError
				}
				return d.Status, msg
			}
			if st, msg := got(orphan.ID); st != delivery.StatusFAILED || !strings.Contains(msg, "without an outcome") {
				t.Errorf("the orphan is %s %q, want FAILED saying why", st, msg)
			}
			if st, _ := got(queued.ID); st != delivery.StatusPENDING {
				t.Errorf("a delivery whose job may still run is %s", st)
			}
			if st, _ := got(sent.ID); st != delivery.StatusSENT {
				t.Errorf("a sent delivery is %s", st)
			}
			// An admin finds it among the failures and sends it again.
			var f struct {
				Deliveries struct {
					Edges []struct{ Node struct{ ID, Subject string } }
				}
			}
			e.do(e.admin, `{ deliveries(first: 10, status: FAILED) { edges { node { id subject } } } }`, nil).ok().into(&f)
			if len(f.Deliveries.Edges) != 1 || f.Deliveries.Edges[0].Node.Subject != "orphan" {
				t.Fatalf("failures listed: %+v", f)
			}
			e.do(e.admin, `mutation($id: ID!) { retryDelivery(id: $id) { status } }`, map[string]any{"id": f.Deliveries.Edges[0].Node.ID}).ok()

			// A playbook run likewise.
			pb := e.client.Playbook.Create().SetName("pb").SetURL(r.URL).SaveX(sys())
			tk := e.client.Ticket.Query().OnlyX(sys())
			run := e.client.PlaybookRun.Create().SetPlaybookID(pb.ID).SetTicketID(tk.ID).SetTicketNumber(tk.Number()).SetSiteID(tk.SiteID).
				SetStatus(playbookrun.StatusRUNNING).SaveX(sys())
			if err := e.app.Playbooks.FailOrphans(sys(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if r := e.client.PlaybookRun.GetX(sys(), run.ID); r.Status != playbookrun.StatusFAILED || r.Error == nil || !strings.Contains(*r.Error, "without an outcome") {
				t.Errorf("the orphaned run is %s %v", r.Status, r.Error)
			}
		})
	}
}

// TestSendingChecksTheSiteAgain: a recipient who lost the ticket's site
// between the notification's making and its sending gets nothing; the
// delivery fails saying why.
func TestSendingChecksTheSiteAgain(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			_, u := e.user("ann", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, site)
			e.client.User.UpdateOne(u).SetEmail("ann@example.com").ExecX(sys())
			tk := e.client.Ticket.Create().SetKind("ANALYSIS").SetTitle("t").SetCategoryID(cat).SetSiteID(site).SaveX(sys())
			ch := e.client.Channel.Query().OnlyX(sys())
			e.client.User.UpdateOne(u).ClearSites().ExecX(sys()) // ann loses the site
			d := e.client.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(ch.ID).SetChannelType(schematype.ChannelEmail).
				SetRecipientID(u.ID).SetTicketID(tk.ID).SetTicketNumber(tk.Number()).SetSiteID(site).SetSubject("s").SetText("t").SaveX(sys())
			if _, err := e.app.Jobs.Insert(sys(), notify.DeliverArgs{DeliveryID: d.ID}, nil); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "the delivery settled", func() bool {
				return e.client.Delivery.GetX(sys(), d.ID).Status != delivery.StatusPENDING
			})
			got := e.client.Delivery.GetX(sys(), d.ID)
			if got.Status != delivery.StatusFAILED || got.LastError == nil || !strings.Contains(*got.LastError, "can no longer see") {
				t.Fatalf("delivery to one who lost the site: %s %v", got.Status, got.LastError)
			}
			if n := len(smtp.Messages()); n != 0 {
				t.Fatalf("%d mails sent to one who lost the site", n)
			}
		})
	}
}

// TestOutcomeKeptWhenTheJobTimesOut: a send that outlasts the job's time
// still has its outcome recorded (on a context of its own): after the last
// attempt the delivery is FAILED with the reason, not PENDING with its job
// gone.
func TestOutcomeKeptWhenTheJobTimesOut(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.JobTimeout = 300 * time.Millisecond
			e := newEnvWith(t, b, cfg)
			f := propSetup(t, e)
			f.msgr.Delay(2 * time.Second)
			var out struct {
				PropagateTicket []struct{ ID string }
			}
			e.do(f.editor, propagateMut, map[string]any{"id": f.ticketID, "r": []string{gid(f.alice.ID)}, "c": []string{"MESSENGER"}}).ok().into(&out)
			var d struct {
				Node struct {
					Status    string
					Attempts  int
					LastError *string
				}
			}
			eventually(t, 20*time.Second, "the delivery settled", func() bool {
				e.do(e.admin, `query($id: ID!) { node(id: $id) { ... on Delivery { status attempts lastError } } }`,
					map[string]any{"id": out.PropagateTicket[0].ID}).ok().into(&d)
				return d.Node.Status != "PENDING"
			})
			if d.Node.Status != "FAILED" || d.Node.Attempts != cfg.JobMaxAttempts || d.Node.LastError == nil {
				t.Fatalf("a delivery whose every attempt outlasted the job: %+v", d.Node)
			}
		})
	}
}
