package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/live"
	"socdesk/internal/tickets"
)

// streamQuery selects what the live/replay comparisons look at.
const streamQuery = `subscription($f: TicketFilter, $after: String) {
  ticketEvents(filter: $f, after: $after) {
    cursor kind ticketNumber inView
    event { id } changes { field } actor { login } previousStatus ticket { number }
  }
}`

// streamed is one change as a subscriber saw it.
type streamed struct {
	Cursor         string           `json:"cursor"`
	Kind           string           `json:"kind"`
	TicketNumber   int              `json:"ticketNumber"`
	InView         bool             `json:"inView"`
	Event          *json.RawMessage `json:"event"`
	Changes        []struct{}       `json:"changes"`
	Actor          *json.RawMessage `json:"actor"`
	PreviousStatus *string          `json:"previousStatus"`
	Ticket         *struct {
		Number int `json:"number"`
	} `json:"ticket"`
}

// key is what must be the same, live and in any replay.
func (s streamed) key() string {
	return fmt.Sprintf("%s %s #%d inView=%v closed=%v", s.Cursor, s.Kind, s.TicketNumber, s.InView, s.Event == nil)
}

// stream is one ticketEvents subscription read in the background.
type stream struct {
	mu   sync.Mutex
	got  []streamed
	err  error
	more chan struct{}
}

// openStream subscribes with token (filter and after optional) on a
// connection of its own and collects the changes until the test ends.
func (e *env) openStream(t *testing.T, token string, filter map[string]any, after string) *stream {
	t.Helper()
	ws := e.dialWS(t, token, nil)
	vars := map[string]any{}
	if filter != nil {
		vars["f"] = filter
	}
	if after != "" {
		vars["after"] = after
	}
	op := ws.subscribe(streamQuery, vars)
	s := &stream{more: make(chan struct{}, 1)}
	go func() {
		for {
			m, err := ws.read(time.Minute)
			if err == nil && (m.ID != op || m.Type != "next") {
				err = fmt.Errorf("unexpected %s %s %s", m.Type, m.ID, m.Payload)
			}
			var p struct {
				Data struct {
					TicketEvents streamed `json:"ticketEvents"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err == nil {
				if err = json.Unmarshal(m.Payload, &p); err == nil && len(p.Errors) > 0 {
					err = fmt.Errorf("errors %+v", p.Errors)
				}
			}
			s.mu.Lock()
			if err != nil {
				s.err = err
			} else {
				s.got = append(s.got, p.Data.TicketEvents)
			}
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// until waits for the changes up to and including those of the given
// ticket numbers' creation, and returns them all.
func (s *stream) until(t *testing.T, created ...int) []streamed {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		got, err := slices.Clone(s.got), s.err
		s.mu.Unlock()
		missing := slices.DeleteFunc(slices.Clone(created), func(n int) bool {
			return slices.ContainsFunc(got, func(c streamed) bool { return c.Kind == "CREATED" && c.TicketNumber == n })
		})
		if len(missing) == 0 {
			return got
		}
		if err != nil {
			t.Fatalf("the stream ended before the creation of %v: %v (after %d changes)", missing, err, len(got))
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("no creation of %v after %d changes", missing, len(got))
		}
	}
}

// apiCall posts a GraphQL request from any goroutine; GraphQL errors are
// the caller's to judge.
func (e *env) apiCall(token, query string, vars map[string]any) (*result, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := &result{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(r); err != nil {
		return nil, err
	}
	return r, nil
}

// viewOf replays a stream into the set of tickets a live list would show:
// added when a change leaves one in view, removed when one takes it out.
// A change out of the view of a ticket not in it is a second leaving.
func viewOf(t *testing.T, who string, changes []streamed) map[int]bool {
	t.Helper()
	in := map[int]bool{}
	for _, c := range changes {
		if c.Event == nil && (len(c.Changes) != 0 || c.Ticket != nil || c.Actor != nil || c.PreviousStatus != nil || c.InView) {
			t.Fatalf("%s: a closed change shows more than that the ticket left: %+v", who, c)
		}
		switch {
		case c.InView:
			in[c.TicketNumber] = true
		case !in[c.TicketNumber]:
			t.Fatalf("%s: %s of #%d takes out of view a ticket that was not in it", who, c.Kind, c.TicketNumber)
		default:
			delete(in, c.TicketNumber)
		}
	}
	return in
}

// listed returns the numbers of the tickets the list query shows with token
// and filter.
func (e *env) listed(t *testing.T, token string, filter map[string]any) map[int]bool {
	t.Helper()
	var out struct {
		Tickets struct {
			Edges []struct {
				Node struct {
					Number int `json:"number"`
				} `json:"node"`
			} `json:"edges"`
			PageInfo struct {
				HasNextPage bool `json:"hasNextPage"`
			} `json:"pageInfo"`
		} `json:"tickets"`
	}
	e.do(token, `query($f: TicketFilter) { tickets(first: 100, filter: $f) { edges { node { number } } pageInfo { hasNextPage } } }`,
		map[string]any{"f": filter}).ok().into(&out)
	if out.Tickets.PageInfo.HasNextPage {
		t.Fatal("more than a page of tickets")
	}
	set := map[int]bool{}
	for _, e := range out.Tickets.Edges {
		set[e.Node.Number] = true
	}
	return set
}

func numberOf(t *testing.T, gqlID string) int {
	t.Helper()
	id, err := scalar.DecodeID(gqlID)
	if err != nil {
		t.Fatal(err)
	}
	return ent.TicketNumber(id)
}

// TestLiveAndReplayAgreeOnAMoveThenADelete is issue 9's 1c: a ticket
// created on A, moved to B and deleted at once. The site-A viewer gets its
// creation and one closed change that takes it out of view; the site-B
// viewer the move (into view) and the deletion (out of it); the admin all
// three; and a replay from before the creation gives each the same.
func TestLiveAndReplayAgreeOnAMoveThenADelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		tokA, _ := e.user("a.viewer", user.RoleANALYST, view, f.site)
		tokB, _ := e.user("b.viewer", user.RoleANALYST, view, f.other)
		start := live.EncodeCursor(live.Position{})
		viewers := []struct {
			name, token string
			want        []string // kind inView closed
		}{
			{"site A", tokA, []string{"CREATED true false", "UPDATED false true"}},
			{"site B", tokB, []string{"UPDATED true false", "DELETED false false"}},
			{"admin", e.admin, []string{"CREATED true false", "UPDATED true false", "DELETED false false"}},
		}
		streams := make([]*stream, len(viewers))
		for i, v := range viewers {
			streams[i] = e.openStream(t, v.token, nil, "")
		}
		waitSubscribed(t, e, len(viewers))

		id := e.liveCreate(e.admin, f.site, f.cat, "t0")
		e.do(e.admin, `mutation($id: ID!, $s: ID!) { updateTicket(id: $id, input: {siteID: $s, title: "moved"}) { id } }`, map[string]any{"id": id, "s": gid(f.other)}).ok()
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": id}).ok()
		endA := e.liveCreate(e.admin, f.site, f.cat, "end of A")
		endB := e.liveCreate(e.admin, f.other, f.cat, "end of B")
		ends := map[string][]int{"site A": {numberOf(t, endA)}, "site B": {numberOf(t, endB)}, "admin": {numberOf(t, endA), numberOf(t, endB)}}
		n := numberOf(t, id)
		summary := func(changes []streamed) []string {
			var out []string
			for _, c := range changes {
				if c.TicketNumber == n {
					out = append(out, fmt.Sprintf("%s %v %v", c.Kind, c.InView, c.Event == nil))
				}
			}
			return out
		}
		for i, v := range viewers {
			got := streams[i].until(t, ends[v.name]...)
			if s := summary(got); !slices.Equal(s, v.want) {
				t.Errorf("%s live: %q, want %q", v.name, s, v.want)
			}
			replay := e.openStream(t, v.token, nil, start).until(t, ends[v.name]...)
			if s := summary(replay); !slices.Equal(s, v.want) {
				t.Errorf("%s replay: %q, want %q", v.name, s, v.want)
			}
		}
	})
}

// TestLiveReplayAndListAgree is issue 9's randomized check of 1c: creates,
// edits, moves between two sites, transitions and deletes, from two
// writers at random 0–50 ms intervals; then, for a site-A viewer, a site-B
// viewer, an admin and a viewer with a status filter, the live stream, a
// replay from the start and the list query must agree: the same changes
// in the same order, live and replayed, and the tickets the stream leaves
// in view exactly those the list shows.
func TestLiveReplayAndListAgree(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		tokA, _ := e.user("a.viewer", user.RoleANALYST, view, f.site)
		tokB, _ := e.user("b.viewer", user.RoleANALYST, view, f.other)
		tokF, _ := e.user("f.viewer", user.RoleANALYST, view, f.site, f.other)
		sites := []int{f.site, f.other}
		statuses := []string{"TRIAGE", "ANALYSIS", "REMEDIATION", "RESOLVED"}
		viewers := []struct {
			name, token string
			filter      map[string]any
		}{
			{"site A", tokA, nil},
			{"site B", tokB, nil},
			{"admin", e.admin, nil},
			{"filtered", tokF, map[string]any{"statuses": []string{"TRIAGE", "ANALYSIS"}}},
		}
		streams := make([]*stream, len(viewers))
		for i, v := range viewers {
			streams[i] = e.openStream(t, v.token, v.filter, "")
		}
		waitSubscribed(t, e, len(viewers))
		start := live.EncodeCursor(live.Position{})

		var (
			mu    sync.Mutex
			alive []string // GraphQL ids of the tickets not deleted
			ops   = map[string]int{}
			wg    sync.WaitGroup
			fails = make(chan error, 2)
		)
		seed := time.Now().UnixNano()
		t.Logf("seed %d", seed)
		for w := range 2 {
			rnd := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
			wg.Go(func() {
				for i := range 40 {
					time.Sleep(time.Duration(rnd.IntN(51)) * time.Millisecond)
					mu.Lock()
					var id string
					if len(alive) > 0 {
						id = alive[rnd.IntN(len(alive))]
					}
					mu.Unlock()
					op := rnd.IntN(100)
					if id == "" || op < 25 {
						op = -1
					}
					var (
						r   *result
						err error
						do  string
					)
					switch {
					case op < 0:
						do = "create"
						r, err = e.apiCall(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
							"kind": "ANALYSIS", "title": fmt.Sprintf("w%d op%d", w, i), "body": "b", "categoryID": gid(f.cat), "siteID": gid(sites[rnd.IntN(2)]), "priority": "HIGH",
						}})
						if err == nil && len(r.Errors) == 0 {
							var out struct {
								CreateTicket struct{ ID string } `json:"createTicket"`
							}
							_ = json.Unmarshal(r.Data, &out)
							mu.Lock()
							alive = append(alive, out.CreateTicket.ID)
							mu.Unlock()
						}
					case op < 45:
						do = "edit"
						r, err = e.apiCall(e.admin, `mutation($id: ID!, $t: String!) { updateTicket(id: $id, input: {title: $t, body: $t}) { id } }`,
							map[string]any{"id": id, "t": fmt.Sprintf("w%d op%d", w, i)})
					case op < 70:
						do = "move"
						r, err = e.apiCall(e.admin, `mutation($id: ID!, $s: ID!, $t: String!) { updateTicket(id: $id, input: {siteID: $s, title: $t}) { id } }`,
							map[string]any{"id": id, "s": gid(sites[rnd.IntN(2)]), "t": fmt.Sprintf("w%d op%d moved", w, i)})
					case op < 85:
						do = "transition"
						r, err = e.apiCall(e.admin, `mutation($id: ID!, $to: TicketStatus!) { transitionTicket(id: $id, action: MOVE, toStatus: $to) { id } }`,
							map[string]any{"id": id, "to": statuses[rnd.IntN(len(statuses))]})
					default:
						do = "delete"
						r, err = e.apiCall(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": id})
						mu.Lock()
						alive = slices.DeleteFunc(alive, func(a string) bool { return a == id })
						mu.Unlock()
					}
					if err != nil {
						fails <- err
						return
					}
					mu.Lock()
					if len(r.Errors) == 0 {
						ops[do]++
					} else {
						// The other writer deleted it, or a move to the status it is in.
						ops[do+" refused"]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(fails)
		for err := range fails {
			t.Fatal(err)
		}
		t.Logf("operations: %v", ops)
		// The last changes: each viewer has everything before them once it
		// has their creation.
		endA := numberOf(t, e.liveCreate(e.admin, f.site, f.cat, "end of A"))
		endB := numberOf(t, e.liveCreate(e.admin, f.other, f.cat, "end of B"))
		ends := map[string][]int{"site A": {endA}, "site B": {endB}, "admin": {endA, endB}, "filtered": {endA, endB}}

		for i, v := range viewers {
			got := streams[i].until(t, ends[v.name]...)
			replayed := e.openStream(t, v.token, v.filter, start).until(t, ends[v.name]...)
			a, b := keys(got), keys(replayed)
			if !slices.Equal(a, b) {
				t.Errorf("%s: live and replay differ\nlive:   %s\nreplay: %s", v.name, strings.Join(a, "\n        "), strings.Join(b, "\n        "))
				continue
			}
			inView := viewOf(t, v.name, got)
			if list := e.listed(t, v.token, v.filter); !equalSets(inView, list) {
				t.Errorf("%s: the stream leaves %v in view, the list shows %v", v.name, sorted(inView), sorted(list))
			}
			t.Logf("%s: %d changes, %d tickets in view", v.name, len(got), len(inView))
		}
	})
}

func keys(cs []streamed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.key()
	}
	return out
}

func equalSets(a, b map[int]bool) bool {
	return slices.Equal(sorted(a), sorted(b))
}

func sorted(s map[int]bool) []int {
	out := make([]int, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestDeletedEntryRecordsTheFinalState: a DELETED history entry records
// every field the ticket filter looks at, so that the live stream can
// judge a deleted ticket's changes from the history alone.
func TestDeletedEntryRecordsTheFinalState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := liveSetup(e)
		_, a := e.user("assignee", user.RoleANALYST, view, f.other)
		_, b := e.user("approver", user.RoleANALYST, view, f.other)
		var out struct {
			CreateTicket struct{ ID string } `json:"createTicket"`
		}
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "DETECTION", "title": "Final title", "body": `{"final": "body"}`, "categoryID": gid(f.cat), "siteID": gid(f.other),
			"priority": "HIGH", "attackVerdict": "TRUE_POSITIVE", "incident": true, "origin": "SYSTEM", "dueAt": "2026-12-24T09:00:00Z",
			"assigneeIDs": gids(a.ID), "approverIDs": gids(b.ID), "tagIDs": gids(e.tag("t1"), e.tag("t2")),
			"policyIDs": gids(e.client.CompliancePolicy.Create().SetName("p1").SaveX(sys()).ID),
			"detection": map[string]any{"template": "NETWORK", "sourceIP": "10.1.2.3", "destinationIP": "2001:db8::1", "host": "WS-01"},
		}}).ok().into(&out)
		id, _ := scalar.DecodeID(out.CreateTicket.ID)
		e.liveMove(e.admin, out.CreateTicket.ID, "ANALYSIS")
		e.client.Ticket.UpdateOneID(id).SetExplanationStatus(schematype.ExplanationAwaiting).ExecX(sys())
		e.client.TicketWatcher.Create().SetTicketID(id).SetUserID(a.ID).ExecX(sys())
		row := e.client.Ticket.Query().Where(ticket.ID(id)).WithAssignees().WithApprovers().WithTags().WithWatchers().WithPolicies().OnlyX(sys())
		want := tickets.SnapshotOf(row)
		v := reflect.ValueOf(want)
		for i := range v.NumField() {
			if v.Type().Field(i).Name == "ScheduleID" {
				continue // only tasks have schedules, and no task is ever deleted
			}
			if v.Field(i).IsZero() || (v.Field(i).Kind() == reflect.Slice && v.Field(i).Len() == 0) {
				t.Fatalf("the fixture leaves Snapshot.%s empty: set it, so that its recording is checked", v.Type().Field(i).Name)
			}
		}
		e.do(e.admin, `mutation($id: ID!) { deleteTicket(id: $id) { deletedID } }`, map[string]any{"id": out.CreateTicket.ID}).ok()
		ev := e.client.TicketEvent.Query().Where(ticketevent.TicketNumber(row.Number()), ticketevent.KindEQ(ticketevent.KindDELETED)).OnlyX(sys())
		got, ok := tickets.SnapshotAtDeletion(ev.Changes)
		if !ok {
			t.Fatalf("no final state in %+v", ev.Changes)
		}
		norm := func(s tickets.Snapshot) tickets.Snapshot {
			s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Microsecond)
			if s.DueAt != nil {
				d := s.DueAt.UTC()
				s.DueAt = &d
			}
			for _, l := range []*[]int{&s.Assignees, &s.Approvers, &s.Tags, &s.Watchers, &s.Policies} {
				*l = slices.Sorted(slices.Values(*l))
			}
			return s
		}
		if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("recorded %+v\nwant     %+v", g, w)
		}
	})
}
