package graph_test

// Tests of the ticket list (Query.tickets): every filter alone and combined,
// filter validation, every ordering in both directions paged forwards and
// backwards, totalCount/pageInfo, and the page-size rule. Everything goes
// through the HTTP handler on both backends; expectations are computed in Go
// from the fixture slice below, never written out by hand.

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
)

// ---------------------------------------------------------------------------
// Fixtures

// listTicket is one ticket of the list fixtures. Indexes (site, category,
// assignees, approvers, tags) point into listFixtures' id slices.
type listTicket struct {
	title, body          string
	kind                 ticket.Kind
	site, category       int
	priority             ticket.Priority
	status               ticket.Status
	origin               ticket.Origin
	verdict              ticket.AttackVerdict // "" = no verdict
	incident             bool
	assignees, approvers []int
	tags                 []int
	created, updated     time.Time

	id, number int // known once created
}

// listFixtures are the created tickets and the ids of what they refer to.
type listFixtures struct {
	tickets                        []*listTicket
	sites, categories, tags, users []int
}

const (
	listTickets = 40
	listSlots   = 14 // distinct created_at values: 40 tickets share them, so ties are certain
)

// listBase is the time of the first creation slot.
var listBase = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// listSlot is the created_at of slot k: six hours apart over three and a half
// days, some with a sub-second part (real timestamps have one).
func listSlot(k int) time.Time {
	return listBase.Add(time.Duration(k)*6*time.Hour + time.Duration(k%3)*250*time.Millisecond)
}

// listStatuses are the statuses the fixtures use (a spread of both workflows).
var listStatuses = []ticket.Status{
	ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED,
	ticket.StatusTRIAGE, ticket.StatusREMEDIATION, ticket.StatusCLOSED,
}

// listSpecs returns the fixture tickets, not yet created. A seeded generator
// spreads the attributes; a few tickets get hand-written titles and bodies
// for the keyword filter.
func listSpecs() []*listTicket {
	r := rand.New(rand.NewPCG(20240301, 7))
	pick := func(n int) int { return r.IntN(n) }
	subset := func(n int) []int { // each member with probability 0.35
		var s []int
		for i := range n {
			if r.Float64() < 0.35 {
				s = append(s, i)
			}
		}
		return s
	}
	priorities := []ticket.Priority{ticket.PriorityHIGH, ticket.PriorityMEDIUM, ticket.PriorityLOW}
	verdicts := []ticket.AttackVerdict{ticket.AttackVerdictTRUE_POSITIVE, ticket.AttackVerdictFALSE_POSITIVE, ""}
	origins := []ticket.Origin{ticket.OriginSYSTEM, ticket.OriginUSER}
	kinds := []ticket.Kind{ticket.KindANALYSIS, ticket.KindDETECTION}

	specs := make([]*listTicket, listTickets)
	for i := range specs {
		specs[i] = &listTicket{
			title:     fmt.Sprintf("Routine check %02d", i),
			body:      fmt.Sprintf("Host h%02d reviewed.", i),
			kind:      kinds[pick(2)],
			site:      pick(3),
			category:  pick(3),
			priority:  priorities[pick(3)],
			status:    listStatuses[pick(len(listStatuses))],
			origin:    origins[pick(2)],
			verdict:   verdicts[pick(3)],
			incident:  pick(3) == 0,
			assignees: subset(4),
			approvers: subset(4),
			tags:      subset(3),
			created:   listSlot(pick(listSlots)),
			// After every creation, with ties of their own.
			updated: listBase.Add(4*24*time.Hour + time.Duration(pick(12))*2*time.Hour),
		}
	}
	// Distinctive words for the keyword filter, in title or body, mixed case.
	text := map[int][2]string{
		3:  {"Ransomware beacon on FS01", "Encrypted shares detected."},
		11: {"Odd SMB traffic", "Looks like ransomWARE staging via PsExec."},
		17: {"Disk usage at 100% on DB02", "Cleanup job failed."},
		22: {"svc_backup locked out", "Account svc_backup locked after 5 failures."},
		26: {"svcXbackup renamed", "Renamed svcXbackup100X as asked."}, // what % and _ would match as wildcards
		30: {"Mail attachment executed", `Dropped C:\Temp\evil.exe from mail.`},
		33: {"Überwachung der Firewall", "Regel geändert."},
		35: {"Sensor offline", "ÜBERWACHUNG fehlgeschlagen."},
	}
	for i, tb := range text {
		specs[i].title, specs[i].body = tb[0], tb[1]
	}
	return specs
}

// newListFixtures creates 3 sites, 3 categories, 3 tags, 4 users and the
// tickets of listSpecs, directly with ent.
func newListFixtures(t *testing.T, e *env) *listFixtures {
	t.Helper()
	fx := &listFixtures{tickets: listSpecs()}
	for i := range 3 {
		fx.sites = append(fx.sites, e.site(fmt.Sprintf("list-site-%d", i)))
		fx.categories = append(fx.categories, e.category(fmt.Sprintf("list-cat-%d", i),
			[]category.Workflow{category.WorkflowAPPROVAL, category.WorkflowINCIDENT_RESPONSE}[i%2]))
		fx.tags = append(fx.tags, e.tag(fmt.Sprintf("list-tag-%d", i)))
	}
	for i := range 4 {
		u := e.client.User.Create().SetLogin(fmt.Sprintf("list-user-%d", i)).
			SetDisplayName(fmt.Sprintf("List User %d", i)).SetRole(user.RoleANALYST).SaveX(sys())
		fx.users = append(fx.users, u.ID)
	}
	at := func(ids, idx []int) []int {
		out := make([]int, len(idx))
		for i, x := range idx {
			out[i] = ids[x]
		}
		return out
	}
	for _, lt := range fx.tickets {
		c := e.client.Ticket.Create().
			SetTitle(lt.title).SetBody(lt.body).SetKind(lt.kind).
			SetSiteID(fx.sites[lt.site]).SetCategoryID(fx.categories[lt.category]).
			SetPriority(lt.priority).SetStatus(lt.status).SetOrigin(lt.origin).SetIncident(lt.incident).
			SetCreatedAt(lt.created).SetUpdatedAt(lt.updated).
			AddAssigneeIDs(at(fx.users, lt.assignees)...).
			AddApproverIDs(at(fx.users, lt.approvers)...).
			AddTagIDs(at(fx.tags, lt.tags)...)
		if lt.verdict != "" {
			c.SetAttackVerdict(lt.verdict)
		}
		tk, err := c.Save(sys())
		if err != nil {
			t.Fatalf("creating %q: %v", lt.title, err)
		}
		lt.id, lt.number = tk.ID, tk.Number()
	}
	return fx
}

// expect returns the numbers of the tickets for which keep holds, ascending.
func (fx *listFixtures) expect(keep func(*listTicket) bool) []int {
	var out []int
	for _, lt := range fx.tickets {
		if keep(lt) {
			out = append(out, lt.number)
		}
	}
	sort.Ints(out)
	return out
}

// createdTimes are the distinct creation times of the tickets, ascending.
func (fx *listFixtures) createdTimes() []time.Time {
	var out []time.Time
	for _, lt := range fx.tickets {
		if !slices.ContainsFunc(out, lt.created.Equal) {
			out = append(out, lt.created)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// listAll keeps every ticket.
func listAll(*listTicket) bool { return true }

// listKeys are the sort keys of the orderings, as entgql sees them.
var listKeys = map[string]func(*listTicket) int64{
	"NUMBER":     func(lt *listTicket) int64 { return int64(lt.id) },
	"CREATED_AT": func(lt *listTicket) int64 { return lt.created.UnixNano() },
	"UPDATED_AT": func(lt *listTicket) int64 { return lt.updated.UnixNano() },
	"PRIORITY": func(lt *listTicket) int64 { // HIGH=0 MEDIUM=1 LOW=2 (priority_rank)
		return int64(slices.Index([]ticket.Priority{ticket.PriorityHIGH, ticket.PriorityMEDIUM, ticket.PriorityLOW}, lt.priority))
	},
}

// order returns the numbers of the tickets keep holds for, as the list should
// order them: by the field, ties broken by id in the same direction
// (ent/gql_pagination.go, ticketPager.applyOrder, adds id with the same
// direction), so DESC is exactly ASC reversed.
func (fx *listFixtures) order(field, direction string, keep func(*listTicket) bool) []int {
	key := listKeys[field]
	var ts []*listTicket
	for _, lt := range fx.tickets {
		if keep(lt) {
			ts = append(ts, lt)
		}
	}
	sort.Slice(ts, func(i, j int) bool {
		if ki, kj := key(ts[i]), key(ts[j]); ki != kj {
			return ki < kj
		}
		return ts[i].id < ts[j].id
	})
	out := make([]int, len(ts))
	for i, lt := range ts {
		out[i] = lt.number
	}
	if direction == "DESC" {
		slices.Reverse(out)
	}
	return out
}

// IDs of fixture objects by index, as GraphQL IDs.
func (fx *listFixtures) siteIDs(i ...int) []string     { return listPickIDs(fx.sites, i) }
func (fx *listFixtures) categoryIDs(i ...int) []string { return listPickIDs(fx.categories, i) }
func (fx *listFixtures) tagIDs(i ...int) []string      { return listPickIDs(fx.tags, i) }
func (fx *listFixtures) userIDs(i ...int) []string     { return listPickIDs(fx.users, i) }

func listPickIDs(ids, idx []int) []string {
	out := []string{} // never nil: an empty list must be sent as [], not null
	for _, i := range idx {
		out = append(out, gid(ids[i]))
	}
	return out
}

// hasAny reports whether set and want share a member.
func listHasAny(set []int, want ...int) bool {
	for _, w := range want {
		if slices.Contains(set, w) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Querying

const listQuery = `query List($first: Int, $after: Cursor, $last: Int, $before: Cursor, $filter: TicketFilter, $orderBy: TicketOrder) {
  tickets(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { number } }
  }
}`

// listQueryUncounted is listQuery without totalCount: pageInfo is then built
// from the page alone (graph/helpers.go, countOnlyIfSelected), a separate path.
var listQueryUncounted = strings.Replace(listQuery, "    totalCount\n", "", 1)

// listConn is a decoded TicketConnection.
type listConn struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct{ Number int }
	}
}

// numbers are the ticket numbers of c's edges, in order.
func (c listConn) numbers() []int {
	out := make([]int, len(c.Edges))
	for i, ed := range c.Edges {
		out[i] = ed.Node.Number
	}
	return out
}

// listDo runs query as the admin with failures reported on t (e.do reports
// on e.t, which must not be a parent of the running subtest).
func (e *env) listDo(t *testing.T, query string, vars map[string]any) *result {
	t.Helper()
	return e.listDoAs(t, e.admin, query, vars)
}

// listDoAs is listDo with another user's token.
func (e *env) listDoAs(t *testing.T, token, query string, vars map[string]any) *result {
	t.Helper()
	saved := e.t
	e.t = t
	defer func() { e.t = saved }()
	return e.do(token, query, vars)
}

// listGet runs listQuery with vars and returns the connection.
func (e *env) listGet(t *testing.T, vars map[string]any) listConn {
	t.Helper()
	return e.listQuery(t, listQuery, vars)
}

// listQuery runs query (selecting Query.tickets) and returns the connection.
func (e *env) listQuery(t *testing.T, query string, vars map[string]any) listConn {
	t.Helper()
	var d struct{ Tickets listConn }
	e.listDo(t, query, vars).ok().into(&d)
	return d.Tickets
}

// listWith returns a copy of vars with the given key set.
func listWith(vars map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(vars)+len(kv)/2)
	for k, v := range vars {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// listEqual fails t unless got equals want, element by element.
func listEqual(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %v (%d)\n want %v (%d)", what, got, len(got), want, len(want))
	}
}

// listForward pages through the list with first: size and after: endCursor
// until hasNextPage is false, checking every page's pageInfo and totalCount,
// and returns the numbers in the order received. query is listQuery or
// listQueryUncounted.
func (e *env) listForward(t *testing.T, query string, vars map[string]any, size, total int) []int {
	t.Helper()
	var (
		out   []int
		after any
	)
	for page := 0; ; page++ {
		if page > total+1 {
			t.Fatalf("paging forwards did not end after %d pages", page)
		}
		v := listWith(vars, "first", size)
		if after != nil {
			v["after"] = after
		}
		c := e.listQuery(t, query, v)
		n := c.numbers()
		listCheckPage(t, fmt.Sprintf("forward page %d", page), c, size, total, query == listQuery)
		// entgql: hasPreviousPage is true exactly when after was given.
		if c.PageInfo.HasPreviousPage != (page > 0) {
			t.Fatalf("forward page %d: hasPreviousPage = %v", page, c.PageInfo.HasPreviousPage)
		}
		if c.PageInfo.HasNextPage && len(n) != size {
			t.Fatalf("forward page %d: hasNextPage with a short page of %d", page, len(n))
		}
		out = append(out, n...)
		if !c.PageInfo.HasNextPage {
			if len(out) != total {
				t.Fatalf("forward: hasNextPage false after %d of %d tickets", len(out), total)
			}
			return out
		}
		after = *c.PageInfo.EndCursor
	}
}

// listBackward pages from the end with last: size and before: startCursor
// until hasPreviousPage is false, and returns the numbers in list order.
func (e *env) listBackward(t *testing.T, query string, vars map[string]any, size, total int) []int {
	t.Helper()
	var (
		pages  [][]int
		before any
	)
	for page := 0; ; page++ {
		if page > total+1 {
			t.Fatalf("paging backwards did not end after %d pages", page)
		}
		v := listWith(vars, "last", size)
		if before != nil {
			v["before"] = before
		}
		c := e.listQuery(t, query, v)
		n := c.numbers()
		listCheckPage(t, fmt.Sprintf("backward page %d", page), c, size, total, query == listQuery)
		// entgql: hasNextPage is true exactly when before was given.
		if c.PageInfo.HasNextPage != (page > 0) {
			t.Fatalf("backward page %d: hasNextPage = %v", page, c.PageInfo.HasNextPage)
		}
		if c.PageInfo.HasPreviousPage && len(n) != size {
			t.Fatalf("backward page %d: hasPreviousPage with a short page of %d", page, len(n))
		}
		pages = append(pages, n)
		if !c.PageInfo.HasPreviousPage {
			var out []int
			for i := len(pages) - 1; i >= 0; i-- {
				out = append(out, pages[i]...)
			}
			if len(out) != total {
				t.Fatalf("backward: hasPreviousPage false after %d of %d tickets", len(out), total)
			}
			return out
		}
		before = *c.PageInfo.StartCursor
	}
}

// listBothWays checks, in subtests, that paging forwards and paging
// backwards by size both yield want.
func (e *env) listBothWays(t *testing.T, query string, vars map[string]any, size int, want []int) {
	t.Helper()
	suffix := ""
	if query == listQueryUncounted {
		suffix = "_uncounted"
	}
	t.Run("forward"+suffix, func(t *testing.T) {
		listEqual(t, fmt.Sprintf("forwards by %d", size), e.listForward(t, query, vars, size, len(want)), want)
	})
	t.Run("backward"+suffix, func(t *testing.T) {
		listEqual(t, fmt.Sprintf("backwards by %d", size), e.listBackward(t, query, vars, size, len(want)), want)
	})
}

// listCheckPage checks what holds for every page: its size, totalCount (the
// whole filtered list, not the page), and start/end cursors matching the
// first and last edges.
func listCheckPage(t *testing.T, what string, c listConn, size, total int, counted bool) {
	t.Helper()
	if len(c.Edges) > size {
		t.Fatalf("%s: %d edges, more than %d", what, len(c.Edges), size)
	}
	if counted && c.TotalCount != total {
		t.Fatalf("%s: totalCount = %d, want %d", what, c.TotalCount, total)
	}
	if len(c.Edges) == 0 {
		if c.PageInfo.StartCursor != nil || c.PageInfo.EndCursor != nil {
			t.Fatalf("%s: cursors on an empty page: %+v", what, c.PageInfo)
		}
		return
	}
	if c.PageInfo.StartCursor == nil || *c.PageInfo.StartCursor != c.Edges[0].Cursor ||
		c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor {
		t.Fatalf("%s: pageInfo cursors %+v do not match the edges", what, c.PageInfo)
	}
}

// ---------------------------------------------------------------------------
// Filters

func TestFilterTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		rfc := func(tm time.Time) string { return tm.Format(time.RFC3339Nano) }
		// The time boundaries are creation times of tickets, or inclusive and
		// exclusive would not be told apart; frac has a sub-second part.
		slots := fx.createdTimes()
		from, to := slots[3], slots[len(slots)-4]
		var frac time.Time
		for _, s := range slots[1:] {
			if s.Nanosecond() != 0 {
				frac = s
				break
			}
		}
		if frac.IsZero() {
			t.Fatal("fixture problem: no creation time with a sub-second part")
		}
		jst := time.FixedZone("JST", 9*60*60)
		kw := func(k string) func(*listTicket) bool {
			k = strings.ToLower(k)
			return func(lt *listTicket) bool {
				return strings.Contains(strings.ToLower(lt.title), k) || strings.Contains(strings.ToLower(lt.body), k)
			}
		}
		none := func(*listTicket) bool { return false }

		cases := []struct {
			name   string
			filter map[string]any
			want   func(*listTicket) bool
			// sparse: the expected set may be empty or everything (the case is
			// about an edge, not about picking the right subset).
			sparse bool
		}{
			{name: "no filter", filter: map[string]any{}, want: listAll, sparse: true},

			// Creation time: from inclusive, to exclusive.
			{name: "createdFrom inclusive", filter: map[string]any{"createdFrom": rfc(from)},
				want: func(lt *listTicket) bool { return !lt.created.Before(from) }},
			{name: "createdTo exclusive", filter: map[string]any{"createdTo": rfc(to)},
				want: func(lt *listTicket) bool { return lt.created.Before(to) }},
			{name: "createdFrom and createdTo", filter: map[string]any{"createdFrom": rfc(from), "createdTo": rfc(to)},
				want: func(lt *listTicket) bool { return !lt.created.Before(from) && lt.created.Before(to) }},
			{name: "createdFrom equal to createdTo is empty", filter: map[string]any{"createdFrom": rfc(from), "createdTo": rfc(from)},
				want: none, sparse: true},
			// The same instants written with a +09:00 offset select the same tickets.
			{name: "createdFrom and createdTo with +09:00 offset",
				filter: map[string]any{"createdFrom": rfc(from.In(jst)), "createdTo": rfc(to.In(jst))},
				want:   func(lt *listTicket) bool { return !lt.created.Before(from) && lt.created.Before(to) }},
			// Sub-second precision counts: a millisecond after a slot excludes it.
			{name: "createdFrom sub-second", filter: map[string]any{"createdFrom": rfc(frac.Add(time.Millisecond))},
				want: func(lt *listTicket) bool { return lt.created.After(frac) }},
			{name: "createdTo sub-second", filter: map[string]any{"createdTo": rfc(frac.Add(time.Millisecond))},
				want: func(lt *listTicket) bool { return !lt.created.After(frac) }},

			{name: "one site", filter: map[string]any{"sites": fx.siteIDs(1)},
				want: func(lt *listTicket) bool { return lt.site == 1 }},
			{name: "two sites", filter: map[string]any{"sites": fx.siteIDs(0, 2)},
				want: func(lt *listTicket) bool { return lt.site != 1 }},
			{name: "unknown site", filter: map[string]any{"sites": []string{gid(fx.sites[2] + 1000)}},
				want: none, sparse: true},
			{name: "one category", filter: map[string]any{"categories": fx.categoryIDs(0)},
				want: func(lt *listTicket) bool { return lt.category == 0 }},
			{name: "two categories", filter: map[string]any{"categories": fx.categoryIDs(1, 2)},
				want: func(lt *listTicket) bool { return lt.category != 0 }},

			{name: "priority HIGH", filter: map[string]any{"priorities": []string{"HIGH"}},
				want: func(lt *listTicket) bool { return lt.priority == ticket.PriorityHIGH }},
			{name: "priority MEDIUM", filter: map[string]any{"priorities": []string{"MEDIUM"}},
				want: func(lt *listTicket) bool { return lt.priority == ticket.PriorityMEDIUM }},
			{name: "priority LOW", filter: map[string]any{"priorities": []string{"LOW"}},
				want: func(lt *listTicket) bool { return lt.priority == ticket.PriorityLOW }},
			{name: "priorities HIGH or LOW", filter: map[string]any{"priorities": []string{"HIGH", "LOW"}},
				want: func(lt *listTicket) bool { return lt.priority != ticket.PriorityMEDIUM }},

			{name: "status NEW", filter: map[string]any{"statuses": []string{"NEW"}},
				want: func(lt *listTicket) bool { return lt.status == ticket.StatusNEW }},
			{name: "statuses TRIAGE, CLOSED, IN_PROGRESS", filter: map[string]any{"statuses": []string{"TRIAGE", "CLOSED", "IN_PROGRESS"}},
				want: func(lt *listTicket) bool {
					return slices.Contains([]ticket.Status{ticket.StatusTRIAGE, ticket.StatusCLOSED, ticket.StatusIN_PROGRESS}, lt.status)
				}},
			{name: "status no ticket has", filter: map[string]any{"statuses": []string{"APPROVED", "RESOLVED"}},
				want: none, sparse: true},

			{name: "one assignee", filter: map[string]any{"assignees": fx.userIDs(0)},
				want: func(lt *listTicket) bool { return listHasAny(lt.assignees, 0) }},
			{name: "two assignees", filter: map[string]any{"assignees": fx.userIDs(1, 3)},
				want: func(lt *listTicket) bool { return listHasAny(lt.assignees, 1, 3) }},
			{name: "one approver", filter: map[string]any{"approvers": fx.userIDs(2)},
				want: func(lt *listTicket) bool { return listHasAny(lt.approvers, 2) }},
			{name: "two approvers", filter: map[string]any{"approvers": fx.userIDs(0, 1)},
				want: func(lt *listTicket) bool { return listHasAny(lt.approvers, 0, 1) }},
			// Assignee and approver are different relations: same user, different sets.
			{name: "assignee and approver both user 2", filter: map[string]any{"assignees": fx.userIDs(2), "approvers": fx.userIDs(2)},
				want: func(lt *listTicket) bool { return listHasAny(lt.assignees, 2) && listHasAny(lt.approvers, 2) }},

			{name: "origin SYSTEM", filter: map[string]any{"origins": []string{"SYSTEM"}},
				want: func(lt *listTicket) bool { return lt.origin == ticket.OriginSYSTEM }},
			{name: "origin USER", filter: map[string]any{"origins": []string{"USER"}},
				want: func(lt *listTicket) bool { return lt.origin == ticket.OriginUSER }},
			{name: "both origins", filter: map[string]any{"origins": []string{"USER", "SYSTEM"}}, want: listAll, sparse: true},

			{name: "one tag", filter: map[string]any{"tags": fx.tagIDs(0)},
				want: func(lt *listTicket) bool { return listHasAny(lt.tags, 0) }},
			{name: "two tags", filter: map[string]any{"tags": fx.tagIDs(1, 2)},
				want: func(lt *listTicket) bool { return listHasAny(lt.tags, 1, 2) }},

			{name: "verdict TRUE_POSITIVE", filter: map[string]any{"attackVerdicts": []string{"TRUE_POSITIVE"}},
				want: func(lt *listTicket) bool { return lt.verdict == ticket.AttackVerdictTRUE_POSITIVE }},
			{name: "verdict FALSE_POSITIVE", filter: map[string]any{"attackVerdicts": []string{"FALSE_POSITIVE"}},
				want: func(lt *listTicket) bool { return lt.verdict == ticket.AttackVerdictFALSE_POSITIVE }},
			{name: "verdict UNSET", filter: map[string]any{"attackVerdicts": []string{"UNSET"}},
				want: func(lt *listTicket) bool { return lt.verdict == "" }},
			{name: "verdict UNSET or TRUE_POSITIVE", filter: map[string]any{"attackVerdicts": []string{"UNSET", "TRUE_POSITIVE"}},
				want: func(lt *listTicket) bool { return lt.verdict != ticket.AttackVerdictFALSE_POSITIVE }},

			{name: "incident true", filter: map[string]any{"incident": true},
				want: func(lt *listTicket) bool { return lt.incident }},
			{name: "incident false", filter: map[string]any{"incident": false},
				want: func(lt *listTicket) bool { return !lt.incident }},

			// Keyword: case-insensitive substring of title or body.
			{name: "keyword in title or body, any case", filter: map[string]any{"keyword": "RANSOMware"}, want: kw("ransomware")},
			{name: "keyword only in a title", filter: map[string]any{"keyword": "beacon"}, want: kw("beacon")},
			{name: "keyword only in a body", filter: map[string]any{"keyword": "psexec"}, want: kw("psexec")},
			{name: "keyword matching many", filter: map[string]any{"keyword": "routine CHECK"}, want: kw("routine check")},
			{name: "keyword matching title and body of one ticket", filter: map[string]any{"keyword": "SVC_BACKUP"}, want: kw("svc_backup")},
			// % and _ are literal characters, not LIKE wildcards (ticket 26
			// would match "100%" and "svc_backup" as patterns).
			{name: "keyword with %", filter: map[string]any{"keyword": "100%"}, want: kw("100%")},
			{name: "keyword %", filter: map[string]any{"keyword": "%"}, want: kw("%")},
			{name: "keyword _", filter: map[string]any{"keyword": "_"}, want: kw("_")},
			{name: "keyword with backslash", filter: map[string]any{"keyword": `c:\temp\`}, want: kw(`c:\temp\`)},
			{name: "keyword matching nothing", filter: map[string]any{"keyword": "no such words"}, want: none, sparse: true},
			// Case-insensitivity beyond ASCII (Ü/ü).
			{name: "keyword non-ASCII lower case", filter: map[string]any{"keyword": "überwachung"}, want: kw("überwachung")},
			{name: "keyword non-ASCII exact case", filter: map[string]any{"keyword": "Überwachung"}, want: kw("Überwachung")},

			// An empty list matches nothing, whatever the list.
			{name: "empty sites", filter: map[string]any{"sites": []string{}}, want: none, sparse: true},
			{name: "empty categories", filter: map[string]any{"categories": []string{}}, want: none, sparse: true},
			{name: "empty priorities", filter: map[string]any{"priorities": []string{}}, want: none, sparse: true},
			{name: "empty statuses", filter: map[string]any{"statuses": []string{}}, want: none, sparse: true},
			{name: "empty assignees", filter: map[string]any{"assignees": []string{}}, want: none, sparse: true},
			{name: "empty approvers", filter: map[string]any{"approvers": []string{}}, want: none, sparse: true},
			{name: "empty origins", filter: map[string]any{"origins": []string{}}, want: none, sparse: true},
			{name: "empty tags", filter: map[string]any{"tags": []string{}}, want: none, sparse: true},
			{name: "empty attackVerdicts", filter: map[string]any{"attackVerdicts": []string{}}, want: none, sparse: true},
			// null is "not given", unlike [].
			{name: "null lists", filter: map[string]any{"sites": nil, "tags": nil, "attackVerdicts": nil}, want: listAll, sparse: true},

			// Combinations: AND across filters, OR within each list.
			{name: "site and priority", filter: map[string]any{"sites": fx.siteIDs(0), "priorities": []string{"HIGH", "MEDIUM"}},
				want: func(lt *listTicket) bool { return lt.site == 0 && lt.priority != ticket.PriorityLOW }},
			{name: "sites, categories, origin", filter: map[string]any{
				"sites": fx.siteIDs(0, 1), "categories": fx.categoryIDs(1, 2), "origins": []string{"SYSTEM"}},
				want: func(lt *listTicket) bool { return lt.site != 2 && lt.category != 0 && lt.origin == ticket.OriginSYSTEM }},
			{name: "tags, assignees, unset-or-FP verdict", filter: map[string]any{
				"tags": fx.tagIDs(0, 2), "assignees": fx.userIDs(0, 1), "attackVerdicts": []string{"UNSET", "FALSE_POSITIVE"}},
				want: func(lt *listTicket) bool {
					return listHasAny(lt.tags, 0, 2) && listHasAny(lt.assignees, 0, 1) && lt.verdict != ticket.AttackVerdictTRUE_POSITIVE
				}},
			{name: "time window, incident false, statuses", filter: map[string]any{
				"createdFrom": rfc(from), "createdTo": rfc(to), "incident": false, "statuses": []string{"NEW", "ASSIGNED", "TRIAGE", "CLOSED"}},
				want: func(lt *listTicket) bool {
					return !lt.created.Before(from) && lt.created.Before(to) && !lt.incident &&
						slices.Contains([]ticket.Status{ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusTRIAGE, ticket.StatusCLOSED}, lt.status)
				}},
			{name: "keyword and site", filter: map[string]any{"keyword": "routine", "sites": fx.siteIDs(2)},
				want: func(lt *listTicket) bool { return kw("routine")(lt) && lt.site == 2 }},
			{name: "approvers and tags", filter: map[string]any{"approvers": fx.userIDs(3), "tags": fx.tagIDs(1)},
				want: func(lt *listTicket) bool { return listHasAny(lt.approvers, 3) && listHasAny(lt.tags, 1) }},
			{name: "an empty list wins over the other filters", filter: map[string]any{"sites": fx.siteIDs(0, 1, 2), "tags": []string{}},
				want: none, sparse: true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := fx.expect(c.want)
				if !c.sparse && (len(want) == 0 || len(want) == len(fx.tickets)) {
					t.Fatalf("fixture problem: the case selects %d of %d tickets, which tests nothing", len(want), len(fx.tickets))
				}
				conn := e.listGet(t, map[string]any{"first": 100, "filter": c.filter})
				got := conn.numbers()
				sort.Ints(got)
				listEqual(t, fmt.Sprintf("numbers for %v", c.filter), got, want)
				if conn.TotalCount != len(want) {
					t.Fatalf("totalCount = %d, want %d", conn.TotalCount, len(want))
				}
				if conn.PageInfo.HasNextPage || conn.PageInfo.HasPreviousPage {
					t.Fatalf("one page holds everything, yet pageInfo = %+v", conn.PageInfo)
				}
			})
		}
	})
}

// Invalid filters are refused with BAD_USER_INPUT naming the field; their
// boundaries are accepted.
func TestFilterValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		from := listSlot(6).Format(time.RFC3339Nano)
		before := listSlot(6).Add(-time.Millisecond).Format(time.RFC3339Nano)
		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = gid(fx.sites[0])
		}

		bad := []struct {
			name   string
			filter map[string]any
			field  string
		}{
			{"empty keyword", map[string]any{"keyword": ""}, "filter.keyword"},
			{"201-character keyword", map[string]any{"keyword": strings.Repeat("k", 201)}, "filter.keyword"},
			{"201 multi-byte characters", map[string]any{"keyword": strings.Repeat("é", 201)}, "filter.keyword"},
			{"createdTo before createdFrom", map[string]any{"createdFrom": from, "createdTo": before}, "filter.createdTo"},
			{"101 sites", map[string]any{"sites": tooMany}, "filter.sites"},
			// A malformed ID fails while decoding the argument, so its field is
			// the GraphQL path (tickets.filter.sites[0]); only the tail is checked.
			{"malformed site ID", map[string]any{"sites": []string{"not-an-id"}}, "filter.sites[0]"},
			{"malformed tag ID among good ones", map[string]any{"tags": append(fx.tagIDs(0, 1), "%%%")}, "filter.tags[2]"},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				r := e.listDo(t, listQuery, map[string]any{"first": 10, "filter": c.filter})
				r.wantCode("BAD_USER_INPUT")
				if f := r.field(); f != c.field && !strings.HasSuffix(f, "."+c.field) {
					t.Fatalf("field = %q, want %q", f, c.field)
				}
				if len(r.Data) > 0 && string(r.Data) != "null" {
					t.Fatalf("data alongside the error: %s", r.Data)
				}
			})
		}

		good := []struct {
			name   string
			filter map[string]any
		}{
			{"200-character keyword", map[string]any{"keyword": strings.Repeat("k", 200)}},
			// Characters, not bytes: 200 two-byte characters are 400 bytes.
			{"200 multi-byte characters", map[string]any{"keyword": strings.Repeat("é", 200)}},
			{"createdTo equal to createdFrom", map[string]any{"createdFrom": from, "createdTo": from}},
			{"100 sites", map[string]any{"sites": tooMany[:100]}},
		}
		for _, c := range good {
			t.Run(c.name, func(t *testing.T) {
				e.listGet(t, map[string]any{"first": 10, "filter": c.filter})
			})
		}
	})
}

// A non-admin sees only their sites' tickets: filters narrow that scope and
// cannot widen it, and totalCount counts only what they may see.
func TestListScopedToViewerSites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		tok, _ := e.user("list-viewer", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, fx.sites[1])
		var d struct{ Tickets listConn }
		for _, c := range []struct {
			name   string
			filter map[string]any
			want   func(*listTicket) bool
		}{
			{"no filter", map[string]any{}, func(lt *listTicket) bool { return lt.site == 1 }},
			{"other sites", map[string]any{"sites": fx.siteIDs(0, 2)}, func(*listTicket) bool { return false }},
			{"all sites and a priority", map[string]any{"sites": fx.siteIDs(0, 1, 2), "priorities": []string{"HIGH"}},
				func(lt *listTicket) bool { return lt.site == 1 && lt.priority == ticket.PriorityHIGH }},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.listDoAs(t, tok, listQuery, map[string]any{"first": 100, "filter": c.filter}).ok().into(&d)
				got := d.Tickets.numbers()
				sort.Ints(got)
				want := fx.expect(c.want)
				listEqual(t, "numbers", got, want)
				if d.Tickets.TotalCount != len(want) {
					t.Fatalf("totalCount = %d, want %d", d.Tickets.TotalCount, len(want))
				}
			})
		}
	})
}

// ---------------------------------------------------------------------------
// Orderings and pagination

func TestOrderTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		total := len(fx.tickets)
		// Ties must exist for the tie-break to be tested.
		for field, key := range listKeys {
			seen := map[int64]bool{}
			for _, lt := range fx.tickets {
				seen[key(lt)] = true
			}
			if field != "NUMBER" && len(seen) == total {
				t.Fatalf("fixture problem: no two tickets share a %s", field)
			}
		}
		for _, field := range []string{"NUMBER", "CREATED_AT", "UPDATED_AT", "PRIORITY"} {
			for _, dir := range []string{"ASC", "DESC"} {
				t.Run(field+"_"+dir, func(t *testing.T) {
					vars := map[string]any{"orderBy": map[string]any{"field": field, "direction": dir}}
					want := fx.order(field, dir, listAll)

					// One page of everything.
					c := e.listGet(t, listWith(vars, "first", 100))
					listEqual(t, "first: 100", c.numbers(), want)
					e.listBothWays(t, listQuery, vars, 7, want)
				})
			}
		}
	})
}

// The order without orderBy is CREATED_AT DESC, ties newest id first.
func TestOrderDefault(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		want := fx.order("CREATED_AT", "DESC", listAll)
		listEqual(t, "first: 100", e.listGet(t, map[string]any{"first": 100}).numbers(), want)
		e.listBothWays(t, listQuery, map[string]any{}, 6, want)
	})
}

// Page sizes at the edges: 1, a divisor of the total (the last page is full,
// yet hasNextPage must be false), the total itself and more; each with and
// without totalCount selected, as pageInfo is computed differently then.
func TestPaginationPageSizes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		total := len(fx.tickets)
		queries := map[string]string{"counted": listQuery, "uncounted": listQueryUncounted}
		for _, o := range []struct{ field, dir string }{{"NUMBER", "ASC"}, {"CREATED_AT", "DESC"}, {"PRIORITY", "ASC"}} {
			vars := map[string]any{"orderBy": map[string]any{"field": o.field, "direction": o.dir}}
			want := fx.order(o.field, o.dir, listAll)
			for _, size := range []int{1, 8, total, 100} {
				for qname, q := range queries {
					t.Run(fmt.Sprintf("%s_%s_by_%d_%s", o.field, o.dir, size, qname), func(t *testing.T) {
						e.listBothWays(t, q, vars, size, want)
					})
				}
			}
		}
	})
}

// pageInfo alone (no edges, no totalCount) still tells whether more tickets
// exist: clients ask for it to show "more…" without fetching a page.
func TestPaginationPageInfoOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		incident := fx.expect(func(lt *listTicket) bool { return lt.incident })
		const q = `query($first: Int, $last: Int, $filter: TicketFilter) {
  tickets(first: $first, last: $last, filter: $filter) { pageInfo { hasNextPage hasPreviousPage } }
}`
		for _, c := range []struct {
			name           string
			vars           map[string]any
			next, previous bool
		}{
			{"first 5 of 40", map[string]any{"first": 5}, true, false},
			{"last 5 of 40", map[string]any{"last": 5}, false, true},
			{"first 5 of the incidents", map[string]any{"first": 5, "filter": map[string]any{"incident": true}}, len(incident) > 5, false},
			{"first 5 of none", map[string]any{"first": 5, "filter": map[string]any{"sites": []string{}}}, false, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				var d struct{ Tickets listConn }
				e.listDo(t, q, c.vars).ok().into(&d)
				if pi := d.Tickets.PageInfo; pi.HasNextPage != c.next || pi.HasPreviousPage != c.previous {
					t.Fatalf("hasNextPage %v hasPreviousPage %v, want %v %v", pi.HasNextPage, pi.HasPreviousPage, c.next, c.previous)
				}
			})
		}
	})
}

// A filter with an ordering and pagination pages through the filtered order,
// and totalCount is the filtered count on every page.
func TestPaginationFiltered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		cases := []struct {
			name   string
			filter map[string]any
			keep   func(*listTicket) bool
		}{
			{"two sites, HIGH or LOW", map[string]any{"sites": fx.siteIDs(0, 1), "priorities": []string{"HIGH", "LOW"}},
				func(lt *listTicket) bool { return lt.site != 2 && lt.priority != ticket.PriorityMEDIUM }},
			{"verdict UNSET or TRUE_POSITIVE", map[string]any{"attackVerdicts": []string{"UNSET", "TRUE_POSITIVE"}},
				func(lt *listTicket) bool { return lt.verdict != ticket.AttackVerdictFALSE_POSITIVE }},
			{"tag 0 or 1", map[string]any{"tags": fx.tagIDs(0, 1)},
				func(lt *listTicket) bool { return listHasAny(lt.tags, 0, 1) }},
		}
		for _, c := range cases {
			for _, o := range []struct{ field, dir string }{{"CREATED_AT", "ASC"}, {"PRIORITY", "DESC"}, {"UPDATED_AT", "DESC"}} {
				t.Run(fmt.Sprintf("%s/%s_%s", c.name, o.field, o.dir), func(t *testing.T) {
					want := fx.order(o.field, o.dir, c.keep)
					if len(want) < 4 || len(want) == len(fx.tickets) {
						t.Fatalf("fixture problem: the filter keeps %d tickets", len(want))
					}
					vars := map[string]any{"filter": c.filter, "orderBy": map[string]any{"field": o.field, "direction": o.dir}}
					e.listBothWays(t, listQuery, vars, 3, want)
					e.listBothWays(t, listQueryUncounted, vars, 3, want)
				})
			}
		}
	})
}

// first: 0 (and last: 0) return no edges but the full totalCount.
func TestPaginationTotalCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		incident := fx.expect(func(lt *listTicket) bool { return lt.incident })
		for _, c := range []struct {
			name string
			vars map[string]any
			want int
		}{
			{"first 0", map[string]any{"first": 0}, len(fx.tickets)},
			{"last 0", map[string]any{"last": 0}, len(fx.tickets)},
			{"first 0 filtered", map[string]any{"first": 0, "filter": map[string]any{"incident": true}}, len(incident)},
			{"first 0 nothing", map[string]any{"first": 0, "filter": map[string]any{"sites": []string{}}}, 0},
			{"first 3", map[string]any{"first": 3}, len(fx.tickets)},
		} {
			t.Run(c.name, func(t *testing.T) {
				conn := e.listGet(t, c.vars)
				if conn.TotalCount != c.want {
					t.Fatalf("totalCount = %d, want %d", conn.TotalCount, c.want)
				}
				size := 0
				if f, ok := c.vars["first"].(int); ok {
					size = f
				}
				if len(conn.Edges) != min(size, c.want) {
					t.Fatalf("%d edges, want %d", len(conn.Edges), min(size, c.want))
				}
			})
		}

		// totalCount alone (no edges selected) is counted too.
		var d struct{ Tickets struct{ TotalCount int } }
		e.do(e.admin, `query($f: TicketFilter) { tickets(first: 1, filter: $f) { totalCount } }`,
			map[string]any{"f": map[string]any{"incident": true}}).ok().into(&d)
		if d.Tickets.TotalCount != len(incident) {
			t.Fatalf("totalCount alone = %d, want %d", d.Tickets.TotalCount, len(incident))
		}
	})
}

// first or last is required and at most 100.
func TestPaginationPageSizeRule(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		newListFixtures(t, e)
		refused := []struct {
			name, query string
			vars        map[string]any
		}{
			{"no first or last", `{ tickets { totalCount } }`, nil},
			{"first null", `query($n: Int) { tickets(first: $n) { totalCount } }`, map[string]any{"n": nil}},
			{"first 101", `{ tickets(first: 101) { totalCount } }`, nil},
			{"first 101 as a variable", `query($n: Int) { tickets(first: $n) { totalCount } }`, map[string]any{"n": 101}},
			{"last 101", `{ tickets(last: 101) { totalCount } }`, nil},
			{"first -1", `{ tickets(first: -1) { totalCount } }`, nil},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				r := e.listDo(t, c.query, c.vars)
				r.wantCode("BAD_USER_INPUT", "tickets")
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
			})
		}
		for _, q := range []string{
			`{ tickets(first: 100) { totalCount edges { node { number } } } }`,
			`{ tickets(last: 100) { totalCount edges { node { number } } } }`,
		} {
			var d struct{ Tickets listConn }
			e.do(e.admin, q, nil).ok().into(&d)
			if len(d.Tickets.Edges) != listTickets || d.Tickets.TotalCount != listTickets {
				t.Fatalf("%s: %d edges, totalCount %d", q, len(d.Tickets.Edges), d.Tickets.TotalCount)
			}
		}
	})
}

// Malformed pagination arguments that pass the page-size rule are still the
// client's fault: BAD_USER_INPUT, not an internal error.
func TestPaginationBadArguments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		newListFixtures(t, e)
		for _, c := range []struct {
			name string
			vars map[string]any
		}{
			{"malformed after cursor", map[string]any{"first": 5, "after": "not-a-cursor"}},
			{"malformed before cursor", map[string]any{"last": 5, "before": "%%%"}},
			{"first and last", map[string]any{"first": 5, "last": 5}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.listDo(t, listQuery, c.vars).wantCode("BAD_USER_INPUT")
			})
		}
	})
}
