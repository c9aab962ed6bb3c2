package graph_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

// mailUser is e.user with the address login@example.com.
func (e *env) mailUser(login string, perms []schematype.Permission, sites ...int) (string, *ent.User) {
	e.t.Helper()
	tok, u := e.user(login, user.RoleANALYST, perms, sites...)
	u = e.client.User.UpdateOne(u).SetEmail(login + "@example.com").SaveX(sys())
	return tok, u
}

// jobsLeft counts the jobs not yet finished (every kind but those listed),
// less the SLA breach jobs waiting for their dues (hours away).
func (e *env) jobsLeft(except ...string) int {
	e.t.Helper()
	q := `SELECT kind FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')
	        AND NOT (kind = 'sla.breach' AND state = 'scheduled')`
	rows, err := e.st.DB.QueryContext(context.Background(), q)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var kind string
		if err := rows.Scan(&kind); err != nil {
			e.t.Fatal(err)
		}
		if !slices.Contains(except, kind) {
			n++
		}
	}
	return n
}

// jobsOf counts the river_job rows of kind, in any state.
func (e *env) jobsOf(kind string) int {
	e.t.Helper()
	var n int
	q := `SELECT count(*) FROM river_job WHERE kind = $1`
	if e.backend == "sqlite" {
		q = `SELECT count(*) FROM river_job WHERE kind = ?`
	}
	if err := e.st.DB.QueryRowContext(context.Background(), q, kind).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// settle waits until every job (fan-outs, deliveries) has finished, so that
// whatever a change sends has been sent.
func (e *env) settle(except ...string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.jobsLeft(except...) > 0 {
		if time.Now().After(deadline) {
			rows, _ := e.st.DB.QueryContext(context.Background(), `SELECT id, kind, state, attempt, args, attempted_at, scheduled_at FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`)
			for rows != nil && rows.Next() {
				var id int64
				var kind, state string
				var attempt int
				var args, at, sc any
				_ = rows.Scan(&id, &kind, &state, &attempt, &args, &at, &sc)
				e.t.Logf("left: job %d %s %s attempt %d attempted %v scheduled %v", id, kind, state, attempt, at, sc)
			}
			e.t.Fatal("timed out waiting for the jobs to finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logins names the users by their login, sorted.
func logins(us ...*ent.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Login
	}
	slices.Sort(out)
	return out
}

// mailedLogins are the logins the mails went to (login@example.com), sorted.
func mailedLogins(ms []receivers.Mail) []string {
	out := []string{}
	for _, m := range ms {
		for _, to := range m.To {
			out = append(out, strings.TrimSuffix(to, "@example.com"))
		}
	}
	slices.Sort(out)
	return out
}

const (
	assignMut = `mutation($id: ID!, $as: [ID!], $ap: [ID!]) { assignTicket(id: $id, assigneeIDs: $as, approverIDs: $ap) { id } }`
	actMut    = `mutation($id: ID!, $action: TicketAction!, $reason: String) { transitionTicket(id: $id, action: $action, reason: $reason) { status } }`
	updMut    = `mutation($id: ID!, $in: UpdateTicketInput!) { updateTicket(id: $id, input: $in) { id } }`
	memoMut   = `mutation($t: ID!, $b: String!) { addMemo(ticketID: $t, body: $b) { id } }`
	watchMut  = `mutation($id: ID!, $u: ID, $n: TicketWatcherNotify) { watchTicket(id: $id, userID: $u, notify: $n) { id } }`
)

// TestNotifyWhoHearsWhat walks an approval ticket through its life and
// checks after each change exactly who got a mail (the Audience table, row
// by row, through GraphQL and a real SMTP receiver), and what each mail says.
func TestNotifyWhoHearsWhat(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			e.emailChannel("mail", smtp)
			site, cat := e.site("HQ"), e.category("Alerts", category.WorkflowAPPROVAL)
			edit := []schematype.Permission{schematype.PermissionTicketEdit}
			view := []schematype.Permission{schematype.PermissionTicketView}
			regTok, reg := e.mailUser("reg", edit, site)
			asgTok, asg := e.mailUser("asg", edit, site)
			asg2Tok, asg2 := e.mailUser("asg2", view, site)
			aprTok, apr := e.mailUser("apr", view, site)
			apr2Tok, apr2 := e.mailUser("apr2", view, site)
			_, wAll := e.mailUser("wall", view, site)
			wAll2Tok, wAll2 := e.mailUser("wall2", edit, site)
			_, wOC := e.mailUser("woc", view, site)
			e.mailUser("bystander", edit, site) // in the site, not involved: hears nothing

			// The ticket is created with its watchers (in the creating
			// transaction, before the fan-out reads the ticket's people).
			real := e.app.Tickets.Followers
			e.app.Tickets.Followers = func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
				for _, ev := range evs {
					if ev.Kind != ticketevent.KindCREATED {
						continue
					}
					for u, n := range map[*ent.User]ticketwatcher.Notify{wAll: ticketwatcher.NotifyALL, wAll2: ticketwatcher.NotifyALL, wOC: ticketwatcher.NotifyOPEN_CLOSE} {
						if err := tx.TicketWatcher.Create().SetTicketID(*ev.TicketID).SetUserID(u.ID).SetNotify(n).Exec(authz.System(ctx)); err != nil {
							return err
						}
					}
				}
				return real(ctx, tx, evs)
			}

			seen := 0
			var tk *ent.Ticket
			step := func(what string, want ...*ent.User) {
				t.Helper()
				e.settle()
				all := smtp.Messages()
				got := all[seen:]
				seen = len(all)
				if g, w := mailedLogins(got), logins(want...); !slices.Equal(g, w) {
					t.Fatalf("%s: mails to %v, want %v", what, g, w)
				}
				tk = e.client.Ticket.GetX(sys(), tk.ID)
				for _, m := range got {
					for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
						for _, s := range []string{"#" + strconv.Itoa(tk.Number()), tk.Title, string(tk.Status), string(tk.Priority), "HQ",
							"https://soc.example.com/tickets/" + strconv.Itoa(tk.Number())} {
							if !strings.Contains(body, s) {
								t.Fatalf("%s: the %s part of the mail to %v lacks %q:\n%s", what, part, m.To, s, body)
							}
						}
					}
				}
			}

			in := analysis(site, cat)
			in["title"] = "Beacon to a rare domain"
			in["assigneeIDs"], in["approverIDs"] = gids(asg.ID), gids(apr.ID)
			var c struct{ CreateTicket struct{ ID string } }
			e.do(regTok, createMut, map[string]any{"in": in}).ok().into(&c)
			tk = e.client.Ticket.Query().OnlyX(sys())
			id := gid(tk.ID)
			step("created", asg, apr, wAll, wAll2, wOC)
			e.app.Tickets.Followers = real

			e.do(regTok, assignMut, map[string]any{"id": id, "as": gids(asg.ID, asg2.ID), "ap": gids(apr.ID, apr2.ID)}).ok()
			step("assigned (asg2, apr2 added)", asg2, apr2, wAll, wAll2)

			e.do(asgTok, actMut, map[string]any{"id": id, "action": "START"}).ok()
			step("started", wAll, wAll2)
			e.do(asg2Tok, actMut, map[string]any{"id": id, "action": "SUBMIT"}).ok()
			step("submitted", apr, apr2, wAll, wAll2)
			e.do(aprTok, actMut, map[string]any{"id": id, "action": "REJECT", "reason": "needs the proxy logs"}).ok()
			step("rejected", asg, asg2, wAll, wAll2)
			e.do(asgTok, actMut, map[string]any{"id": id, "action": "START"}).ok()
			step("restarted", wAll, wAll2)
			e.do(asgTok, actMut, map[string]any{"id": id, "action": "SUBMIT"}).ok()
			step("submitted again by an assignee", apr, apr2, wAll, wAll2)
			e.do(apr2Tok, actMut, map[string]any{"id": id, "action": "APPROVE"}).ok()
			step("approved", asg, asg2, wAll, wAll2)

			// Any other change: ALL watchers only, not the one who made it.
			e.do(wAll2Tok, updMut, map[string]any{"id": id, "in": map[string]any{"priority": "HIGH"}}).ok()
			step("updated by a watcher", wAll)
			e.do(asgTok, memoMut, map[string]any{"t": id, "b": "proxy logs attached"}).ok()
			step("memo", wAll, wAll2)

			// Closing and reopening: everyone involved, the registrant and
			// OPEN_CLOSE watchers too, less the actor.
			e.do(asgTok, actMut, map[string]any{"id": id, "action": "CLOSE"}).ok()
			step("closed by an assignee", reg, asg2, apr, apr2, wAll, wAll2, wOC)
			e.do(wAll2Tok, actMut, map[string]any{"id": id, "action": "REOPEN"}).ok()
			step("reopened by a watcher", reg, asg, asg2, apr, apr2, wAll, wOC)

			// The deliveries say the same: every one SENT, one per mail.
			var d deliveriesPage
			e.do(e.admin, `{ deliveries(first: 100) { edges { node { status kind recipient { login } } } } }`, nil).ok().into(&d)
			if len(d.Deliveries.Edges) != seen {
				t.Fatalf("%d deliveries, %d mails", len(d.Deliveries.Edges), seen)
			}
			for _, n := range d.Deliveries.Edges {
				if n.Node.Status != "SENT" || n.Node.Kind != "NOTIFICATION" {
					t.Fatalf("delivery %+v", n.Node)
				}
			}
		})
	}
}

// deliveriesPage decodes a deliveries query.
type deliveriesPage struct {
	Deliveries struct {
		Edges []struct {
			Node deliveryNode
		}
	}
}

type deliveryNode struct {
	ID, Status, Kind, Subject, ChannelType, IdempotencyKey string
	Attempts                                               int
	LastError                                              *string
	TicketNumber                                           *int
	Recipient                                              *struct{ Login string }
}

func (p deliveriesPage) nodes() []deliveryNode {
	out := make([]deliveryNode, len(p.Deliveries.Edges))
	for i, e := range p.Deliveries.Edges {
		out[i] = e.Node
	}
	return out
}

const deliveriesQuery = `query($status: DeliveryStatus, $kind: DeliveryKind, $type: ChannelType, $r: ID) {
	deliveries(first: 100, status: $status, kind: $kind, channelType: $type, recipientID: $r) { edges { node {
		id status kind subject channelType idempotencyKey attempts lastError ticketNumber recipient { login } } } } }`

// deliveries lists what token sees, narrowed by vars.
func (e *env) deliveries(token string, vars map[string]any) []deliveryNode {
	e.t.Helper()
	var p deliveriesPage
	e.do(token, deliveriesQuery, vars).ok().into(&p)
	return p.nodes()
}

// recipientsOf are the logins the deliveries are for, sorted.
func recipientsOf(ds []deliveryNode) []string {
	out := []string{}
	for _, d := range ds {
		if d.Recipient != nil {
			out = append(out, d.Recipient.Login)
		}
	}
	slices.Sort(out)
	return out
}

// TestNotifyOnlyWhoSeesAndCanBeReached: a watcher who lost the ticket's site
// hears nothing of it, and a user without an email gets no EMAIL delivery
// (but one through a channel that can reach them).
func TestNotifyOnlyWhoSeesAndCanBeReached(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			smtp := receivers.StartSMTP(t, receivers.SMTPOptions{})
			sms := receivers.StartHTTP(t)
			e.emailChannel("mail", smtp)
			e.httpChannel("sms", "SMS", sms, "gw-token")
			site, other, cat := e.site("HQ"), e.site("Branch"), e.category("Alerts", category.WorkflowAPPROVAL)
			view := []schematype.Permission{schematype.PermissionTicketView}
			_, stays := e.mailUser("stays", view, site)
			_, gone := e.mailUser("gone", view, site, other)
			_, noMail := e.user("nomail", user.RoleANALYST, view, site)
			e.client.User.UpdateOne(noMail).SetPhone("+4915112345678").ExecX(sys())
			e.client.User.UpdateOne(gone).SetPhone("+4915187654321").ExecX(sys())
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			e.settle() // the creation is told before the watchers come
			for _, u := range []*ent.User{stays, gone, noMail} {
				e.do(e.admin, watchMut, map[string]any{"id": c.CreateTicket.ID, "u": gid(u.ID), "n": "ALL"}).ok()
			}
			e.client.User.UpdateOne(gone).RemoveSiteIDs(site).ExecX(sys())
			e.settle()
			smtp.Reset()
			sms.Reset()
			e.do(e.admin, updMut, map[string]any{"id": c.CreateTicket.ID, "in": map[string]any{"priority": "HIGH"}}).ok()
			e.settle()
			if got := mailedLogins(smtp.Messages()); !slices.Equal(got, []string{"stays"}) {
				t.Fatalf("mails to %v, want [stays]", got)
			}
			if got := e.deliveries(e.admin, map[string]any{"type": "EMAIL"}); !slices.Equal(recipientsOf(got), []string{"stays"}) {
				t.Fatalf("EMAIL deliveries to %v, want [stays]", recipientsOf(got))
			}
			// SMS: the user without an email has a phone; the one who lost
			// the site has one too but hears nothing.
			if got := e.deliveries(e.admin, map[string]any{"type": "SMS"}); !slices.Equal(recipientsOf(got), []string{"nomail"}) {
				t.Fatalf("SMS deliveries to %v, want [nomail]", recipientsOf(got))
			}
			if n := len(sms.Requests()); n != 1 || !strings.Contains(string(sms.Requests()[0].Body), "+4915112345678") {
				t.Fatalf("SMS requests %d: %+v", n, sms.Requests())
			}
		})
	}
}
