// Command socdesk-bench generates load against a socdesk server and reports
// what it measured.
//
//	socdesk-bench run [flags]                 the performance suite (make bench)
//	socdesk-bench subscriptions [flags]       N websocket subscribers of ticketEvents, M mutations
//	socdesk-bench run-subscriptions [flags]   the same end to end: fresh database, seed, server, scenario
//
// Settings come from flags, else from the environment variables named in
// each flag's help.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"socdesk/internal/devtools/bench"
)

const usage = `socdesk-bench: load generators for socdesk

Usage:
  socdesk-bench run [flags]                 the performance suite (make bench): fresh PostgreSQL
                                            database, seed, server; every scenario through GraphQL
                                            and as its SQL floor, interleaved, 3 rounds; results
                                            table under bench/results/
  socdesk-bench subscriptions [flags]       N websocket subscribers of ticketEvents and M mutations
                                            against a running server (-url, -token)
  socdesk-bench run-subscriptions [flags]   end to end (make bench-subscriptions): fresh PostgreSQL
                                            database, migrate, seed, start the server, run the
                                            subscriptions scenario, stop the server

socdesk-bench COMMAND -h lists a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "socdesk-bench:", err)
		os.Exit(2)
	}
}

// errFailed: the run completed, but did not meet its conditions (missed
// deliveries, connection failures…); the report says which.
var errFailed = errors.New("benchmark failed")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "run":
		return runSuite(ctx, args[1:], getenv, stdout, stderr)
	case "subscriptions":
		return subscriptions(ctx, args[1:], getenv, stdout, stderr)
	case "run-subscriptions":
		return runSubscriptions(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// flags binds flags to environment variables: a flag not given takes its
// variable's value.
type flags struct {
	*flag.FlagSet
	env map[string]string
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("socdesk-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs, env: map[string]string{}}
}

func (f *flags) bind(name, env string) string {
	f.env[name] = env
	return " (" + env + ")"
}

func (f *flags) parse(args []string, getenv func(string) string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", f.Args())
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, env := range f.env {
		if v := getenv(env); v != "" && !given[name] {
			if err := f.Set(name, v); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return nil
}

// scenarioFlags declares the flags of the subscriptions scenario.
func scenarioFlags(f *flags, c *bench.SubsConfig, jsonOut *string) {
	c.Subscribers, c.Mutations, c.Rate, c.Protocol = 10000, 60, 1, "graphql-transport-ws"
	f.IntVar(&c.Subscribers, "subscribers", c.Subscribers, "websocket connections, one subscription each"+f.bind("subscribers", "SUBSCRIBERS"))
	f.IntVar(&c.Mutations, "mutations", c.Mutations, "measured mutations"+f.bind("mutations", "MUTATIONS"))
	f.Float64Var(&c.Rate, "rate", c.Rate, "measured mutations per second"+f.bind("rate", "RATE"))
	f.StringVar(&c.Protocol, "protocol", c.Protocol, "websocket subprotocol: graphql-transport-ws or graphql-ws (subscriptions-transport-ws)"+f.bind("protocol", "SOCDESK_BENCH_PROTOCOL"))
	f.StringVar(&c.Filter, "filter", "", `TicketFilter of the subscriptions as JSON, e.g. {"priorities":["LOW"]}; empty: none`+f.bind("filter", "SOCDESK_BENCH_FILTER"))
	f.IntVar(&c.Concurrency, "concurrency", 200, "connections opened at once"+f.bind("concurrency", "SOCDESK_BENCH_CONCURRENCY"))
	f.DurationVar(&c.LiveTimeout, "live-timeout", 2*time.Minute, "longest wait until every subscriber has received a warm-up event")
	f.DurationVar(&c.DrainTimeout, "drain-timeout", 15*time.Second, "longest wait for deliveries after the last mutation")
	f.DurationVar(&c.Settle, "settle", 3*time.Second, "idle pause before memory is read")
	f.BoolVar(&c.UpgradeAuth, "upgrade-auth", false, "also send the token as an Authorization header of the websocket upgrade (browsers cannot)")
	f.DurationVar(&c.MaxP99, "max-p99", 0, "fail when the p99 of commit → received by all exceeds this (e.g. 250ms); 0: not checked"+f.bind("max-p99", "SOCDESK_BENCH_MAX_P99"))
	f.Float64Var(&c.MaxKiBPerConn, "max-kib-per-conn", 0, "fail when the server's memory per live idle subscriber exceeds this many KiB (e.g. 20); 0: not checked"+f.bind("max-kib-per-conn", "SOCDESK_BENCH_MAX_KIB_PER_CONN"))
	f.StringVar(jsonOut, "json", "", "also write the results to this JSON file"+f.bind("json", "SOCDESK_BENCH_JSON"))
}

func subscriptions(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("subscriptions", stderr)
	var c bench.SubsConfig
	var jsonOut string
	f.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "the server, http://host:port"+f.bind("url", "SOCDESK_BENCH_URL"))
	f.StringVar(&c.Token, "token", "", "API token of an admin, for the mutations (and the subscriptions without -subscriber-tokens)"+f.bind("token", "SOCDESK_BENCH_TOKEN"))
	var tokFile string
	f.StringVar(&tokFile, "subscriber-tokens", "", "file of API tokens, one a line, handed to the subscriptions in turn (the server caps live subscriptions per user; the users must see the first site)"+f.bind("subscriber-tokens", "SOCDESK_BENCH_SUBSCRIBER_TOKENS"))
	f.IntVar(&c.ServerPID, "server-pid", 0, "the server's process id, to read its memory and CPU from /proc (same machine); 0: not measured"+f.bind("server-pid", "SOCDESK_BENCH_SERVER_PID"))
	scenarioFlags(f, &c, &jsonOut)
	if err := f.parse(args, getenv); err != nil {
		return err
	}
	if c.Token == "" {
		return errors.New("-token (or SOCDESK_BENCH_TOKEN) is required: socdesk token create --user admin")
	}
	if tokFile != "" {
		b, err := os.ReadFile(tokFile)
		if err != nil {
			return err
		}
		c.SubscriberTokens = strings.Fields(string(b))
		if len(c.SubscriberTokens) == 0 {
			return fmt.Errorf("%s holds no token", tokFile)
		}
	}
	if soft, hard, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "raising the open-file limit:", err)
	} else if soft < uint64(c.Subscribers+100) {
		return fmt.Errorf("the open-file limit is %d (hard %d), too low for %d subscribers", soft, hard, c.Subscribers)
	}
	c.Log = stderr
	res, err := bench.RunSubscriptions(ctx, c)
	return report(res, err, jsonOut, "", stdout, stderr)
}

func runSubscriptions(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("run-subscriptions", stderr)
	var rc bench.RunnerConfig
	var jsonOut string
	f.StringVar(&rc.Socdesk, "socdesk", "bin/socdesk", "the socdesk binary"+f.bind("socdesk", "SOCDESK_BIN"))
	f.StringVar(&rc.PostgresURL, "postgres", "postgres://postgres@127.0.0.1:5432", "PostgreSQL server (its database is replaced by -db)"+f.bind("postgres", "SOCDESK_BENCH_POSTGRES"))
	f.StringVar(&rc.DBName, "db", "socdesk_bench_subs", "database to drop, create and seed"+f.bind("db", "SOCDESK_BENCH_DB"))
	f.BoolVar(&rc.Keep, "keep", false, "keep the database after the run")
	f.StringVar(&rc.RedisURL, "redis", "redis://127.0.0.1:6379", "Redis the server uses"+f.bind("redis", "SOCDESK_BENCH_REDIS"))
	f.IntVar(&rc.Tickets, "tickets", 1000, "tickets to seed"+f.bind("tickets", "SOCDESK_BENCH_TICKETS"))
	f.StringVar(&rc.ServerLog, "server-log", "bin/bench-subscriptions-server.log", "file the server's log goes to"+f.bind("server-log", "SOCDESK_BENCH_SERVER_LOG"))
	f.IntVar(&rc.PerUser, "per-user", 50, "subscriptions per user: ceil(subscribers/per-user) users get a token each; 0: all on the admin's token, with the server's per-user cap raised"+f.bind("per-user", "SOCDESK_BENCH_PER_USER"))
	f.Func("server-env", "K=V: an extra environment variable of the server, e.g. GOGC=50 (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return errors.New("want K=V")
		}
		rc.ServerEnv = append(rc.ServerEnv, s)
		return nil
	})
	scenarioFlags(f, &rc.Subs, &jsonOut)
	if err := f.parse(args, getenv); err != nil {
		return err
	}
	rc.Subs.Log = stderr
	res, err := bench.RunSubscriptionsEndToEnd(ctx, rc)
	return report(res, err, jsonOut, rc.ServerLog, stdout, stderr)
}

func report(res *bench.SubsResult, err error, jsonOut, serverLog string, stdout, stderr io.Writer) error {
	if res != nil && res.Connected > 0 {
		res.Print(stdout)
	}
	if serverLog != "" {
		if lines, n := bench.ServerLogProblems(serverLog, 10); n > 0 {
			fmt.Fprintf(stdout, "\nserver log (%s): %d warning/error lines, the first:\n", serverLog, n)
			for _, l := range lines {
				fmt.Fprintln(stdout, "  "+l)
			}
		}
	}
	if res != nil && jsonOut != "" {
		b, jerr := json.MarshalIndent(res, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(jsonOut, append(b, '\n'), 0o644)
		}
		if jerr != nil {
			fmt.Fprintln(stderr, "writing", jsonOut+":", jerr)
		} else {
			fmt.Fprintln(stdout, "results written to", jsonOut)
		}
	}
	if err != nil {
		return err
	}
	if !res.OK() {
		return errFailed
	}
	return nil
}

func runSuite(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("run", stderr)
	var c bench.SuiteConfig
	var outDir string
	var strict bool
	notes := map[string]string{}
	f.StringVar(&c.Socdesk, "socdesk", "bin/socdesk", "the socdesk binary"+f.bind("socdesk", "SOCDESK_BIN"))
	f.StringVar(&c.PostgresURL, "postgres", "postgres://postgres@127.0.0.1:5432", "PostgreSQL server (its database is replaced by -db)"+f.bind("postgres", "SOCDESK_BENCH_POSTGRES"))
	f.StringVar(&c.DBName, "db", "socdesk_bench", "database to drop, create and seed"+f.bind("db", "SOCDESK_BENCH_DB"))
	f.BoolVar(&c.Keep, "keep", false, "keep the database after the run")
	f.StringVar(&c.RedisURL, "redis", "redis://127.0.0.1:6379", "Redis the server uses"+f.bind("redis", "SOCDESK_BENCH_REDIS"))
	f.IntVar(&c.Tickets, "tickets", 1_000_000, "tickets of the full data set"+f.bind("tickets", "BENCH_TICKETS"))
	f.IntVar(&c.SmallTickets, "small-tickets", 10_000, "size the list page is measured at first (p99 flat from it to -tickets); not when -tickets is not larger")
	f.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each timed run"+f.bind("duration", "BENCH_DURATION"))
	f.IntVar(&c.Rounds, "rounds", 3, "rounds (each runs every scenario and variant once; medians are reported)"+f.bind("rounds", "BENCH_ROUNDS"))
	f.IntVar(&c.Concurrency, "concurrency", 32, "concurrent workers per run, and the floor's and server's database pools"+f.bind("concurrency", "BENCH_CONCURRENCY"))
	f.StringVar(&c.Site, "site", "", "name of the filtered list's site; empty: the one with most tickets at the first size")
	f.StringVar(&c.Keyword, "keyword", "mimikatz", "word of the search scenario (in the seed's titles and bodies)")
	f.IntVar(&c.DeepOffset, "deep-offset", 400_000, "rows before the deep page (at most 40% of the tickets)")
	f.IntVar(&c.Subscribers, "subscribers", 10_000, "websocket subscribers of the fan-out scenario; 0: skip it"+f.bind("subscribers", "BENCH_SUBSCRIBERS"))
	f.IntVar(&c.Mutations, "mutations", 60, "measured events of the fan-out, at 1/s"+f.bind("mutations", "BENCH_MUTATIONS"))
	f.StringVar(&c.ServerLog, "server-log", "bin/bench-server.log", "file the servers' logs go to")
	f.StringVar(&outDir, "out", "bench/results", "directory of the results (<UTC date>-<tickets>.txt and .json); empty: not written"+f.bind("out", "BENCH_OUT"))
	f.BoolVar(&strict, "strict", false, "exit 1 when a goal is missed")
	f.Func("note", "SCENARIO=TEXT: the reason shown for a missed goal of SCENARIO (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return errors.New("want SCENARIO=TEXT")
		}
		notes[k] = v
		return nil
	})
	if err := f.parse(args, getenv); err != nil {
		return err
	}
	c.Log = stderr
	s, err := bench.RunSuite(ctx, c)
	if s == nil {
		return err
	}
	rep := bench.NewReport(s, notes)
	rep.WriteText(stdout)
	if outDir != "" && len(s.Sizes) > 0 {
		txt, js, werr := rep.Write(outDir)
		if werr != nil {
			fmt.Fprintln(stderr, "writing the results:", werr)
		} else {
			fmt.Fprintf(stdout, "\nresults written to %s and %s\n", txt, js)
		}
	}
	if err != nil {
		return err
	}
	if lines, n := bench.ServerLogProblems(c.ServerLog, 10); n > 0 {
		fmt.Fprintf(stdout, "\nserver log (%s): %d warning/error lines, the first:\n", c.ServerLog, n)
		for _, l := range lines {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	if fails := rep.Failures(); len(fails) > 0 {
		fmt.Fprintln(stdout, "\nthe run had failures:")
		for _, f := range fails {
			fmt.Fprintln(stdout, "  "+f)
		}
		return errFailed
	}
	if strict && rep.Missed() > 0 {
		return errFailed
	}
	return nil
}
