package graph_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/devtools/receivers"
	"socdesk/internal/devtools/testdb"
)

const propagateMut = `mutation($id: ID!, $r: [ID!]!, $c: [ChannelType!]!) {
  propagateTicket(id: $id, recipientIDs: $r, channels: $c) { id status channelType attempts recipient { login } }
}`

// propFix is a ticket of HQ, an editor of HQ, three recipients (bob has no
// phone) and a channel of each person-addressed type on real receivers.
type propFix struct {
	site, other, cat   int
	editor             string
	alice, bob, carol  *ent.User
	sms, msgr          *receivers.HTTP
	smtp               *receivers.SMTP
	ticketID           string
	number             int
	smsSecret          string
	channelsByTypeName map[string]string
}

func propSetup(t *testing.T, e *env) propFix {
	t.Helper()
	f := propFix{site: e.site("HQ"), other: e.site("Branch"), cat: e.category("Alerts", category.WorkflowAPPROVAL)}
	f.editor, _ = e.user("editor", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}, f.site)
	_, f.alice = e.user("alice", user.RoleANALYST, view, f.site)
	_, f.bob = e.user("bob", user.RoleANALYST, view, f.site)
	ctok, carol := e.user("carol", user.RoleANALYST, view, f.site)
	f.carol = carol
	f.alice = e.client.User.UpdateOne(f.alice).SetEmail("alice@example.com").SetPhone("+15550001").SetMessenger("alice.m").SaveX(sys())
	f.bob = e.client.User.UpdateOne(f.bob).SetEmail("bob@example.com").SetMessenger("bob.m").SaveX(sys())
	// carol's settings go through the API, as a user sets them.
	e.do(ctok, `mutation($in: NotificationSettingsInput!) { updateNotificationSettings(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"phone": "+1 555-0003", "messenger": "carol.m"}}).ok()
	f.carol = e.client.User.UpdateOne(f.carol).SetEmail("carol@example.com").SaveX(sys())

	f.sms, f.msgr = receivers.StartHTTP(t), receivers.StartHTTP(t)
	f.smtp = receivers.StartSMTP(t, receivers.SMTPOptions{})
	f.smsSecret = "Bearer sms-gateway-token-1"
	f.channelsByTypeName = map[string]string{
		"SMS":       e.httpChannel("sms", "SMS", f.sms, f.smsSecret),
		"MESSENGER": e.httpChannel("chat", "MESSENGER", f.msgr, ""),
		"EMAIL":     e.emailChannel("mail", f.smtp),
	}
	var c struct {
		CreateTicket struct {
			ID     string
			Number int
		}
	}
	in := analysis(f.site, f.cat)
	in["title"] = `Beacon to "evil" <domain>`
	e.do(e.admin, createMut, map[string]any{"in": in}).ok().into(&c)
	f.ticketID, f.number = c.CreateTicket.ID, c.CreateTicket.Number
	return f
}

// propagationsQuery reads a ticket's propagations and history.
const propagationsQuery = `query($n: Int!) { ticket(number: $n) {
  propagations(first: 50) { edges { node { id status channelType attempts lastError sentAt idempotencyKey recipient { login } } } }
  history(first: 100) { edges { node { kind changes { field from to } } } }
} }`

type propNode struct {
	ID, Status, ChannelType, IdempotencyKey string
	Attempts                                int
	LastError, SentAt                       *string
	Recipient                               *struct{ Login string }
}

type historyNode struct {
	Kind    string
	Changes []struct {
		Field    string
		From, To any
	}
}

type propView struct {
	Ticket struct {
		Propagations struct{ Edges []struct{ Node propNode } }
		History      struct{ Edges []struct{ Node historyNode } }
	}
}

func (e *env) propagations(token string, number int) propView {
	e.t.Helper()
	var v propView
	e.do(token, propagationsQuery, map[string]any{"n": number}).ok().into(&v)
	return v
}

// TestPropagateDeliversPerRecipient: propagating to three people over SMS,
// messenger and email returns nine PENDING deliveries at once; each becomes
// SENT, or FAILED with its reason for the one recipient without a phone;
// each receiver gets what its channel promises (the gateway the phone, the
// text and the secret in its auth header; the messenger the handle; SMTP
// the mail); the ticket lists them newest first, its history records
// PROPAGATED then a DELIVERY_UPDATED per delivery, and a live subscriber
// (an editor of the site) sees each outcome arrive, with IDs it can match
// to the deliveries.
func TestPropagateDeliversPerRecipient(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := propSetup(t, e)
			ws := e.dialWS(t, f.editor, nil) // a dashboard of the site's editor, not only admins
			op := ws.subscribe(changeQuery, nil)
			waitSubscribed(t, e, 1)

			var out struct {
				PropagateTicket []struct {
					ID, Status, ChannelType string
					Attempts                int
					Recipient               struct{ Login string }
				}
			}
			e.do(f.editor, propagateMut, map[string]any{"id": f.ticketID,
				"r": gids(f.alice.ID, f.bob.ID, f.carol.ID, f.alice.ID), "c": []string{"SMS", "MESSENGER", "EMAIL", "SMS"}}).ok().into(&out)
			if len(out.PropagateTicket) != 9 {
				t.Fatalf("want 9 deliveries (3 recipients × 3 channel types, repeats dropped), got %+v", out.PropagateTicket)
			}
			pairs := map[string]string{} // delivery id → "login/TYPE"
			for _, d := range out.PropagateTicket {
				if d.Status != "PENDING" || d.Attempts != 0 {
					t.Fatalf("a delivery returned by propagateTicket is %s after %d attempts, want PENDING and 0", d.Status, d.Attempts)
				}
				pairs[d.ID] = d.Recipient.Login + "/" + d.ChannelType
			}
			if len(uniq(values(pairs))) != 9 {
				t.Fatalf("recipient × channel pairs repeat: %v", pairs)
			}

			// Live: PROPAGATED naming every delivery, then one DELIVERY_UPDATED each.
			c := ws.change(op)
			if c.Kind != "PROPAGATED" || c.TicketID != f.ticketID || c.Actor == nil || c.Actor.Login != "editor" || len(c.Changes) != 9 {
				t.Fatalf("first live change: %+v", c)
			}
			for _, ch := range c.Changes {
				to, _ := ch.To.(map[string]any)
				id, _ := to["id"].(string)
				if ch.Field != "delivery" || pairs[id] == "" || to["status"] != "PENDING" || to["recipient"] == nil {
					t.Fatalf("PROPAGATED change %+v: want a delivery field naming a returned delivery by its ID, PENDING", ch)
				}
			}
			liveStatus := map[string]string{}
			for len(liveStatus) < 9 {
				c := ws.change(op)
				if c.Kind != "DELIVERY_UPDATED" || c.TicketID != f.ticketID || len(c.Changes) != 1 {
					t.Fatalf("want DELIVERY_UPDATED, got %+v", c)
				}
				to, _ := c.Changes[0].To.(map[string]any)
				id, _ := to["id"].(string)
				if pairs[id] == "" {
					t.Fatalf("DELIVERY_UPDATED names %v, not one of the returned deliveries %v", to["id"], pairs)
				}
				if rid, _ := to["recipient"].(string); rid == "" || !strings.HasPrefix(pairs[id], loginOf(e, rid)+"/") {
					t.Fatalf("DELIVERY_UPDATED of %s names recipient %v", pairs[id], to["recipient"])
				}
				st, _ := to["status"].(string)
				liveStatus[pairs[id]] = st
				if st == "FAILED" && to["error"] == nil {
					t.Fatalf("a FAILED update without its reason: %+v", to)
				}
			}
			for pair, st := range liveStatus {
				want := "SENT"
				if pair == "bob/SMS" {
					want = "FAILED"
				}
				if st != want {
					t.Fatalf("live: %s is %s, want %s (all: %v)", pair, st, want, liveStatus)
				}
			}

			// The ticket's propagations, newest first, with their outcomes.
			v := e.propagations(f.editor, f.number)
			props := v.Ticket.Propagations.Edges
			if len(props) != 9 {
				t.Fatalf("propagations: %+v", props)
			}
			for i, edge := range props {
				d := edge.Node
				if i > 0 && decodeGID(t, d.ID) > decodeGID(t, props[i-1].Node.ID) {
					t.Fatalf("propagations are not newest first: %s after %s", d.ID, props[i-1].Node.ID)
				}
				pair := d.Recipient.Login + "/" + d.ChannelType
				if pairs[d.ID] != pair || d.Attempts != 1 {
					t.Fatalf("propagation %+v: want %s after 1 attempt", d, pairs[d.ID])
				}
				switch {
				case pair == "bob/SMS":
					if d.Status != "FAILED" || d.LastError == nil || !strings.Contains(*d.LastError, "no phone") || d.SentAt != nil {
						t.Fatalf("bob's SMS: %+v, want FAILED with a no-phone reason", d)
					}
				default:
					if d.Status != "SENT" || d.SentAt == nil || d.LastError != nil {
						t.Fatalf("%s: %+v, want SENT with sentAt", pair, d)
					}
				}
			}

			// The history: PROPAGATED, then the nine updates.
			var kinds []string
			for _, h := range v.Ticket.History.Edges {
				kinds = append(kinds, h.Node.Kind)
			}
			want := append([]string{"CREATED", "PROPAGATED"}, strings.Split(strings.Repeat("DELIVERY_UPDATED,", 9), ",")[:9]...)
			if strings.Join(kinds, ",") != strings.Join(want, ",") {
				t.Fatalf("history %v, want %v", kinds, want)
			}

			// What the receivers got.
			sms := f.sms.WaitFor(t, 2, 5*time.Second)
			phones := map[string]bool{}
			for _, r := range sms {
				var body struct{ To, Text string }
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatalf("SMS body %q: %v", r.Body, err)
				}
				phones[body.To] = true
				if r.Header.Get("Authorization") != f.smsSecret {
					t.Fatalf("SMS gateway Authorization %q, want the channel's secret", r.Header.Get("Authorization"))
				}
				if !strings.Contains(body.Text, fmt.Sprintf("#%d", f.number)) || !strings.Contains(body.Text, `Beacon to "evil" <domain>`) {
					t.Fatalf("SMS text %q does not name the ticket", body.Text)
				}
				if r.Key == "" {
					t.Fatal("SMS without an Idempotency-Key")
				}
			}
			if len(sms) != 2 || !phones["+15550001"] || !phones["+15550003"] {
				t.Fatalf("SMS to %v, want alice's and carol's phones", phones)
			}
			msgs := f.msgr.WaitFor(t, 3, 5*time.Second)
			handles := map[string]bool{}
			for _, r := range msgs {
				var body struct {
					To    string `json:"to"`
					Event string `json:"event"`
				}
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatalf("messenger body %q: %v", r.Body, err)
				}
				handles[body.To] = true
			}
			if len(msgs) != 3 || !handles["alice.m"] || !handles["bob.m"] || !handles["carol.m"] {
				t.Fatalf("messenger to %v, want the three handles", handles)
			}
			mails := f.smtp.WaitFor(t, 3, 5*time.Second)
			var rcpts []string
			for _, m := range mails {
				rcpts = append(rcpts, m.To...)
				if !strings.Contains(m.Subject, fmt.Sprintf("#%d", f.number)) {
					t.Fatalf("mail subject %q does not name the ticket", m.Subject)
				}
			}
			sort.Strings(rcpts)
			if strings.Join(rcpts, ",") != "alice@example.com,bob@example.com,carol@example.com" {
				t.Fatalf("mail to %v", rcpts)
			}
			ws.quiet(100 * time.Millisecond)
		})
	}
}

// TestPropagateRefusals: bad input changes nothing and names the field;
// a viewer without TICKET_EDIT is FORBIDDEN; one who cannot see the
// ticket gets NOT_FOUND.
func TestPropagateRefusals(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, deliveryConfig())
			f := propSetup(t, e)
			_, outsider := e.user("outsider", user.RoleANALYST, view, f.other)
			many := make([]int, 51)
			for i := range many {
				_, u := e.user(fmt.Sprintf("crowd%d", i), user.RoleANALYST, view, f.site)
				many[i] = u.ID
			}
			viewerTok, _ := e.user("viewer", user.RoleANALYST, view, f.site)
			otherEditor, _ := e.user("other.editor", user.RoleANALYST, edit, f.other)
			e.httpChannel("hook", "WEBHOOK", receivers.StartHTTP(t), "") // a WEBHOOK channel exists, and still is no propagation channel
			before := func() (int, int) {
				return e.client.Delivery.Query().Where(delivery.KindEQ(delivery.KindPROPAGATION)).CountX(sys()),
					e.client.TicketEvent.Query().Where(ticketevent.KindEQ(ticketevent.KindPROPAGATED)).CountX(sys())
			}
			d0, h0 := before()
			all := []string{"SMS", "MESSENGER", "EMAIL"}
			cases := []struct {
				name, token string
				recipients  []string
				channels    []string
				code, field string
			}{
				{"no recipients", f.editor, []string{}, all, "BAD_USER_INPUT", "recipientIDs"},
				{"over 50 recipients", f.editor, gids(many...), all, "BAD_USER_INPUT", "recipientIDs"},
				{"an unknown user", f.editor, gids(f.alice.ID, 987654), all, "BAD_USER_INPUT", "recipientIDs"},
				{"a recipient who cannot see the site", f.editor, gids(f.alice.ID, outsider.ID), all, "BAD_USER_INPUT", "recipientIDs"},
				{"WEBHOOK", f.editor, gids(f.alice.ID), []string{"EMAIL", "WEBHOOK"}, "BAD_USER_INPUT", "channels"},
				{"no channel types", f.editor, gids(f.alice.ID), []string{}, "BAD_USER_INPUT", "channels"},
				{"no TICKET_EDIT", viewerTok, gids(f.alice.ID), all, "FORBIDDEN", ""},
				{"cannot see the ticket", otherEditor, gids(f.alice.ID), all, "NOT_FOUND", ""},
			}
			for _, c := range cases {
				r := e.do(c.token, propagateMut, map[string]any{"id": f.ticketID, "r": c.recipients, "c": c.channels})
				if c.field != "" {
					r.wantCode(c.code, c.field)
				} else {
					r.wantCode(c.code)
				}
				if d, h := before(); d != d0 || h != h0 {
					t.Fatalf("%s: deliveries %d→%d, PROPAGATED entries %d→%d", c.name, d0, d, h0, h)
				}
			}
			// A channel type with no enabled channel.
			e.do(e.admin, `mutation($id: ID!) { updateChannel(id: $id, input: {enabled: false}) { id } }`,
				map[string]any{"id": f.channelsByTypeName["SMS"]}).ok()
			e.do(f.editor, propagateMut, map[string]any{"id": f.ticketID, "r": gids(f.alice.ID), "c": all}).wantCode("BAD_USER_INPUT", "channels")
			if d, h := before(); d != d0 || h != h0 {
				t.Fatalf("disabled channel: deliveries %d→%d, PROPAGATED entries %d→%d", d0, d, h0, h)
			}
			if n := e.client.Delivery.Query().Where(delivery.KindEQ(delivery.KindPROPAGATION)).CountX(sys()); n != 0 {
				t.Fatalf("%d propagation deliveries after refusals", n)
			}
			if len(f.sms.Requests())+len(f.msgr.Requests())+len(f.smtp.Messages()) != 0 {
				t.Fatal("a refused propagation sent something")
			}
		})
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func uniq(s []string) map[string]bool {
	out := map[string]bool{}
	for _, x := range s {
		out[x] = true
	}
	return out
}

func decodeGID(t *testing.T, id string) int {
	t.Helper()
	n, err := scalar.UnmarshalID(id)
	if err != nil {
		t.Fatalf("decoding ID %q: %v", id, err)
	}
	return n
}

// loginOf is the login of the user with GraphQL id.
func loginOf(e *env, id string) string {
	e.t.Helper()
	n, err := scalar.UnmarshalID(id)
	if err != nil {
		return ""
	}
	u, err := e.client.User.Get(sys(), n)
	if err != nil {
		return ""
	}
	return u.Login
}

// TestPropagateRetries: a gateway that fails once is retried and the
// delivery ends SENT after two attempts; one that keeps failing ends FAILED
// with its reason after the configured attempts, each outcome announced
// once in the history; an admin's retryDelivery sends it again (same key)
// and its new outcome is appended too.
func TestPropagateRetries(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			cfg := deliveryConfig()
			e := newEnvWith(t, b, cfg)
			f := propSetup(t, e)
			f.sms.FailNext(1, 503)
			f.msgr.Fail(500)
			f.msgr.FailBody("chat bridge down")
			var out struct {
				PropagateTicket []struct{ ID, ChannelType string }
			}
			e.do(f.editor, propagateMut, map[string]any{"id": f.ticketID, "r": gids(f.alice.ID), "c": []string{"SMS", "MESSENGER"}}).ok().into(&out)
			if len(out.PropagateTicket) != 2 {
				t.Fatalf("%+v", out)
			}
			final := func(d propNode) bool { return d.Status == "SENT" || d.Status == "FAILED" }
			var v propView
			eventually(t, 10*time.Second, "both deliveries to finish", func() bool {
				v = e.propagations(e.admin, f.number)
				return len(v.Ticket.Propagations.Edges) == 2 && final(v.Ticket.Propagations.Edges[0].Node) && final(v.Ticket.Propagations.Edges[1].Node)
			})
			var msgr propNode
			for _, edge := range v.Ticket.Propagations.Edges {
				d := edge.Node
				switch d.ChannelType {
				case "SMS":
					if d.Status != "SENT" || d.Attempts != 2 || d.LastError != nil {
						t.Fatalf("SMS after one 503: %+v, want SENT after 2 attempts", d)
					}
				case "MESSENGER":
					if d.Status != "FAILED" || d.Attempts != cfg.JobMaxAttempts || d.LastError == nil || !strings.Contains(*d.LastError, "500") {
						t.Fatalf("messenger answering 500: %+v, want FAILED after %d attempts with the status", d, cfg.JobMaxAttempts)
					}
					msgr = d
				}
			}
			if keys := f.msgr.Keys(); len(keys) != 1 || keys[msgr.IdempotencyKey] != cfg.JobMaxAttempts {
				t.Fatalf("messenger keys %v, want %d attempts with %s", keys, cfg.JobMaxAttempts, msgr.IdempotencyKey)
			}
			updates := func() int {
				n := 0
				for _, h := range e.propagations(e.admin, f.number).Ticket.History.Edges {
					if h.Node.Kind == "DELIVERY_UPDATED" {
						n++
					}
				}
				return n
			}
			if n := updates(); n != 2 {
				t.Fatalf("%d DELIVERY_UPDATED entries, want one per final outcome", n)
			}

			e.do(f.editor, `mutation($id: ID!) { retryDelivery(id: $id) { id } }`, map[string]any{"id": msgr.ID}).wantCode("FORBIDDEN")
			f.msgr.Reset()
			var rd struct {
				RetryDelivery struct {
					ID, Status, IdempotencyKey string
					Channel                    struct{ Name string }
					Recipient                  struct{ Login string }
				}
			}
			e.do(e.admin, `mutation($id: ID!) { retryDelivery(id: $id) { id status idempotencyKey channel { name } recipient { login } } }`,
				map[string]any{"id": msgr.ID}).ok().into(&rd)
			if rd.RetryDelivery.Status != "PENDING" || rd.RetryDelivery.Channel.Name != "chat" || rd.RetryDelivery.Recipient.Login != "alice" {
				t.Fatalf("retryDelivery: %+v", rd)
			}
			got := f.msgr.WaitFor(t, 1, 5*time.Second)
			if got[0].Key != msgr.IdempotencyKey {
				t.Fatalf("the retry sent key %q, want the delivery's %q", got[0].Key, msgr.IdempotencyKey)
			}
			eventually(t, 5*time.Second, "the retried delivery's outcome in the history", func() bool { return updates() == 3 })
			for _, edge := range e.propagations(e.admin, f.number).Ticket.Propagations.Edges {
				if d := edge.Node; d.ID == msgr.ID && (d.Status != "SENT" || d.SentAt == nil) {
					t.Fatalf("the retried delivery: %+v", d)
				}
			}
		})
	}
}
