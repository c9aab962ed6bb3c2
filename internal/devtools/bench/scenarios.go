package bench

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"socdesk/graph/scalar"
)

// A Scenario is one thing a client does, in two variants: through the
// server's GraphQL endpoint, and as its floor, the same result produced
// directly with SQL over lib/pq.
type Scenario struct {
	Name string `json:"name"`
	// What says what the scenario runs (the results table's notes).
	What    string `json:"what"`
	GraphQL Op     `json:"-"`
	SQL     Op     `json:"-"`
	// Probes, when set, return a fingerprint of each variant's result
	// (ids, counts), compared once before measuring: a floor must produce
	// the same result as the GraphQL variant.
	ProbeGraphQL func(ctx context.Context) (string, error) `json:"-"`
	ProbeSQL     func(ctx context.Context) (string, error) `json:"-"`
}

// Variants of a scenario.
const (
	VariantGraphQL = "graphql"
	VariantSQL     = "sql"
)

// Fixture is what the scenarios need to know about the data set.
type Fixture struct {
	GQL   *gqlClient
	DB    *sql.DB
	Redis *redis.Client
	// Site is the site of the filtered list (the one with most tickets).
	SiteID   int    `json:"site_id"`
	SiteName string `json:"site_name"`
	// AdminID is the user the floor's history entries are by.
	AdminID int `json:"admin_id"`
	// Keyword is the word of the search scenario.
	Keyword string `json:"keyword"`
	// DeepOffset is how many rows of the unfiltered list precede the deep
	// page; DeepID and DeepCreatedAt are the last of them (the cursor).
	DeepOffset    int       `json:"deep_offset"`
	DeepID        int       `json:"deep_id"`
	DeepCreatedAt time.Time `json:"deep_created_at"`
	// Transition tickets: INCIDENT_RESPONSE tickets in ANALYSIS or
	// REMEDIATION, per variant and worker.
	MoveTickets map[string][][]*moveTicket `json:"-"`
	// NumberOffset is id − number of every ticket (ent's global id range).
	NumberOffset int `json:"number_offset"`
	// ingest is the rule of the ingestion scenarios (ingest.go).
	ingest *ingestState
	// Today is the last day of the trend series.
	Today time.Time `json:"today"`
	// Pivot is the ticket of the related-tickets and IP filter scenarios.
	Pivot Pivot `json:"pivot"`
}

// moveTicket is a ticket the transition scenario moves back and forth.
type moveTicket struct {
	mu     sync.Mutex
	id     int
	status string
}

// listFields is the selection of the list page: what a ticket list shows.
const listFields = `edges { cursor node { id number title status priority createdAt
	category { name } site { name } assignees { login } approvers { login } tags { name color } } }
	pageInfo { hasNextPage endCursor }`

const listQuery = `query($f: TicketFilter, $after: Cursor) { tickets(first: 50, after: $after, filter: $f,
	orderBy: {field: CREATED_AT, direction: DESC}) { ` + listFields + ` } }`

// listSelect is the floor of a list page: the tickets with their category,
// site, assignees, approvers and tags, in one statement. Its WHERE, ORDER
// BY and LIMIT are appended.
const listSelect = `SELECT t.id, t.title, t.status, t.priority, t.created_at, c.name, s.name,
	(SELECT coalesce(json_agg(u.login), '[]') FROM ticket_assignees a JOIN users u ON u.id = a.user_id WHERE a.ticket_id = t.id),
	(SELECT coalesce(json_agg(u.login), '[]') FROM ticket_approvers a JOIN users u ON u.id = a.user_id WHERE a.ticket_id = t.id),
	(SELECT coalesce(json_agg(json_build_object('name', g.name, 'color', g.color)), '[]') FROM ticket_tags x JOIN tags g ON g.id = x.tag_id WHERE x.ticket_id = t.id)
FROM tickets t JOIN categories c ON c.id = t.category_id JOIN sites s ON s.id = t.site_id`

// listOrder is the keyset order of the lists, 50 rows and one to tell
// whether there is a next page.
const listOrder = ` ORDER BY t.created_at DESC, t.id DESC LIMIT 51`

// TrendFloorSQL is the floor of the daily trend: one statement returning,
// per day (0 = the first day; earlier history is counted in day 0) and
// status, how many tickets entered minus left the status that day; the
// counts at the end of each day are their running sums. $1 is the first day,
// $2 a site id or NULL. It sums the daily rollup (status_days) the ticket
// service keeps in each change's transaction: the best SQL there is for it.
const TrendFloorSQL = `SELECT greatest(0, (bucket AT TIME ZONE 'UTC')::date - $1::date) AS day, status, sum(delta)::bigint
FROM status_days WHERE ($2::bigint IS NULL OR site_id = $2::bigint)
GROUP BY 1, 2`

// trendStatuses are the statuses of a series in the server's order.
var trendStatuses = []string{"NEW", "ASSIGNED", "IN_PROGRESS", "SUBMITTED", "REJECTED", "APPROVED",
	"TRIAGE", "ANALYSIS", "REMEDIATION", "RESOLVED", "CLOSED"}

const trendQuery = `query($f: TicketFilter, $from: Date!, $to: Date!) { ticketTrend(filter: $f, from: $from, to: $to, timeZone: "UTC") {
	statuses days { date total values } } }`

const transitionMutation = `mutation($id: ID!, $to: TicketStatus!) { transitionTicket(id: $id, action: MOVE, toStatus: $to) { id status version } }`

// FloorChannel is the Redis channel the transition floor publishes to
// (not the server's, so that the floor does not wake the server's hub).
const FloorChannel = "socdesk-bench:floor"

// gid is the GraphQL (opaque) id of an ent id, as graph/scalar encodes it.
func gid(id int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sd:" + strconv.Itoa(id)))
}

// idOf decodes a GraphQL id.
func idOf(g string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(g)
	if err != nil || !strings.HasPrefix(string(b), "sd:") {
		return 0, fmt.Errorf("%q is not a socdesk id", g)
	}
	return strconv.Atoi(strings.TrimPrefix(string(b), "sd:"))
}

// Cursor returns the cursor of the row (id, value) of the ticket list in its
// default order (CREATED_AT), as the server writes it.
func Cursor(id int, value any) (string, error) {
	return scalar.EncodeCursor(id, value, "CREATED_AT")
}

// ListScenarios are the scenarios of the list page at one size: filtered
// (statuses IN_PROGRESS, one site).
func (f *Fixture) ListScenarios() []Scenario {
	vars := map[string]any{"f": map[string]any{"statuses": []string{"IN_PROGRESS"}, "sites": []string{gid(f.SiteID)}}}
	where := ` WHERE t.site_id = $1 AND t.status = 'IN_PROGRESS'`
	return []Scenario{f.listScenario("list", fmt.Sprintf("tickets(first: 50, filter: {statuses: [IN_PROGRESS], sites: [%s]}, orderBy: CREATED_AT DESC) with category, site, assignees, approvers, tags", f.SiteName),
		vars, listSelect+where+listOrder, f.SiteID)}
}

// Scenarios are every request scenario at full size.
func (f *Fixture) Scenarios() ([]Scenario, error) {
	sc := f.ListScenarios()
	cursor, err := Cursor(f.DeepID, f.DeepCreatedAt)
	if err != nil {
		return nil, err
	}
	sc = append(sc,
		f.listScenario("list-all-first", "deep-page baseline: the same list without a filter (every ticket), first page",
			map[string]any{}, listSelect+listOrder),
		f.listScenario("list-all-deep", fmt.Sprintf("the same unfiltered list, the page after row %d (an entgql cursor built from that row)", f.DeepOffset),
			map[string]any{"after": cursor}, listSelect+` WHERE (t.created_at, t.id) < ($1, $2)`+listOrder, f.DeepCreatedAt, f.DeepID),
		f.listScenario("search", fmt.Sprintf("tickets(first: 50, filter: {keyword: %q}) by CREATED_AT DESC; floor: title ILIKE OR body ILIKE", f.Keyword),
			map[string]any{"f": map[string]any{"keyword": f.Keyword}}, listSelect+` WHERE (t.title ILIKE $1 OR t.body ILIKE $1)`+listOrder, "%"+f.Keyword+"%"),
		f.countScenario(true),
		f.countScenario(false),
	)
	for _, days := range []int{90, 365} {
		sc = append(sc, f.trendScenario(days, false), f.trendScenario(days, true))
	}
	sc = append(sc, f.PivotScenarios()...)
	sc = append(sc, f.metricsScenarios()...)
	sc = append(sc, f.transitionScenario())
	sc = append(sc, f.IngestScenarios()...)
	return sc, nil
}

func (f *Fixture) listScenario(name, what string, vars map[string]any, query string, args ...any) Scenario {
	return Scenario{
		Name: name, What: what,
		GraphQL: func(ctx context.Context, _, _ int) error { return f.gql(ctx).do(ctx, listQuery, vars, nil) },
		SQL: func(ctx context.Context, _, _ int) error {
			_, err := f.listSQL(ctx, query, args...)
			return err
		},
		ProbeGraphQL: func(ctx context.Context) (string, error) { return f.listGraphQLIDs(ctx, vars) },
		ProbeSQL:     func(ctx context.Context) (string, error) { return f.listSQL(ctx, query, args...) },
	}
}

// listSQL runs a list floor, reads every column and returns the ids.
func (f *Fixture) listSQL(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := f.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var (
			id                             int
			title, status, prio, cat, site string
			created                        time.Time
			assignees, approvers, tags     []byte
		)
		if err := rows.Scan(&id, &title, &status, &prio, &created, &cat, &site, &assignees, &approvers, &tags); err != nil {
			return "", err
		}
		ids = append(ids, strconv.Itoa(id))
	}
	if len(ids) > 50 {
		ids = append(ids[:50], "next")
	}
	return strings.Join(ids, ","), rows.Err()
}

func (f *Fixture) listGraphQLIDs(ctx context.Context, vars map[string]any) (string, error) {
	var d struct {
		Tickets struct {
			Edges []struct {
				Node struct {
					ID string `json:"id"`
				} `json:"node"`
			} `json:"edges"`
			PageInfo struct {
				HasNextPage bool `json:"hasNextPage"`
			} `json:"pageInfo"`
		} `json:"tickets"`
	}
	if err := f.gql(ctx).do(ctx, listQuery, vars, &d); err != nil {
		return "", err
	}
	var ids []string
	for _, e := range d.Tickets.Edges {
		id, err := idOf(e.Node.ID)
		if err != nil {
			return "", err
		}
		ids = append(ids, strconv.Itoa(id))
	}
	if d.Tickets.PageInfo.HasNextPage {
		ids = append(ids, "next")
	}
	return strings.Join(ids, ","), nil
}

// countScenario is the first CLOSED ticket with (withCount) or without
// totalCount selected.
func (f *Fixture) countScenario(withCount bool) Scenario {
	sel, name := "", "nocount"
	what := "tickets(first: 1, filter: {statuses: [CLOSED]}) { edges { node { id } } } — the same list, totalCount not selected"
	floor := `SELECT NULL::bigint, (SELECT id FROM tickets WHERE status = 'CLOSED' ORDER BY created_at DESC, id DESC LIMIT 1)`
	if withCount {
		sel, name = "totalCount", "count"
		what = "tickets(first: 1, filter: {statuses: [CLOSED]}) { totalCount edges { node { id } } }; floor: SELECT count(*) and the first row"
		floor = `SELECT (SELECT count(*) FROM tickets WHERE status = 'CLOSED'), (SELECT id FROM tickets WHERE status = 'CLOSED' ORDER BY created_at DESC, id DESC LIMIT 1)`
	}
	q := `{ tickets(first: 1, filter: {statuses: [CLOSED]}, orderBy: {field: CREATED_AT, direction: DESC}) { ` + sel + ` edges { node { id } } } }`
	probeGQL := func(ctx context.Context) (string, error) {
		var d struct {
			Tickets struct {
				TotalCount *int `json:"totalCount"`
				Edges      []struct {
					Node struct {
						ID string `json:"id"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"tickets"`
		}
		if err := f.gql(ctx).do(ctx, q, nil, &d); err != nil {
			return "", err
		}
		fp := ""
		if d.Tickets.TotalCount != nil {
			fp = strconv.Itoa(*d.Tickets.TotalCount)
		}
		for _, e := range d.Tickets.Edges {
			id, err := idOf(e.Node.ID)
			if err != nil {
				return "", err
			}
			fp += "/" + strconv.Itoa(id)
		}
		return fp, nil
	}
	probeSQL := func(ctx context.Context) (string, error) {
		var n, id sql.NullInt64
		if err := f.DB.QueryRowContext(ctx, floor).Scan(&n, &id); err != nil {
			return "", err
		}
		fp := ""
		if n.Valid {
			fp = strconv.FormatInt(n.Int64, 10)
		}
		if id.Valid {
			fp += "/" + strconv.FormatInt(id.Int64, 10)
		}
		return fp, nil
	}
	return Scenario{
		Name: name, What: what,
		GraphQL:      func(ctx context.Context, _, _ int) error { return f.gql(ctx).do(ctx, q, nil, nil) },
		SQL:          func(ctx context.Context, _, _ int) error { _, err := probeSQL(ctx); return err },
		ProbeGraphQL: probeGQL, ProbeSQL: probeSQL,
	}
}

// trendScenario is ticketTrend over the days ending today, of every ticket
// or of one site's.
func (f *Fixture) trendScenario(days int, bySite bool) Scenario {
	from := f.Today.AddDate(0, 0, -(days - 1))
	vars := map[string]any{"from": from.Format(time.DateOnly), "to": f.Today.Format(time.DateOnly)}
	name := fmt.Sprintf("trend-%d", days)
	what := fmt.Sprintf("ticketTrend(from: %s, to: %s, timeZone: \"UTC\"), no filter", vars["from"], vars["to"])
	var site any
	if bySite {
		vars["f"] = map[string]any{"sites": []string{gid(f.SiteID)}}
		name += "-site"
		what = fmt.Sprintf("ticketTrend over %d days, filter: {sites: [%s]}", days, f.SiteName)
		site = f.SiteID
	}
	what += "; floor: TrendFloorSQL (sums of the daily rollup) + running sums"
	probeGQL := func(ctx context.Context) (string, error) {
		var d struct {
			TicketTrend struct {
				Days []struct {
					Total int `json:"total"`
				} `json:"days"`
			} `json:"ticketTrend"`
		}
		if err := f.gql(ctx).do(ctx, trendQuery, vars, &d); err != nil {
			return "", err
		}
		totals := make([]int, len(d.TicketTrend.Days))
		for i, day := range d.TicketTrend.Days {
			totals[i] = day.Total
		}
		return fmt.Sprint(totals), nil
	}
	probeSQL := func(ctx context.Context) (string, error) {
		s, err := f.trendSQL(ctx, from, days, site)
		if err != nil {
			return "", err
		}
		totals := make([]int, days)
		for d := range s {
			for _, n := range s[d] {
				totals[d] += n
			}
		}
		return fmt.Sprint(totals), nil
	}
	return Scenario{
		Name: name, What: what,
		GraphQL:      func(ctx context.Context, _, _ int) error { return f.gql(ctx).do(ctx, trendQuery, vars, nil) },
		SQL:          func(ctx context.Context, _, _ int) error { _, err := f.trendSQL(ctx, from, days, site); return err },
		ProbeGraphQL: probeGQL, ProbeSQL: probeSQL,
	}
}

// trendSQL runs TrendFloorSQL and returns, per day, the count of each
// status (trendStatuses order) at the end of the day.
func (f *Fixture) trendSQL(ctx context.Context, from time.Time, days int, site any) ([][]int, error) {
	rows, err := f.DB.QueryContext(ctx, TrendFloorSQL, from.Format(time.DateOnly), site)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	index := make(map[string]int, len(trendStatuses))
	for i, s := range trendStatuses {
		index[s] = i
	}
	delta := make([][]int, days)
	for d := range delta {
		delta[d] = make([]int, len(trendStatuses))
	}
	for rows.Next() {
		var day, n int
		var status string
		if err := rows.Scan(&day, &status, &n); err != nil {
			return nil, err
		}
		if i, ok := index[status]; ok && day < days {
			delta[day][i] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return runningSums(delta), nil
}

// runningSums turns per-day deltas into per-day counts, in place.
func runningSums(delta [][]int) [][]int {
	for d := 1; d < len(delta); d++ {
		for i := range delta[d] {
			delta[d][i] += delta[d-1][i]
		}
	}
	return delta
}

// transitionScenario moves INCIDENT_RESPONSE tickets between ANALYSIS and
// REMEDIATION; each worker has tickets of its own.
func (f *Fixture) transitionScenario() Scenario {
	gqlTickets, sqlTickets := f.MoveTickets[VariantGraphQL], f.MoveTickets[VariantSQL]
	return Scenario{
		Name: "transition",
		What: "transitionTicket(id, action: MOVE, toStatus) between ANALYSIS and REMEDIATION, own tickets per worker; floor: one transaction UPDATE tickets + INSERT ticket_events, then Redis PUBLISH after commit",
		GraphQL: func(ctx context.Context, w, i int) error {
			t := pickTicket(gqlTickets, w, i)
			t.mu.Lock()
			defer t.mu.Unlock()
			to := otherStatus(t.status)
			if err := f.gql(ctx).do(ctx, transitionMutation, map[string]any{"id": gid(t.id), "to": to}, nil); err != nil {
				return err
			}
			t.status = to
			return nil
		},
		SQL: func(ctx context.Context, w, i int) error {
			t := pickTicket(sqlTickets, w, i)
			t.mu.Lock()
			defer t.mu.Unlock()
			return f.transitionSQL(ctx, t.id)
		},
	}
}

func pickTicket(ts [][]*moveTicket, w, i int) *moveTicket {
	own := ts[w%len(ts)]
	return own[i%len(own)]
}

func otherStatus(s string) string {
	if s == "ANALYSIS" {
		return "REMEDIATION"
	}
	return "ANALYSIS"
}

// transitionSQL is the floor of a transition: the status change and its
// history entry in one transaction, published after commit.
func (f *Fixture) transitionSQL(ctx context.Context, id int) (err error) {
	tx, err := f.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var to string
	var site int
	err = tx.QueryRowContext(ctx, `UPDATE tickets SET status = CASE status WHEN 'ANALYSIS' THEN 'REMEDIATION' ELSE 'ANALYSIS' END,
		version = version + 1, updated_at = now() WHERE id = $1 RETURNING status, site_id`, id).Scan(&to, &site)
	if err != nil {
		return err
	}
	changes, _ := json.Marshal([]map[string]any{{"field": "status", "from": otherStatus(to), "to": to}})
	var eventID int
	err = tx.QueryRowContext(ctx, `INSERT INTO ticket_events (kind, created_at, ticket_number, site_id, changes, ticket_id, actor_id, status)
		VALUES ('TRANSITIONED', now(), $1, $2, $3, $4, $5, $6) RETURNING id`,
		id-f.NumberOffset, site, string(changes), id, f.AdminID, to).Scan(&eventID)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return f.Redis.Publish(ctx, FloorChannel, strconv.Itoa(eventID)).Err()
}

// errNoTickets: the data set has too few tickets for a scenario.
var errNoTickets = errors.New("no INCIDENT_RESPONSE ticket in ANALYSIS or REMEDIATION")
