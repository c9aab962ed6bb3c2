package graph_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/notify"
	"socdesk/internal/playbooks"
)

// TestOrphanSweepLeavesLiveJobs: of 520 old PENDING deliveries, some have
// jobs that may still run (scheduled far away, retryable after a long
// backoff); one sweep (at most 500) fails only those whose job is gone.
func TestOrphanSweepLeavesLiveJobs(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.JobWorkers = 0
			e := newEnvWith(t, b, cfg)
			r := receivers.StartHTTP(t)
			e.httpChannel("hook", "WEBHOOK", r, "")
			ch := e.client.Channel.Query().OnlyX(sys())
			bulk := make([]*ent.DeliveryCreate, 520)
			for i := range bulk {
				bulk[i] = e.client.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(ch.ID).SetChannelType(schematype.ChannelWebhook).SetSubject("s").SetText("t")
			}
			ds := e.client.Delivery.CreateBulk(bulk...).SaveX(sys())
			live := map[int]bool{}
			for i := 0; i < 520; i += 7 {
				res, err := e.app.Jobs.Insert(sys(), notify.DeliverArgs{DeliveryID: ds[i].ID}, &river.InsertOpts{ScheduledAt: time.Now().Add(30 * time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				live[ds[i].ID] = true
				if i%14 == 0 { // as River leaves a job waiting on its backoff
					q := "UPDATE river_job SET state = 'retryable', attempt = 4 WHERE id = $1"
					if b == "sqlite" {
						q = "UPDATE river_job SET state = 'retryable', attempt = 4 WHERE id = ?"
					}
					if _, err := e.st.DB.ExecContext(sys(), q, res.Job.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := e.app.Notify.FailOrphans(sys(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			var failed, pendingLive, wrong int
			for i, d := range ds {
				got := e.client.Delivery.GetX(sys(), d.ID)
				switch {
				case live[d.ID] && got.Status != delivery.StatusPENDING:
					wrong++
					t.Errorf("live delivery %d (#%d) is %s", d.ID, i, got.Status)
				case live[d.ID]:
					pendingLive++
				case got.Status == delivery.StatusFAILED:
					failed++
				}
			}
			t.Logf("%s: failed %d, live kept %d, wrong %d", b, failed, pendingLive, wrong)

			// a live playbook run (key run_id) is kept too
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok()
			pb := e.client.Playbook.Create().SetName("pb").SetURL(r.URL).SaveX(sys())
			tk := e.client.Ticket.Query().OnlyX(sys())
			run := e.client.PlaybookRun.Create().SetPlaybookID(pb.ID).SetTicketID(tk.ID).SetTicketNumber(tk.Number()).SetSiteID(tk.SiteID).SaveX(sys())
			if _, err := e.app.Jobs.Insert(sys(), playbooks.RunArgs{RunID: run.ID}, nil); err != nil {
				t.Fatal(err)
			}
			if err := e.app.Playbooks.FailOrphans(sys(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := e.client.PlaybookRun.GetX(sys(), run.ID); got.Status != "QUEUED" {
				t.Errorf("a run with a live job is %s", got.Status)
			}
		})
	}
}

type hookDrv struct {
	dialect.Driver
	hook atomic.Pointer[func()]
}

func (d *hookDrv) Query(ctx context.Context, q string, args, v any) error {
	err := d.Driver.Query(ctx, q, args, v)
	if strings.Contains(q, "updated_at") && strings.Contains(q, "LIMIT 500") {
		if h := d.hook.Swap(nil); h != nil {
			(*h)()
		}
	}
	return err
}

// TestOrphanSweepLeavesASettledDelivery: a delivery sent, its job
// completed, between the sweep's reading of PENDING deliveries and its look
// at the jobs stays SENT. PostgreSQL only: the test's hook writes while the
// sweep's read holds SQLite's one connection (the rule under test, an
// update only from PENDING, is the same SQL on both).
func TestOrphanSweepLeavesASettledDelivery(t *testing.T) {
	for _, b := range testdb.Backends[:1] {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			cfg.JobWorkers = 0
			e := newEnvWith(t, b, cfg)
			r := receivers.StartHTTP(t)
			e.httpChannel("hook", "WEBHOOK", r, "")
			ch := e.client.Channel.Query().OnlyX(sys())
			d := e.client.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(ch.ID).SetChannelType(schematype.ChannelWebhook).SetSubject("s").SetText("t").SaveX(sys())
			res, err := e.app.Jobs.Insert(sys(), notify.DeliverArgs{DeliveryID: d.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			dia := dialect.Postgres
			if b != "postgres" {
				dia = dialect.SQLite
			}
			drv := &hookDrv{Driver: entsql.OpenDB(dia, e.st.DB)}
			h := func() { // the worker: sends, records SENT, River completes the job
				e.client.Delivery.UpdateOneID(d.ID).SetStatus(delivery.StatusSENT).SetSentAt(time.Now()).ExecX(sys())
				if _, err := e.st.DB.ExecContext(sys(), "UPDATE river_job SET state = 'completed', finalized_at = CURRENT_TIMESTAMP WHERE id = $1", res.Job.ID); err != nil {
					t.Fatal(err)
				}
			}
			drv.hook.Store(&h)
			svc := *e.app.Notify
			svc.Client = ent.NewClient(ent.Driver(drv))
			if err := svc.FailOrphans(sys(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			got := e.client.Delivery.GetX(sys(), d.ID)
			if got.Status != delivery.StatusSENT {
				msg := ""
				if got.LastError != nil {
					msg = *got.LastError
				}
				t.Errorf("a delivery sent (and its job completed) during the sweep is now %s %q", got.Status, msg)
			}
		})
	}
}
