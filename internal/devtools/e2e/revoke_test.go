package e2e_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"socdesk/internal/devtools/wstest"
)

// TestRevocationAcrossReplicas: two server processes share PostgreSQL and
// Redis, with the websocket re-check timer and the auth cache at an hour. A
// user streaming from replica B who is deleted, or loses their last site,
// through replica A is disconnected within seconds (Redis carries the
// rights wake-up), and B then answers that user's requests with the new
// rights.
func TestRevocationAcrossReplicas(t *testing.T) {
	wstest.EnsureDeps(t)
	redisURL := sharedRedis(t)
	c := newCluster(t)
	slow := map[string]string{"SOCDESK_WS_RECHECK": "1h", "SOCDESK_AUTH_CACHE": "1h"}
	a := c.start("A", redisURL, slow)
	b := c.start("B", redisURL, slow)
	f := c.fixture(a)
	if _, err := c.createTicket(a, f, "seen by the analysts"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		login, mutation string
		after           int // the tickets the user's token then sees on B; -1: it is refused
	}{
		{"deleted.analyst", `mutation($id: ID!) { deleteUser(id: $id) { deletedID } }`, -1},
		{"moved.analyst", `mutation($id: ID!, $s: ID!) { updateUser(id: $id, input: {removeSiteIDs: [$s]}) { id } }`, 0},
	} {
		t.Run(r.login, func(t *testing.T) {
			var u struct {
				CreateUser struct{ ID string } `json:"createUser"`
			}
			if err := a.gql(c.token, `mutation($s: ID!, $l: String!) { createUser(input: {login: $l, displayName: $l, permissions: [TICKET_VIEW], siteIDs: [$s]}) { id } }`,
				map[string]any{"s": f.site, "l": r.login}, &u); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(c.bin, "token", "create", "--user", r.login)
			cmd.Env = childEnv(map[string]string{"DATABASE_URL": c.databaseURL})
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("socdesk token create: %v", err)
			}
			tok := strings.TrimSpace(string(out))
			count := func() int {
				var d struct{ Tickets struct{ TotalCount int } }
				err := b.gql(tok, `{ tickets(first: 10) { totalCount } }`, nil, &d)
				if err != nil && strings.Contains(err.Error(), "HTTP 401") {
					return -1
				} else if err != nil {
					t.Fatal(err)
				}
				return d.Tickets.TotalCount
			}
			if n := count(); n != 1 { // and now in B's auth cache for an hour
				t.Fatalf("before: %d tickets, want 1", n)
			}
			cl := wstest.Start(t, wstest.Options{URL: b.WS(), Protocol: wstest.TransportWS, Payload: map[string]any{"token": tok}})
			cl.ExpectConnected()
			cl.Subscribe("ev", changeQuery, nil)

			start := time.Now()
			if err := a.gql(c.token, r.mutation, map[string]any{"id": u.CreateUser.ID, "s": f.site}, nil); err != nil {
				t.Fatal(err)
			}
			code, reason := cl.WaitClosed(5 * time.Second)
			t.Logf("closed with %d %q after %v", code, reason, time.Since(start).Round(time.Millisecond))
			if n := count(); n != r.after {
				t.Fatalf("after the change: %d tickets on B, want %d", n, r.after)
			}
		})
	}
}
