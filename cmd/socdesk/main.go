// Command socdesk is the socdesk server and its administration tool:
//
//	socdesk serve                       run the GraphQL API
//	socdesk migrate                     bring the database schema up to date
//	socdesk seed [--tickets N]          load demo data, or N synthetic tickets
//	socdesk token create --user LOGIN   print a new API token for a user
//	socdesk user grant-admin --user LOGIN  make a user an administrator
//	socdesk version                     print the version, commit, build date and Go version
//
// It wires dependencies only; what they do lives in internal/ and graph/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"socdesk/ent"
	"socdesk/graph/generated"
	"socdesk/internal/admin"
	"socdesk/internal/app"
	"socdesk/internal/attachments"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/config"
	"socdesk/internal/devtools/seed"
	"socdesk/internal/events"
	"socdesk/internal/persisted"
	"socdesk/internal/server"
	"socdesk/internal/store"
	"socdesk/internal/tracing"
	"socdesk/internal/version"
)

const usage = `socdesk: security-operations ticket and incident management (GraphQL API)

Usage:
  socdesk serve   [flags]                 run the server (see socdesk serve --help)
  socdesk migrate [flags]                 bring the database schema up to date
  socdesk seed    [flags] [--tickets N]   load the demo data set, or N synthetic tickets
  socdesk token create --user LOGIN       print a new API token for a user
  socdesk user grant-admin --user LOGIN   make a user an administrator (recovery)
  socdesk version                         print the version, commit, build date and Go version (also --version)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return // help was asked for and printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "socdesk:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "seed":
		return seedCmd(ctx, args, getenv, stdout, stderr)
	case "token":
		return tokenCmd(ctx, args, getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-version":
		return versionCmd(args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// versionCmd prints the build; it takes no flags nor arguments.
func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("socdesk version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Usage: socdesk version (no flags nor arguments)") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version takes no arguments, not %q", fs.Args())
	}
	fmt.Fprintln(stdout, version.Get())
	return nil
}

// parse reads the settings of a subcommand from the environment and args.
func parse(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("socdesk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := cfg.Load(fs, args, getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, nil
}

func open(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(),
		MaxOpenConns: cfg.DBMaxConns, StatementTimeout: cfg.StatementTimeout, Tracer: tracing.Provider()})
	if err != nil {
		return nil, err
	}
	v, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if st.Dialect == "postgres" {
		log.Info("database ready", "dialect", st.Dialect, "schema_version", v)
	} else {
		log.Info("database ready", "dialect", "sqlite", "file", cfg.SQLitePath())
	}
	return st, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parse("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	pqOpts, err := persistedOptions(cfg, log)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		// The live heap of a request-serving replica is small and its garbage
		// plenty: collecting at 5× instead of 2× the live heap gave the ticket
		// list 25% more throughput (see the performance note). GOGC overrides.
		debug.SetGCPercent(400)
	}
	stopTracing, err := tracing.Setup(ctx, cfg.OTLPEndpoint, getenv, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()
	if tracing.Provider() != nil {
		log.Info("exporting traces over OTLP/HTTP")
	}
	st, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	tok, err := auth.Bootstrap(ctx, st.Client, cfg.AdminToken)
	if err != nil {
		return fmt.Errorf("creating the admin user: %w", err)
	}
	if tok != "" {
		log.Warn("first start: created user admin; this API token is shown only once", "token", tok)
	}
	if cfg.Demo {
		if err := loadDemo(ctx, st.Client, log); err != nil {
			return err
		}
	}

	// Readiness is the database's: without Redis a replica still serves
	// everything, live updates included (the hub's timer reads the history),
	// so a Redis outage must not take every replica out of the balancer.
	var broker events.Broker = events.NewLocal()
	ready := st.Ping
	if cfg.RedisURL != "" {
		rb, err := events.NewRedisChannel(ctx, cfg.RedisURL, cfg.RedisChannel, log)
		if err != nil {
			return err
		}
		broker = events.NewBackground(rb, 1024, log)
	}
	defer broker.Close()
	pq, err := persisted.New(pqOpts, events.RedisClient(broker), log)
	if err != nil {
		return err
	}

	bucket, err := attachments.OpenBucket(ctx, cfg.Blobs())
	if err != nil {
		return err
	}
	defer bucket.Close()
	if cfg.URLSigningKey == "" {
		log.Warn("SOCDESK_URL_SIGNING_KEY is not set: signed download URLs work only on the replica that signed them, until it restarts")
	}
	a := app.New(st, broker, cfg, log, ready, app.WithPersisted(pq), app.WithBucket(bucket))
	hubCtx, stopHub := context.WithCancel(ctx)
	defer stopHub()
	hubDone := make(chan error, 1)
	go func() { hubDone <- a.Run(hubCtx) }()
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("the metrics listener: %w", err)
		}
		go serveMetrics(hubCtx, mln, a.Metrics.Handler(cfg.MetricsToken), log)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	v := version.Get()
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "graphql", "http://"+ln.Addr().String()+"/graphql",
		"version", v.Version, "commit", v.Commit, "built", v.BuildDate, "go", v.GoVersion)
	logReputation(log, cfg)
	err = server.Serve(ctx, ln, a.Handler, cfg.ShutdownTimeout, log, a.Websockets.GoAway)
	stopHub()
	return errors.Join(err, <-hubDone)
}

// persistedOptions are the persisted-query settings with the manifest, when
// one is given, read and every document checked against the schema, before
// anything starts.
func persistedOptions(cfg config.Config, log *slog.Logger) (persisted.Options, error) {
	o := cfg.Persisted()
	if o.ManifestPath == "" {
		return o, nil
	}
	m, err := persisted.LoadManifest(o.ManifestPath, generated.NewExecutableSchema(generated.Config{}).Schema())
	if err != nil {
		return o, err
	}
	o.Manifest = m
	log.Info("persisted-query manifest loaded", "file", o.ManifestPath, "operations", m.Len(), "only", o.Only)
	return o, nil
}

func loadDemo(ctx context.Context, client *ent.Client, log *slog.Logger) error {
	n, err := client.Ticket.Query().Count(authz.System(ctx))
	if err != nil || n > 0 {
		return err
	}
	log.Info("empty database: loading the demo data set")
	return seed.Demo(ctx, client)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	st, err := open(ctx, cfg, cfg.Logger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(stdout, "schema is up to date")
	return nil
}

func seedCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var n int
	cfg, err := parse("seed", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "tickets", 0, "generate this many synthetic tickets of realistic shape (for benchmarks) instead of the demo data set")
	})
	if err != nil {
		return err
	}
	if n < 0 {
		return errors.New("--tickets must not be negative")
	}
	st, err := open(ctx, cfg, cfg.Logger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	if n > 0 {
		return seed.Synthetic(ctx, st.Client, st.DB, st.Dialect, n, stdout)
	}
	n, err = st.Client.Ticket.Query().Count(authz.System(ctx))
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "the database has %d tickets already: the demo data set is loaded only into an empty one\n", n)
		return nil
	}
	if err := seed.Demo(ctx, st.Client); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "demo data loaded")
	return nil
}

func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: socdesk token create --user LOGIN [--name NAME]")
	}
	var name string
	st, login, err := openForUser(ctx, "token create", args[1:], getenv, stderr, "login of the user the token is for (required)", func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "cli", "a name to recognise the token by")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := auth.Issue(ctx, st.Client, login, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "grant-admin" {
		return errors.New("usage: socdesk user grant-admin --user LOGIN")
	}
	st, login, err := openForUser(ctx, "user grant-admin", args[1:], getenv, stderr, "login of the user to make an administrator (required)", nil)
	if err != nil {
		return err
	}
	defer st.Close()
	login, already, err := admin.GrantAdmin(ctx, st.Client, login)
	if err != nil {
		return err
	}
	if already {
		fmt.Fprintf(stdout, "%s is an administrator already\n", login)
	} else {
		fmt.Fprintf(stdout, "%s is now an administrator\n", login)
	}
	return nil
}

// openForUser parses the flags of a command about one user (--user LOGIN,
// required, and extra's) and opens the database quietly for it.
func openForUser(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, userHelp string, extra func(*flag.FlagSet)) (*store.Store, string, error) {
	var login string
	cfg, err := parse(name, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&login, "user", "", userHelp)
		if extra != nil {
			extra(fs)
		}
	})
	if err != nil {
		return nil, "", err
	}
	if login == "" {
		return nil, "", errors.New("--user is required")
	}
	st, err := open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return st, login, err
}

// serveMetrics serves /metrics on its own listener until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener", "err", err)
	}
}

// servePprof serves Go's profiles on their own listener, apart from the API.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("serving pprof profiles", "addr", "http://"+addr+"/debug/pprof/")
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof listener", "err", err)
	}
}

// logReputation says whether reputation lookups are on: the provider's host
// and the key as set or not, never the key (nor the URL's path and query).
func logReputation(log *slog.Logger, cfg config.Config) {
	if cfg.ReputationKey == "" {
		log.Info("reputation lookups off: no SOCDESK_REPUTATION_KEY")
		return
	}
	host := ""
	if u, err := url.Parse(cfg.ReputationURL); err == nil {
		host = u.Scheme + "://" + u.Host
	}
	log.Info("reputation lookups", "provider", host, "key", "set", "rate", cfg.ReputationRate, "window", cfg.ReputationWindow,
		"ttl", cfg.ReputationTTL, "on_ingest", cfg.ReputationOnIngest)
}
