package seed

import (
	"context"
	"database/sql"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"

	_ "socdesk/ent/runtime"
	"socdesk/internal/devtools/testdb"
)

func openSQLite(t *testing.T, name string) *ent.Client {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+name+"?mode=memory&cache=shared&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db)))
	t.Cleanup(func() { client.Close() })
	if err := client.Schema.Create(context.Background()); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	return client
}

func allow() context.Context {
	return privacy.DecisionContext(context.Background(), privacy.Allow)
}

func TestDemoSQLite(t *testing.T) {
	ctx := allow()
	client := openSQLite(t, "seedtest")

	start := time.Now()
	if err := Demo(context.Background(), client); err != nil {
		t.Fatalf("Demo: %v", err)
	}
	t.Logf("Demo took %s", time.Since(start).Round(time.Millisecond))

	counts := map[string]int{
		"sites":      client.Site.Query().CountX(ctx),
		"categories": client.Category.Query().CountX(ctx),
		"users":      client.User.Query().CountX(ctx),
		"tags":       client.Tag.Query().CountX(ctx),
		"tickets":    client.Ticket.Query().CountX(ctx),
		"memos":      client.Memo.Query().CountX(ctx),
	}
	want := map[string]int{"sites": 5, "categories": 8, "users": 12, "tags": 15, "tickets": 300}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: got %d, want %d", k, counts[k], v)
		}
	}
	if counts["memos"] == 0 {
		t.Error("no memos")
	}
	if client.User.Query().Where(user.Login("admin")).ExistX(ctx) {
		t.Error("Demo created the admin user")
	}
	detector := client.User.Query().Where(user.Login(detectorLogin)).OnlyX(ctx)
	viewOnly := 0
	for _, u := range client.User.Query().AllX(ctx) {
		if !slices.Contains(u.Permissions, "TICKET_EDIT") {
			viewOnly++
		}
	}
	if viewOnly == 0 {
		t.Error("no view-only analyst")
	}

	tickets := client.Ticket.Query().WithCategory().WithAssignees().WithApprovers().WithTags().AllX(ctx)
	kinds, origins, templates := map[ticket.Kind]int{}, map[ticket.Origin]int{}, map[ticket.DetectionTemplate]int{}
	verdicts, incidents := 0, 0
	for _, tk := range tickets {
		kinds[tk.Kind]++
		origins[tk.Origin]++
		if tk.DetectionTemplate != nil {
			templates[*tk.DetectionTemplate]++
		}
		if tk.AttackVerdict != nil {
			verdicts++
		}
		if tk.Incident {
			incidents++
		}
		if tk.Origin == ticket.OriginSYSTEM && (tk.RegisteredByID == nil || *tk.RegisteredByID != detector.ID) {
			t.Errorf("#%d: SYSTEM ticket not registered by detector", tk.Number())
		}
		if tk.Kind == ticket.KindDETECTION && (tk.DetectionTemplate == nil || tk.FirstDetectedAt == nil) {
			t.Errorf("#%d: DETECTION ticket without detection fields", tk.Number())
		}
		if tk.Kind == ticket.KindANALYSIS && (tk.BodyFormat != ticket.BodyFormatMARKDOWN || !strings.HasPrefix(tk.Body, "## ")) {
			t.Errorf("#%d: ANALYSIS ticket without markdown body", tk.Number())
		}
		if tk.Status == ticket.StatusNEW && len(tk.Edges.Assignees) != 0 {
			t.Errorf("#%d: NEW ticket with assignees", tk.Number())
		}
		switch tk.Status {
		case ticket.StatusSUBMITTED, ticket.StatusAPPROVED, ticket.StatusREJECTED:
			if len(tk.Edges.Approvers) == 0 {
				t.Errorf("#%d: %s ticket without approver", tk.Number(), tk.Status)
			}
		}
		if len(tk.Edges.Tags) > 3 {
			t.Errorf("#%d: %d tags", tk.Number(), len(tk.Edges.Tags))
		}
	}
	if len(kinds) != 2 || len(origins) != 2 || len(templates) != 3 || verdicts == 0 || incidents == 0 {
		t.Errorf("missing variety: kinds %v, origins %v, templates %v, verdicts %d, incidents %d",
			kinds, origins, templates, verdicts, incidents)
	}
	checkTickets(t, client, tickets)

	events := client.TicketEvent.Query().CountX(ctx)
	if err := Demo(context.Background(), client); err != nil {
		t.Fatalf("second Demo: %v", err)
	}
	if n := client.Ticket.Query().CountX(ctx); n != 300 {
		t.Errorf("second Demo changed the tickets: %d", n)
	}
	if n := client.TicketEvent.Query().CountX(ctx); n != events {
		t.Errorf("second Demo changed the events: %d, was %d", n, events)
	}
}

func TestSyntheticSQLite(t *testing.T) {
	ctx := allow()
	client := openSQLite(t, "seedsynthetic")
	var out strings.Builder
	if err := Synthetic(context.Background(), client, nil, dialect.SQLite, 1500, &out); err != nil {
		t.Fatalf("Synthetic: %v", err)
	}
	t.Log(strings.TrimSpace(out.String()))
	checkSyntheticCounts(t, client, 1500)
	checkTickets(t, client, client.Ticket.Query().WithCategory().WithAssignees().WithApprovers().WithTags().AllX(ctx))
}

// checkTickets checks the shape and history of tickets loaded with their
// category, assignees, approvers and tags.
func checkTickets(t *testing.T, client *ent.Client, tickets []*ent.Ticket) {
	t.Helper()
	ctx := allow()
	ids := make([]int, len(tickets))
	for i, tk := range tickets {
		ids[i] = tk.ID
	}
	byTicket := map[int][]*ent.TicketEvent{}
	for _, part := range chunks(ids, 1000) {
		evs := client.TicketEvent.Query().Where(ticketevent.TicketIDIn(part...)).
			Order(ticketevent.ByCreatedAt(), ticketevent.ByID()).AllX(ctx)
		for _, e := range evs {
			byTicket[*e.TicketID] = append(byTicket[*e.TicketID], e)
		}
	}
	seen := map[category.Workflow]map[ticket.Status]bool{}
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, tk := range tickets {
		wf := tk.Edges.Category.Workflow
		if seen[wf] == nil {
			seen[wf] = map[ticket.Status]bool{}
		}
		seen[wf][tk.Status] = true
		if !slices.Contains(workflowStatuses(wf), tk.Status) {
			fail("#%d: status %s not in workflow %s", tk.Number(), tk.Status, wf)
		}
		if tk.PriorityRank != priorityRank(tk.Priority) {
			fail("#%d: priority %s with rank %d", tk.Number(), tk.Priority, tk.PriorityRank)
		}
		// Memo events sit among the status changes in time order; the
		// ticket's own fields follow the status changes alone.
		var evs []*ent.TicketEvent
		for i, e := range byTicket[tk.ID] {
			if e.Kind != ticketevent.KindMEMO_ADDED {
				evs = append(evs, e)
				continue
			}
			if i == 0 || e.CreatedAt.Before(byTicket[tk.ID][i-1].CreatedAt) || e.ActorID == nil || len(e.Changes) != 1 || e.Changes[0].Field != "memo" {
				fail("#%d: memo event %+v out of place", tk.Number(), e)
			}
		}
		if len(evs) == 0 || evs[0].Kind != ticketevent.KindCREATED {
			fail("#%d: history does not start with CREATED", tk.Number())
			continue
		}
		created := evs[0]
		if len(created.Changes) != 2 || created.Changes[0].Field != "status" || created.Changes[0].From != nil ||
			created.Changes[1].Field != "title" || created.Changes[1].From != nil || created.Changes[1].To != tk.Title {
			fail("#%d: CREATED changes %+v", tk.Number(), created.Changes)
			continue
		}
		initial := created.Changes[0].To
		switch {
		case wf == category.WorkflowINCIDENT_RESPONSE && initial != "TRIAGE",
			wf == category.WorkflowAPPROVAL && initial != "NEW" && initial != "ASSIGNED",
			initial == "ASSIGNED" && len(tk.Edges.Assignees) == 0:
			fail("#%d: initial status %v in workflow %s", tk.Number(), initial, wf)
		}
		if !created.CreatedAt.Equal(tk.CreatedAt) {
			fail("#%d: CREATED at %s, ticket created at %s", tk.Number(), created.CreatedAt, tk.CreatedAt)
		}
		status := initial
		for i, e := range evs {
			if e.TicketNumber != tk.Number() || e.SiteID != tk.SiteID {
				fail("#%d: event %d has number %d, site %d", tk.Number(), e.ID, e.TicketNumber, e.SiteID)
			}
			if i == 0 {
				if e.ActorID == nil && tk.Origin == ticket.OriginUSER {
					fail("#%d: USER ticket created without actor", tk.Number())
				}
				continue
			}
			if !e.CreatedAt.After(evs[i-1].CreatedAt) {
				fail("#%d: event times not increasing: %s after %s", tk.Number(), e.CreatedAt, evs[i-1].CreatedAt)
			}
			if e.Kind != ticketevent.KindTRANSITIONED || len(e.Changes) != 1 || e.Changes[0].Field != "status" ||
				e.Changes[0].From != status || e.ActorID == nil {
				fail("#%d: event %d: %s %+v after status %v", tk.Number(), i, e.Kind, e.Changes, status)
				break
			}
			status = e.Changes[0].To
		}
		last := evs[len(evs)-1]
		if status != string(tk.Status) {
			fail("#%d: history ends in %v, ticket is %s", tk.Number(), status, tk.Status)
		}
		if tk.Version != len(evs) {
			fail("#%d: version %d with %d events", tk.Number(), tk.Version, len(evs))
		}
		if !tk.UpdatedAt.Equal(last.CreatedAt) {
			fail("#%d: updated at %s, last event at %s", tk.Number(), tk.UpdatedAt, last.CreatedAt)
		}
		if tk.UpdatedAt.After(time.Now()) {
			fail("#%d: updated in the future", tk.Number())
		}
		switch {
		case tk.Status == ticket.StatusCLOSED && (tk.ClosedAt == nil || !tk.ClosedAt.Equal(last.CreatedAt)):
			fail("#%d: CLOSED with closed_at %v, last event at %s", tk.Number(), tk.ClosedAt, last.CreatedAt)
		case tk.Status != ticket.StatusCLOSED && tk.ClosedAt != nil:
			fail("#%d: %s with closed_at", tk.Number(), tk.Status)
		}
	}
	for _, wf := range []category.Workflow{category.WorkflowAPPROVAL, category.WorkflowINCIDENT_RESPONSE} {
		for _, s := range workflowStatuses(wf) {
			if !seen[wf][s] {
				t.Errorf("no %s ticket in status %s", wf, s)
			}
		}
	}
}

func checkSyntheticCounts(t *testing.T, client *ent.Client, n int) {
	t.Helper()
	ctx := allow()
	got := map[string]int{
		"tickets":    client.Ticket.Query().CountX(ctx),
		"sites":      client.Site.Query().CountX(ctx),
		"categories": client.Category.Query().CountX(ctx),
		"ir":         client.Category.Query().Where(category.WorkflowEQ(category.WorkflowINCIDENT_RESPONSE)).CountX(ctx),
		"users":      client.User.Query().CountX(ctx),
		"tags":       client.Tag.Query().CountX(ctx),
	}
	want := map[string]int{"tickets": n, "sites": 20, "categories": 60, "ir": 10, "users": 2000, "tags": 200}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d", k, got[k], v)
		}
	}
	tickets := client.Ticket.Query().WithAssignees().WithApprovers().WithTags().AllX(ctx)
	for _, tk := range tickets {
		a, p, g := len(tk.Edges.Assignees), len(tk.Edges.Approvers), len(tk.Edges.Tags)
		if a < 1 || a > 3 || p > 2 || g > 3 {
			t.Fatalf("#%d: %d assignees, %d approvers, %d tags", tk.Number(), a, p, g)
		}
	}
}

// scratchPostgres returns this package's PostgreSQL database (migrated like
// production, emptied, identities restarted), or skips without a server.
func scratchPostgres(t testing.TB, _ string) (*sql.DB, *ent.Client) {
	t.Helper()
	st := testdb.Postgres(t, testdb.Options{})
	return st.DB, st.Client
}

func TestMain(m *testing.M) { testdb.Main(m) }

func TestSyntheticPostgres(t *testing.T) {
	db, client := scratchPostgres(t, "socdesk_seed_test")
	ctx := allow()
	const n = 5000
	var out strings.Builder
	if err := Synthetic(context.Background(), client, db, dialect.Postgres, n, &out); err != nil {
		t.Fatalf("Synthetic: %v", err)
	}
	t.Log(strings.TrimSpace(out.String()))
	checkSyntheticCounts(t, client, n)
	tickets := client.Ticket.Query().WithCategory().WithAssignees().WithApprovers().WithTags().AllX(ctx)
	checkTickets(t, client, tickets)
	numbers := make([]int, len(tickets))
	for i, tk := range tickets {
		numbers[i] = tk.Number()
	}
	slices.Sort(numbers)
	if numbers[0] != 1 || numbers[n-1] != n {
		t.Errorf("numbers run from %d to %d, want 1 to %d", numbers[0], numbers[n-1], n)
	}

	// The identity continues after the copied tickets.
	site := client.Site.Query().FirstX(ctx)
	cat := client.Category.Query().FirstX(ctx)
	tk := client.Ticket.Create().SetTitle("Created through ent").SetKind(ticket.KindANALYSIS).
		SetSiteID(site.ID).SetCategoryID(cat.ID).SaveX(ctx)
	if tk.Number() != n+1 {
		t.Errorf("ent-created ticket got number %d, want %d", tk.Number(), n+1)
	}

	// A second run reuses the reference data and continues the numbers.
	if err := Synthetic(context.Background(), client, db, dialect.Postgres, 100, nil); err != nil {
		t.Fatalf("second Synthetic: %v", err)
	}
	if c := client.User.Query().CountX(ctx); c != 2000 {
		t.Errorf("second run: %d users", c)
	}
	var maxID int
	if err := db.QueryRow("SELECT max(id) FROM tickets").Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	if got := ent.TicketNumber(maxID); got != n+101 {
		t.Errorf("after the second run the last number is %d, want %d", got, n+101)
	}
	if c := client.Ticket.Query().CountX(ctx); c != n+101 {
		t.Errorf("after the second run: %d tickets", c)
	}
	tk = client.Ticket.Create().SetTitle("Created through ent again").SetKind(ticket.KindANALYSIS).
		SetPriority(ticket.PriorityHIGH).SetSiteID(site.ID).SetCategoryID(cat.ID).SaveX(ctx)
	if tk.Number() != n+102 {
		t.Errorf("ent-created ticket got number %d, want %d", tk.Number(), n+102)
	}

	// COPY wrote the ranks the ent hook writes: one rank per priority, HIGH first.
	rows, err := db.Query("SELECT DISTINCT priority, priority_rank FROM tickets")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ranks := map[string][]int{}
	for rows.Next() {
		var p string
		var r int
		if err := rows.Scan(&p, &r); err != nil {
			t.Fatal(err)
		}
		ranks[p] = append(ranks[p], r)
	}
	if len(ranks) != 3 || len(ranks["HIGH"]) != 1 || len(ranks["MEDIUM"]) != 1 || len(ranks["LOW"]) != 1 ||
		ranks["HIGH"][0] >= ranks["MEDIUM"][0] || ranks["MEDIUM"][0] >= ranks["LOW"][0] {
		t.Errorf("priority ranks of copied and ent-created tickets: %v", ranks)
	}
}

// BenchmarkSyntheticPostgres times Synthetic loading SOCDESK_SEED_BENCH_N
// tickets (default 20,000) into a scratch database, reporting tickets/s:
//
//	SOCDESK_SEED_BENCH_N=100000 go test ./internal/seed/ -run - -bench Synthetic -benchtime 1x
func BenchmarkSyntheticPostgres(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("SOCDESK_SEED_BENCH_N"))
	if n <= 0 {
		n = 20000
	}
	var total time.Duration
	for range b.N {
		db, client := scratchPostgres(b, "socdesk_seed_bench")
		start := time.Now()
		if err := Synthetic(context.Background(), client, db, dialect.Postgres, n, io.Discard); err != nil {
			b.Fatalf("Synthetic: %v", err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "tickets/s")
}
