package graph_test

import (
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
	"socdesk/internal/devtools/receivers"
)

func TestNotifySmoke(t *testing.T) {
	for _, b := range []string{"postgres", "sqlite"} {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			perms := []schematype.Permission{schematype.PermissionTicketEdit}
			_, alice := e.user("alice", user.RoleANALYST, perms, site)
			e.client.User.UpdateOne(alice).SetEmail("alice@example.com").ExecX(sys())
			e.do(e.admin, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { id name type hasSecret settings { email { host port tls } } } }`,
				map[string]any{"in": map[string]any{"name": "mail", "type": "EMAIL", "settings": map[string]any{"email": map[string]any{
					"host": smtp.Host, "port": smtp.Port, "tls": "NONE", "from": "socdesk@example.com"}}}}).ok()
			in := analysis(site, cat)
			in["assigneeIDs"] = gids(alice.ID)
			e.do(e.admin, createMut, map[string]any{"in": in}).ok()
			mails := smtp.WaitFor(t, 1, 10*time.Second)
			t.Logf("%+v", mails[0].Subject)
			var d struct {
				Deliveries struct {
					Edges []struct {
						Node struct {
							Status, Subject, IdempotencyKey string
							Recipient                       struct{ Login string }
						}
					}
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				e.do(e.admin, `{ deliveries(first: 10) { edges { node { status subject idempotencyKey recipient { login } } } } }`, nil).ok().into(&d)
				if len(d.Deliveries.Edges) == 1 && d.Deliveries.Edges[0].Node.Status == "SENT" || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("%+v", d)
		})
	}
}
