package e2e_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"socdesk/internal/devtools/wstest"
)

// TestTwoReplicas: two server processes share PostgreSQL and Redis, with
// the history relay slowed to once an hour, so only Redis can tell one
// replica quickly about a change made through the other. Subscribers on
// one replica, using the real JavaScript clients of both websocket
// protocols, get each change made through the other replica within a few
// seconds, once, in order, with its kind and the ticket's fields. Both
// directions.
func TestTwoReplicas(t *testing.T) {
	wstest.EnsureDeps(t)
	redisURL := sharedRedis(t)
	c := newCluster(t)
	if c.channel == "" {
		t.Logf("the server has no SOCDESK_REDIS_CHANNEL: the replicas use the default channel %s on the shared Redis", c.Channel())
	}
	slow := map[string]string{"SOCDESK_LIVE_POLL": "1h"}
	var a, b *server
	start := time.Now()
	a = c.start("A", redisURL, slow)
	b = c.start("B", redisURL, slow)
	t.Logf("two replicas ready in %v: A %s, B %s, channel %s", time.Since(start).Round(time.Millisecond), a.URL, b.URL, c.Channel())
	if c.channel != "" {
		// Both hubs listen to the channel (nobody else uses it).
		waitNumSub(t, redisURL, c.channel, 2, 10*time.Second)
	}
	f := c.fixture(a)
	probe, err := c.createTicket(a, f, "probe")
	if err != nil {
		t.Fatal(err)
	}

	for _, dir := range []struct {
		name          string
		subs, through *server
	}{
		{"subscribers on B, mutations through A", b, a},
		{"subscribers on A, mutations through B", a, b},
	} {
		t.Run(dir.name, func(t *testing.T) {
			clients := []*wstest.Client{
				wstest.Start(t, wstest.Options{URL: dir.subs.WS(), Protocol: wstest.TransportWS, Payload: map[string]any{"token": c.token}}),
				wstest.Start(t, wstest.Options{URL: dir.subs.WS(), Protocol: wstest.LegacyWS, Payload: map[string]any{"token": c.token}}),
			}
			for _, cl := range clients {
				cl.ExpectConnected()
				cl.Subscribe("ev", changeQuery, nil)
			}
			// gqlgen says nothing when a subscription starts: rename the
			// probe ticket until every client has seen a rename. From then
			// on each is registered with the hub and misses nothing.
			ready := make([]bool, len(clients))
			deadline := time.Now().Add(15 * time.Second)
			for k := 1; ; k++ {
				if err := c.rename(dir.through, probe.ID, fmt.Sprintf("probe %d", k)); err != nil {
					t.Fatal(err)
				}
				all := true
				for i, cl := range clients {
					if !ready[i] {
						_, err := cl.Wait(500*time.Millisecond, func(m wstest.Message) bool { return m.Type == wstest.TypeNext && m.Op == "ev" })
						ready[i] = err == nil
					}
					all = all && ready[i]
				}
				if all {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the subscribers never got a change of the probe ticket (ready: %v)", ready)
				}
			}

			title := "Beacon to rare domain, " + dir.name
			var ticket createdTicket
			steps := []struct {
				name   string
				mutate func() error
				check  func(change) error
			}{
				{"createTicket", func() error {
					var err error
					ticket, err = c.createTicket(dir.through, f, title)
					return err
				}, func(ch change) error {
					if ch.Kind != "CREATED" || ch.Ticket == nil || ch.Ticket.ID != ticket.ID || ch.TicketID != ticket.ID ||
						ch.TicketNumber != ticket.Number || ch.Ticket.Number != ticket.Number || ch.Ticket.Title != title ||
						ch.Ticket.Status != "TRIAGE" || ch.Ticket.Category.Name != f.categoryName || ch.PreviousStatus != nil ||
						ch.Actor == nil || ch.Actor.Login != "admin" || ch.Cursor == "" || ch.At == "" {
						return fmt.Errorf("want CREATED of %+v", ticket)
					}
					return nil
				}},
				{"updateTicket", func() error {
					return c.rename(dir.through, ticket.ID, title+" (2 hosts)")
				}, func(ch change) error {
					if ch.Kind != "UPDATED" || ch.Ticket == nil || ch.Ticket.Title != title+" (2 hosts)" || len(ch.Changes) != 1 ||
						ch.Changes[0].Field != "title" || ch.Changes[0].From != title || ch.Changes[0].To != title+" (2 hosts)" ||
						ch.Actor == nil || ch.Actor.Login != "admin" || ch.PreviousStatus != nil {
						return fmt.Errorf("want UPDATED of the title")
					}
					return nil
				}},
				{"transitionTicket", func() error {
					return dir.through.gql(c.token, moveMutation, map[string]any{"id": ticket.ID, "to": "ANALYSIS"}, nil)
				}, func(ch change) error {
					if ch.Kind != "TRANSITIONED" || ch.Ticket == nil || ch.Ticket.Status != "ANALYSIS" || ch.PreviousStatus == nil ||
						*ch.PreviousStatus != "TRIAGE" || ch.Actor == nil || ch.Actor.Login != "admin" {
						return fmt.Errorf("want TRANSITIONED from TRIAGE to ANALYSIS")
					}
					return nil
				}},
			}
			cursors := map[string]bool{}
			for _, step := range steps {
				sent := time.Now()
				if err := step.mutate(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				rtt := time.Since(sent)
				// Each client waits in its own goroutine, so each arrival is
				// timed as it happens. The next change that is not the probe
				// ticket's must be this one.
				var wg sync.WaitGroup
				lat := make([]time.Duration, len(clients))
				got := make([]change, len(clients))
				errs := make([]error, len(clients))
				for i, cl := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						m, err := cl.Wait(5*time.Second, func(m wstest.Message) bool {
							return m.Type != wstest.TypeNext || m.Op != "ev" || ticketOf(m) != probe.ID
						})
						lat[i] = time.Since(sent)
						if err == nil {
							got[i], err = decodeChange(m)
						}
						errs[i] = err
					}()
				}
				wg.Wait()
				for i, cl := range clients {
					if errs[i] != nil {
						t.Fatalf("%s, %s client: %v", step.name, cl.Protocol(), errs[i])
					}
					if err := step.check(got[i]); err != nil {
						t.Fatalf("%s, %s client: %v; got %+v", step.name, cl.Protocol(), err, got[i])
					}
					if cursors[cl.Protocol()+got[i].Cursor] {
						t.Fatalf("%s, %s client: cursor %s twice", step.name, cl.Protocol(), got[i].Cursor)
					}
					cursors[cl.Protocol()+got[i].Cursor] = true
					t.Logf("%s through %s: delivered to the %s client on the other replica %v after the request was sent (mutation round trip %v)",
						step.name, dir.through.URL, cl.Protocol(), lat[i].Round(time.Microsecond), rtt.Round(time.Microsecond))
					recordLatency(dir.name, lat[i])
				}
			}
			// Nothing else comes: no duplicate, no stray change.
			for _, cl := range clients {
				if m, err := cl.Wait(300*time.Millisecond, func(m wstest.Message) bool {
					return m.Type != wstest.TypeNext || m.Op != "ev" || ticketOf(m) != probe.ID
				}); err == nil {
					t.Fatalf("%s client: unexpected %s", cl.Protocol(), m.Line)
				}
			}
			for _, cl := range clients {
				cl.Close()
				if code, reason := cl.WaitClosed(5 * time.Second); code != 1000 && code != 1005 {
					t.Errorf("%s client: closed with %d %q", cl.Protocol(), code, reason)
				}
			}
		})
	}
	logLatencies(t)
}

// ticketOf returns the ticketId of a next message, "" if it has none.
func ticketOf(m wstest.Message) string {
	var v struct {
		TicketEvents struct {
			TicketID string `json:"ticketId"`
		} `json:"ticketEvents"`
	}
	_ = m.Data(&v)
	return v.TicketEvents.TicketID
}

func decodeChange(m wstest.Message) (change, error) {
	if errs := m.GraphQLErrors(); len(errs) > 0 {
		return change{}, fmt.Errorf("errors: %v", errs)
	}
	var v struct {
		TicketEvents *change `json:"ticketEvents"`
	}
	if err := m.Data(&v); err != nil {
		return change{}, err
	}
	if v.TicketEvents == nil {
		return change{}, fmt.Errorf("no ticketEvents in %s", m.Line)
	}
	return *v.TicketEvents, nil
}

var latencies struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func recordLatency(key string, d time.Duration) {
	latencies.mu.Lock()
	defer latencies.mu.Unlock()
	if latencies.by == nil {
		latencies.by = map[string][]time.Duration{}
	}
	latencies.by[key] = append(latencies.by[key], d)
}

func logLatencies(t *testing.T) {
	latencies.mu.Lock()
	defer latencies.mu.Unlock()
	for k, ds := range latencies.by {
		t.Logf("cross-replica delivery (%s): %s", k, summary(ds))
	}
}

// summary is "n=…, min …, median …, max …" of ds.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d, min %v, median %v, p90 %v, max %v", len(s), r(s[0]), r(s[len(s)/2]), r(s[len(s)*9/10]), r(s[len(s)-1]))
}
