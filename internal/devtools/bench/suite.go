package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SuiteConfig configures RunSuite, the performance suite (make bench).
type SuiteConfig struct {
	Socdesk     string // the server binary
	PostgresURL string // postgres://user@host:port, without a database
	DBName      string
	Keep        bool // keep the database after the run
	RedisURL    string
	// Tickets is the full size; SmallTickets the size the list page is
	// measured at first (p99 flat from SmallTickets to Tickets). With
	// Tickets ≤ SmallTickets the suite runs once, at Tickets.
	Tickets      int
	SmallTickets int
	// Duration of each timed run, Rounds of every (scenario, variant) pair,
	// Concurrency workers per run.
	Duration    time.Duration
	Rounds      int
	Concurrency int
	// Site is the name of the filtered list's site; empty: the site with the
	// most tickets at the first size (then kept for the full size).
	Site string
	// Keyword of the search scenario; DeepOffset the rows before the deep page.
	Keyword    string
	DeepOffset int
	// Subscribers and Mutations of the fan-out scenario (0 subscribers: skipped).
	Subscribers int
	Mutations   int
	ServerLog   string
	Log         io.Writer
}

// Suite is the raw material of a run: every timed run, the statement
// counts, the fan-out, and the machine.
type Suite struct {
	Config   SuiteConfig `json:"config"`
	Machine  Machine     `json:"machine"`
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	// Sizes are the data set sizes measured, in order.
	Sizes []*SizeRuns `json:"sizes"`
	// Subs is the fan-out scenario at full size (once, not in rounds).
	Subs     *SubsResult `json:"subscriptions,omitempty"`
	SubsErr  string      `json:"subscriptions_error,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
}

// SizeRuns are the runs at one data set size.
type SizeRuns struct {
	Tickets   int                  `json:"tickets"`
	Fixture   *Fixture             `json:"fixture"`
	Scenarios []ScenarioInfo       `json:"scenarios"`
	Runs      []Run                `json:"runs"`
	Probes    map[string]ProbeInfo `json:"probes"`
	// Statements are SQL statements per GraphQL request, by scenario.
	Statements map[string]StatementInfo `json:"statements"`
	SeedSecs   float64                  `json:"seed_seconds"`

	subs    *SubsResult
	subsErr error
}

// ScenarioInfo names a scenario and says what it runs.
type ScenarioInfo struct {
	Name string `json:"name"`
	What string `json:"what"`
}

// Run is one timed run of a variant.
type Run struct {
	Scenario string   `json:"scenario"`
	Variant  string   `json:"variant"`
	Round    int      `json:"round"`
	Order    int      `json:"order"` // its position in the round
	Stats    RunStats `json:"stats"`
}

// ProbeInfo compares the results of the two variants of a scenario.
type ProbeInfo struct {
	Same    bool   `json:"same"`
	GraphQL string `json:"graphql,omitempty"`
	SQL     string `json:"sql,omitempty"`
	Err     string `json:"error,omitempty"`
}

// StatementInfo is what the statement counter saw for one GraphQL request,
// repeated: the fewest and most statements a request ran, and whether any
// of them counted rows (COUNT).
type StatementInfo struct {
	Min      int64 `json:"min"`
	Max      int64 `json:"max"`
	Requests int   `json:"requests"`
	Counts   bool  `json:"counts"`
}

func (c *SuiteConfig) defaults() error {
	if c.Tickets <= 0 {
		return errors.New("tickets must be positive")
	}
	if c.SmallTickets <= 0 {
		c.SmallTickets = 10_000
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Keyword == "" {
		c.Keyword = "mimikatz"
	}
	if c.DeepOffset <= 0 {
		c.DeepOffset = 400_000
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(c.DBName) {
		return fmt.Errorf("database name %q: use lower-case letters, digits and _", c.DBName)
	}
	if _, err := os.Stat(c.Socdesk); err != nil {
		return fmt.Errorf("the socdesk binary: %w (the Makefile builds it to bin/socdesk)", err)
	}
	return nil
}

// RunSuite runs the performance suite: a fresh database, the list page at
// SmallTickets, then every scenario at Tickets, each in both variants,
// interleaved, Rounds times; then the fan-out once.
func RunSuite(ctx context.Context, c SuiteConfig) (*Suite, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(c.Log, format+"\n", a...) }
	s := &Suite{Config: c, Started: time.Now().UTC()}
	s.Machine = DescribeMachine(ctx, c.PostgresURL, c.RedisURL)
	if c.Subscribers > 0 {
		if soft, hard, err := RaiseFileLimit(); err != nil || soft < uint64(c.Subscribers+200) {
			return nil, fmt.Errorf("the open-file limit is %d (hard %d, %v), too low for %d subscribers", soft, hard, err, c.Subscribers)
		}
	}
	dbURL, err := databaseURL(c.PostgresURL, c.DBName)
	if err != nil {
		return nil, err
	}
	if err := recreateDatabase(ctx, c.PostgresURL, c.DBName); err != nil {
		return nil, err
	}
	if !c.Keep {
		defer func() {
			if err := dropDatabase(context.Background(), c.PostgresURL, c.DBName); err != nil {
				logf("dropping database %s: %v", c.DBName, err)
			}
		}()
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+c.RedisURL, "SOCDESK_LOG_LEVEL=warn",
		"SOCDESK_DB_MAX_CONNS="+strconv.Itoa(c.Concurrency))
	if _, err := runCmd(ctx, env, c.Socdesk, "migrate"); err != nil {
		return nil, err
	}
	_ = os.Remove(c.ServerLog)

	seeded := 0
	seed := func(n int) (float64, error) {
		t := time.Now()
		if _, err := runCmd(ctx, env, c.Socdesk, "seed", "--tickets", strconv.Itoa(n-seeded)); err != nil {
			return 0, err
		}
		secs := round3(time.Since(t).Seconds())
		logf("seeded %d tickets (%d in all) in %.1fs", n-seeded, n, secs)
		seeded = n
		return secs, nil
	}
	if c.Tickets > c.SmallTickets {
		secs, err := seed(c.SmallTickets)
		if err != nil {
			return s, err
		}
		sr, err := runSize(ctx, c, env, dbURL, c.SmallTickets, true, logf)
		if sr != nil {
			sr.SeedSecs = secs
			s.Sizes = append(s.Sizes, sr)
			if c.Site == "" {
				c.Site = sr.Fixture.SiteName // the same site at both sizes
			}
		}
		if err != nil {
			return s, err
		}
	}
	secs, err := seed(c.Tickets)
	if err != nil {
		return s, err
	}
	sr, err := runSize(ctx, c, env, dbURL, c.Tickets, false, logf)
	if sr != nil {
		sr.SeedSecs = secs
		s.Sizes = append(s.Sizes, sr)
		if sr.subs != nil || sr.subsErr != nil {
			s.Subs = sr.subs
			if sr.subsErr != nil {
				s.SubsErr = sr.subsErr.Error()
			}
		}
		for name, p := range sr.Probes {
			if !p.Same {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s at %d tickets: the GraphQL and SQL results differ (%s)", name, sr.Tickets, p.Err))
			}
		}
	}
	s.Finished = time.Now().UTC()
	return s, err
}

// runSize measures one data set size: the list page only (listOnly), or
// every scenario and the fan-out.
func runSize(ctx context.Context, c SuiteConfig, env []string, dbURL string, tickets int, listOnly bool, logf func(string, ...any)) (sr *SizeRuns, err error) {
	srv, err := startServer(ctx, c.Socdesk, env, c.ServerLog, logf)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	token, err := adminToken(ctx, env, c.Socdesk)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(c.Concurrency)
	db.SetMaxIdleConns(c.Concurrency)
	ropt, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, err
	}
	ropt.PoolSize = c.Concurrency
	rdb := redis.NewClient(ropt)
	defer rdb.Close()

	gql := newGQLClient(srv.Base, token)
	gql.http.Transport = &http.Transport{MaxIdleConnsPerHost: 2 * c.Concurrency, IdleConnTimeout: 90 * time.Second}
	f := &Fixture{GQL: gql, DB: db, Redis: rdb}
	if err := f.load(ctx, c, tickets); err != nil {
		return nil, err
	}
	var scenarios []Scenario
	if listOnly {
		scenarios = f.ListScenarios()
	} else if scenarios, err = f.Scenarios(); err != nil {
		return nil, err
	}
	sr = &SizeRuns{Tickets: tickets, Fixture: f, Probes: map[string]ProbeInfo{}}
	for _, sc := range scenarios {
		sr.Scenarios = append(sr.Scenarios, ScenarioInfo{sc.Name, sc.What})
	}
	logf("%d tickets: server %s (pid %d); site %q, keyword %q, deep page after row %d", tickets, srv.Base, srv.PID, f.SiteName, f.Keyword, f.DeepOffset)

	for _, sc := range scenarios {
		sr.Probes[sc.Name] = probe(ctx, sc)
		if p := sr.Probes[sc.Name]; !p.Same {
			logf("  %s: the variants' results differ: %s", sc.Name, p.Err)
		}
	}
	warmUp(ctx, scenarios, c.Concurrency, min(300*time.Millisecond, c.Duration/4))
	sr.Runs = runRounds(ctx, scenarios, c, logf)
	if err := ctx.Err(); err != nil {
		return sr, err
	}
	if exited, werr := srv.Exited(); exited {
		return sr, fmt.Errorf("the server exited during the run (%v); see %s", exitStatus(werr), c.ServerLog)
	}

	// Statement counts, on a second server behind the counting proxy.
	sr.Statements, err = countStatements(ctx, c, env, dbURL, token, scenarios, logf)
	if err != nil {
		logf("counting statements: %v", err)
		err = nil
	}

	if !listOnly && c.Subscribers > 0 {
		sr.subs, sr.subsErr = runFanOut(ctx, c, env, srv, token, logf)
	}
	return sr, nil
}

// adminToken creates an API token of the admin.
func adminToken(ctx context.Context, env []string, socdesk string) (string, error) {
	out, err := runCmd(ctx, env, socdesk, "token", "create", "--user", "admin", "--name", "socdesk-bench")
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(out))
	if token == "" || strings.ContainsAny(token, " \n") {
		return "", fmt.Errorf("socdesk token create printed %q, not a token", token)
	}
	return token, nil
}

// load reads what the scenarios need from the database.
func (f *Fixture) load(ctx context.Context, c SuiteConfig, tickets int) error {
	f.Keyword = c.Keyword
	f.Today = time.Now().UTC().Truncate(24 * time.Hour)
	err := f.DB.QueryRowContext(ctx, `SELECT s.id, s.name FROM tickets t JOIN sites s ON s.id = t.site_id
		WHERE $1 = '' OR s.name = $1 GROUP BY s.id, s.name ORDER BY count(*) DESC, s.id LIMIT 1`, c.Site).Scan(&f.SiteID, &f.SiteName)
	if err != nil {
		return fmt.Errorf("finding the site %q (empty: the busiest): %w", c.Site, err)
	}
	if err := f.DB.QueryRowContext(ctx, `SELECT id FROM users WHERE login = 'admin'`).Scan(&f.AdminID); err != nil {
		return fmt.Errorf("finding the admin: %w", err)
	}
	err = f.DB.QueryRowContext(ctx, `SELECT ticket_id - ticket_number FROM ticket_events WHERE ticket_id IS NOT NULL LIMIT 1`).Scan(&f.NumberOffset)
	if err != nil {
		return fmt.Errorf("reading the ticket number offset: %w", err)
	}
	f.DeepOffset = min(c.DeepOffset, tickets*2/5)
	err = f.DB.QueryRowContext(ctx, `SELECT id, created_at FROM tickets ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
		f.DeepOffset-1).Scan(&f.DeepID, &f.DeepCreatedAt)
	if err != nil {
		return fmt.Errorf("finding row %d: %w", f.DeepOffset, err)
	}
	if err := f.loadPivot(ctx); err != nil {
		return err
	}
	return f.loadMoveTickets(ctx, c.Concurrency)
}

// loadMoveTickets shares the INCIDENT_RESPONSE tickets in ANALYSIS or
// REMEDIATION between the variants and their workers, disjointly while
// there are enough (up to 8 per worker).
func (f *Fixture) loadMoveTickets(ctx context.Context, workers int) error {
	rows, err := f.DB.QueryContext(ctx, `SELECT t.id, t.status FROM tickets t JOIN categories c ON c.id = t.category_id
		WHERE c.workflow = 'INCIDENT_RESPONSE' AND t.status IN ('ANALYSIS', 'REMEDIATION') ORDER BY t.id DESC LIMIT $1`, 2*workers*8)
	if err != nil {
		return err
	}
	defer rows.Close()
	var all []*moveTicket
	for rows.Next() {
		t := &moveTicket{}
		if err := rows.Scan(&t.id, &t.status); err != nil {
			return err
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(all) < 2 {
		return errNoTickets
	}
	half := len(all) / 2
	f.MoveTickets = map[string][][]*moveTicket{
		VariantGraphQL: spread(all[:half], workers),
		VariantSQL:     spread(all[half:], workers),
	}
	return nil
}

// spread deals ts out to n workers (sharing tickets when there are fewer
// than n; moveTicket's mutex then serializes them).
func spread(ts []*moveTicket, n int) [][]*moveTicket {
	out := make([][]*moveTicket, n)
	for i := range max(n, len(ts)) {
		out[i%n] = append(out[i%n], ts[i%len(ts)])
	}
	return out
}

// probe compares the results of a scenario's variants.
func probe(ctx context.Context, sc Scenario) ProbeInfo {
	if sc.ProbeGraphQL == nil || sc.ProbeSQL == nil {
		return ProbeInfo{Same: true}
	}
	g, gerr := sc.ProbeGraphQL(ctx)
	s, serr := sc.ProbeSQL(ctx)
	p := ProbeInfo{GraphQL: truncate(g, 200), SQL: truncate(s, 200)}
	switch {
	case gerr != nil:
		p.Err = "graphql: " + gerr.Error()
	case serr != nil:
		p.Err = "sql: " + serr.Error()
	case g != s:
		p.Err = "graphql " + truncate(g, 120) + " ≠ sql " + truncate(s, 120)
	default:
		p.Same = true
		p.GraphQL, p.SQL = truncate(g, 80), ""
	}
	return p
}

// warmUp runs every variant briefly (caches, connection pools, plans).
func warmUp(ctx context.Context, scenarios []Scenario, workers int, d time.Duration) {
	for _, sc := range scenarios {
		Drive(ctx, workers, d, sc.GraphQL)
		Drive(ctx, workers, d, sc.SQL)
	}
}

// pair is a (scenario, variant) of a round.
type pair struct {
	sc      int
	variant string
}

// roundOrder is the order of the pairs in round r: shuffled with a seed of
// r, so that runs interleave and drift in the machine does not favour one
// variant.
func roundOrder(n, r int) []pair {
	ps := make([]pair, 0, 2*n)
	for i := range n {
		ps = append(ps, pair{i, VariantGraphQL}, pair{i, VariantSQL})
	}
	rng := rand.New(rand.NewPCG(uint64(r)+1, 0x50cde5c))
	rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps
}

// runRounds runs every pair once per round, in each round's order.
func runRounds(ctx context.Context, scenarios []Scenario, c SuiteConfig, logf func(string, ...any)) []Run {
	var runs []Run
	for r := range c.Rounds {
		for k, p := range roundOrder(len(scenarios), r) {
			if ctx.Err() != nil {
				return runs
			}
			sc := scenarios[p.sc]
			op := sc.GraphQL
			if p.variant == VariantSQL {
				op = sc.SQL
			}
			st := Drive(ctx, c.Concurrency, c.Duration, op)
			runs = append(runs, Run{Scenario: sc.Name, Variant: p.variant, Round: r + 1, Order: k + 1, Stats: st})
			logf("  round %d %-15s %-7s %8.1f req/s  p50 %7.1f ms  p99 %7.1f ms%s", r+1, sc.Name, p.variant,
				st.Throughput, st.Latency.P50MS, st.Latency.P99MS, errNote(st))
		}
	}
	return runs
}

func errNote(st RunStats) string {
	if st.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("  %d errors: %s", st.Errors, st.FirstError)
}

// statementRepeats is how often each request is repeated while counting.
const statementRepeats = 3

// countStatements starts a second server whose database connections go
// through a StatementCounter and runs each scenario's GraphQL request
// alone, statementRepeats times, counting its statements. (Transitions
// are left out: they would change the data.)
func countStatements(ctx context.Context, c SuiteConfig, env []string, dbURL, token string, scenarios []Scenario, logf func(string, ...any)) (map[string]StatementInfo, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	pc, err := NewStatementCounter(u.Host)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	u.Host = pc.Addr()
	// The relay's timer would add its own statements: make it rare.
	cenv := append(append([]string(nil), env...), "DATABASE_URL="+u.String(), "SOCDESK_LIVE_POLL=1h")
	srv, err := startServer(ctx, c.Socdesk, cenv, c.ServerLog, logf)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	gql := newGQLClient(srv.Base, token)
	ctx = withGQL(ctx, gql)
	out := map[string]StatementInfo{}
	for _, sc := range scenarios {
		if sc.Name == "transition" {
			continue
		}
		if err := sc.GraphQL(ctx, 0, 0); err != nil { // warm: token last use, caches
			return out, fmt.Errorf("%s: %w", sc.Name, err)
		}
		si := StatementInfo{Min: -1}
		for i := range statementRepeats {
			n0, t0 := pc.Mark()
			if err := sc.GraphQL(ctx, 0, i+1); err != nil {
				return out, fmt.Errorf("%s: %w", sc.Name, err)
			}
			n, texts := pc.Since(n0, t0)
			if si.Min < 0 || n < si.Min {
				si.Min = n
			}
			si.Max = max(si.Max, n)
			si.Requests++
			for _, t := range texts {
				if strings.Contains(strings.ToUpper(t), "COUNT(") {
					si.Counts = true
				}
			}
		}
		out[sc.Name] = si
		logf("  %s: %d–%d SQL statements per request%s", sc.Name, si.Min, si.Max, map[bool]string{true: " (one counts rows)"}[si.Counts])
	}
	return out, nil
}

type gqlKey struct{}

// withGQL makes the scenarios' GraphQL requests in ctx go to c.
func withGQL(ctx context.Context, c *gqlClient) context.Context {
	return context.WithValue(ctx, gqlKey{}, c)
}

// gql is the client of ctx (withGQL), else the fixture's.
func (f *Fixture) gql(ctx context.Context) *gqlClient {
	if c, ok := ctx.Value(gqlKey{}).(*gqlClient); ok {
		return c
	}
	return f.GQL
}

// fanOutUsersPerToken is how many subscriptions share a user (the server's
// per-user cap is 50).
const fanOutUsersPerToken = 50

// runFanOut runs the subscriptions scenario against srv.
func runFanOut(ctx context.Context, c SuiteConfig, env []string, srv *serverProc, token string, logf func(string, ...any)) (*SubsResult, error) {
	n := (c.Subscribers + fanOutUsersPerToken - 1) / fanOutUsersPerToken
	tokens, err := benchUsers(ctx, srv.Base, token, env, c.Socdesk, n)
	if err != nil {
		return nil, err
	}
	logf("fan-out: %d subscribers on %d users, %d mutations at 1/s", c.Subscribers, n, c.Mutations)
	sc := SubsConfig{
		URL: srv.Base, Token: token, SubscriberTokens: tokens, ServerPID: srv.PID,
		Subscribers: c.Subscribers, Mutations: c.Mutations, Rate: 1, Protocol: "graphql-transport-ws",
		MaxP99: 250 * time.Millisecond, MaxKiBPerConn: 20, Log: c.Log,
	}
	return RunSubscriptions(ctx, sc)
}
