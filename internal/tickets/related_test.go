package tickets

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/viewer"
)

// capture records the statements a client runs (outside transactions).
type capture struct {
	dialect.Driver
	mu    sync.Mutex
	on    bool
	stmts []stmt
}

type stmt struct {
	query string
	args  []any
}

func (c *capture) Query(ctx context.Context, query string, args, v any) error {
	c.mu.Lock()
	if c.on {
		a, _ := args.([]any)
		c.stmts = append(c.stmts, stmt{query, a})
	}
	c.mu.Unlock()
	return c.Driver.Query(ctx, query, args, v)
}

func (c *capture) take(fn func()) []stmt {
	c.mu.Lock()
	c.on, c.stmts = true, nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.stmts
}

// TestPivotQueriesUseTheIndexes: the queries of relatedTickets (each
// pivot's page and the counts) and of the IP and host filters are served by
// the (key, id) indexes on both databases, for an admin and for a viewer
// scoped to sites: the plans (EXPLAIN on PostgreSQL after ANALYZE, EXPLAIN
// QUERY PLAN on SQLite) name them.
func TestPivotQueriesUseTheIndexes(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			cap := &capture{}
			st := testdb.Open(t, backend, testdb.Options{Driver: func(d dialect.Driver) dialect.Driver { cap.Driver = d; return cap }})
			client := st.Client
			ctx := authz.System(context.Background())
			site := client.Site.Create().SetName("s").SaveX(ctx)
			other := client.Site.Create().SetName("o").SaveX(ctx)
			cat := client.Category.Create().SetName("c").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(ctx)
			const n = 6000
			for off := 0; off < n; off += 500 {
				bulk := make([]*ent.TicketCreate, 500)
				for i := range bulk {
					k := off + i
					bulk[i] = client.Ticket.Create().SetTitle("t").SetKind(ticket.KindDETECTION).SetCategory(cat).
						SetSiteID([]int{site.ID, other.ID}[k%2]).
						SetSrcIP(fmt.Sprintf("10.%d.%d.%d", k%7, k%251, k%997)).SetDstIP(fmt.Sprintf("2001:db8::%x", k%1009)).
						SetHost(fmt.Sprintf("WS-%d", k%1013))
				}
				client.Ticket.CreateBulk(bulk...).ExecX(ctx)
			}
			// The statistics the planners keep in production: PostgreSQL's
			// autovacuum, SQLite's PRAGMA optimize at every start (Migrate).
			if backend == dialect.Postgres {
				if _, err := st.DB.ExecContext(ctx, `ANALYZE tickets`); err != nil {
					t.Fatal(err)
				}
			} else if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			me := client.Ticket.Query().Order(ent.Desc(ticket.FieldID)).FirstX(ctx)
			scoped := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst,
				Permissions: []schematype.Permission{schematype.PermissionTicketView}, SiteIDs: []int{site.ID}})
			first := 50
			for name, v := range map[string]context.Context{"admin": ctx, "scoped": scoped} {
				stmts := cap.take(func() {
					page, err := Related(v, client, me, nil, &first, nil)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := page.Counts(v); err != nil {
						t.Fatal(err)
					}
					if _, err := page.TotalCount(v); err != nil {
						t.Fatal(err)
					}
				})
				for _, idx := range []string{"ticket_src_ip_key_id", "ticket_dst_ip_key_id", "ticket_host_key_id"} {
					if !usesIndex(t, st.DB, backend, stmts, idx) {
						t.Errorf("%s: no related-tickets statement uses %s", name, idx)
					}
				}
				for _, c := range []struct {
					f   Filter
					idx string
				}{
					{Filter{SourceIPs: []string{me.SrcIP}}, "ticket_src_ip_key_id"},
					{Filter{SourceIPs: []string{"10.3.7.0/24"}}, "ticket_src_ip_key_id"},
					{Filter{DestinationIPs: []string{"2001:db8::1/128", "2001:db8::10"}}, "ticket_dst_ip_key_id"},
					{Filter{Hosts: []string{"ws-7"}}, "ticket_host_key_id"},
				} {
					ps, err := c.f.Predicates()
					if err != nil {
						t.Fatal(err)
					}
					stmts := cap.take(func() {
						client.Ticket.Query().Where(ps...).Order(ent.Desc(ticket.FieldCreatedAt), ent.Desc(ticket.FieldID)).Limit(51).IDsX(v)
					})
					if !usesIndex(t, st.DB, backend, stmts, c.idx) {
						t.Errorf("%s: filter %s: the list does not use %s", name, show(&c.f), c.idx)
					}
				}
			}
		})
	}
}

// usesIndex reports whether the plan of one of stmts names idx (logging
// the plans when none does).
func usesIndex(t *testing.T, db *sql.DB, backend string, stmts []stmt, idx string) bool {
	t.Helper()
	explain := "EXPLAIN "
	if backend == dialect.SQLite {
		explain = "EXPLAIN QUERY PLAN "
	}
	var plans []string
	for _, s := range stmts {
		rows, err := db.QueryContext(context.Background(), explain+s.query, s.args...)
		if err != nil {
			t.Fatalf("%s%s: %v", explain, s.query, err)
		}
		cols, _ := rows.Columns()
		var plan []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, fmt.Sprint(vals...))
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		if strings.Contains(text, idx) {
			return true
		}
		plans = append(plans, s.query+"\n"+text)
	}
	t.Logf("plans without %s:\n%s", idx, strings.Join(plans, "\n\n"))
	return false
}

// TestRelatedMatchesAModel: over random tickets (keys drawn from small
// sets, some missing, two sites), every page of Related walked by its
// cursors, and its counts, equal what a plain reading of the rule gives:
// the earlier tickets sharing the ticket's key of one of the pivots asked,
// newest first, each once, within the viewer's sites.
func TestRelatedMatchesAModel(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			client := st.Client
			ctx := authz.System(context.Background())
			sites := []int{client.Site.Create().SetName("a").SaveX(ctx).ID, client.Site.Create().SetName("b").SaveX(ctx).ID}
			cat := client.Category.Create().SetName("c").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(ctx)
			rng := rand.New(rand.NewPCG(uint64(len(backend)), 12))
			t.Logf("seed %d", len(backend))
			pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
			bulk := make([]*ent.TicketCreate, 400)
			for i := range bulk {
				c := client.Ticket.Create().SetTitle("t").SetKind(ticket.KindDETECTION).SetCategory(cat).SetSiteID(sites[rng.IntN(2)])
				if ip := pick("10.0.0.1", "10.0.0.2", "::ffff:10.0.0.1", "10.0.0.3", ""); ip != "" {
					c.SetSrcIP(ip)
				}
				if ip := pick("2001:db8::1", "192.168.1.1", "192.168.1.2", ""); ip != "" {
					c.SetDstIP(ip)
				}
				if h := pick("WS-01", "ws-01", "db", "", " "); h != "" {
					c.SetHost(h)
				}
				bulk[i] = c
			}
			client.Ticket.CreateBulk(bulk...).ExecX(ctx)
			all := client.Ticket.Query().Order(ent.Asc(ticket.FieldID)).AllX(ctx)
			eq := func(a, b *string) bool { return a != nil && b != nil && *a == *b }
			for round := range 60 {
				me := all[rng.IntN(len(all))]
				var by []RelatedBy
				for _, b := range Pivots {
					if rng.IntN(2) == 0 {
						by = append(by, b)
					}
				}
				v := ctx
				seen := func(int) bool { return true }
				if rng.IntN(2) == 0 {
					site := sites[rng.IntN(2)]
					v = viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst,
						Permissions: []schematype.Permission{schematype.PermissionTicketView}, SiteIDs: []int{site}})
					seen = func(s int) bool { return s == site }
				}
				asked := by
				if len(asked) == 0 {
					asked = Pivots
				}
				var want []int
				per := map[RelatedBy]int{}
				for i := len(all) - 1; i >= 0; i-- {
					o := all[i]
					if o.ID >= me.ID || !seen(o.SiteID) {
						continue
					}
					shares := false
					for _, b := range asked {
						var hit bool
						switch b {
						case BySourceIP:
							hit = eq(o.SrcIPKey, me.SrcIPKey)
						case ByDestinationIP:
							hit = eq(o.DstIPKey, me.DstIPKey)
						case ByHost:
							hit = eq(o.HostKey, me.HostKey)
						}
						if hit {
							per[b]++
							shares = true
						}
					}
					if shares {
						want = append(want, o.ID)
					}
				}
				first := 1 + rng.IntN(30)
				var got []int
				var after *entgql.Cursor[int]
				for pages := 0; ; pages++ {
					page, err := Related(v, client, me, by, &first, after)
					if err != nil {
						t.Fatal(err)
					}
					if pages == 0 {
						total, err := page.TotalCount(v)
						if err != nil {
							t.Fatal(err)
						}
						counts, _ := page.Counts(v)
						if total != len(want) || len(counts) != len(asked) {
							t.Fatalf("round %d: total %d, want %d; counts %d for %v", round, total, len(want), len(counts), asked)
						}
						for _, c := range counts {
							if c.Count != per[c.By] {
								t.Fatalf("round %d: %s counts %d, want %d", round, c.By, c.Count, per[c.By])
							}
						}
					}
					for _, e := range page.Edges {
						got = append(got, e.Node.ID)
					}
					if !page.PageInfo.HasNextPage {
						break
					}
					if len(page.Edges) != first {
						t.Fatalf("round %d: a short page (%d of %d) with a next one", round, len(page.Edges), first)
					}
					after = page.PageInfo.EndCursor
				}
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: ticket %d by %v first %d: got %v, want %v", round, me.ID, by, first, got, want)
				}
			}
		})
	}
}
