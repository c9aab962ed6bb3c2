// Package config holds socdesk's settings: defaults, overridden by SOCDESK_*
// environment variables (and DATABASE_URL, REDIS_URL), overridden by flags,
// and validated before anything starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"socdesk/ent/ticket"
	"socdesk/graph/limits"
	"socdesk/internal/events"
	"socdesk/internal/jobs"
	"socdesk/internal/outbound"
	"socdesk/internal/persisted"
	"socdesk/internal/ratelimit"
	"socdesk/internal/reputation"
	"socdesk/internal/schedules"
	"socdesk/internal/sla"
)

// Config is everything socdesk can be told.
type Config struct {
	Addr             string
	DataDir          string
	DatabaseURL      string
	RedisURL         string
	RedisChannel     string
	AdminToken       string
	Demo             bool
	LogFormat        string
	LogLevel         string
	DBMaxConns       int
	StatementTimeout time.Duration
	MaxBodyBytes     int64
	MaxDepth         int
	MaxCost          int
	CountCost        int
	MaxRootFields    int
	MaxTokens        int
	ShutdownTimeout  time.Duration
	// Live updates (subscriptions over WebSocket).
	WSOrigins       string
	WSInitTimeout   time.Duration
	WSKeepAlive     time.Duration
	WSWriteTimeout  time.Duration
	WSMaxOperations int
	WSRecheck       time.Duration
	LiveMaxPerUser  int
	LiveQueue       int
	LivePoll        time.Duration
	PprofAddr       string
	AuthCache       time.Duration
	// Rate budgets (see package ratelimit); RatePoints 0 disables them.
	RatePoints       int
	RateWindow       time.Duration
	RateMutationCost int
	RateLocalUsers   int
	// Persisted queries (see package persisted).
	APQTTL           time.Duration
	APQMaxBytes      int
	APQEntries       int
	PersistedOnly    bool
	PersistedQueries string
	// Browsers and operators.
	CORSOrigins   string
	Introspection bool
	// Operations: /metrics on its own listener, or on the main one behind
	// a token; OTLP traces.
	MetricsAddr  string
	MetricsToken string
	OTLPEndpoint string
	// Deliveries: the public URL messages link to, the outbound requests'
	// bounds and allow-list, the job engine.
	PublicURL        string
	OutboundAllow    string
	OutboundTimeout  time.Duration
	OutboundMaxBytes int64
	JobWorkers       int
	JobPoll          time.Duration
	JobMaxAttempts   int
	JobTimeout       time.Duration
	JobRescueAfter   time.Duration
	JobRetryBase     time.Duration
	// Attachments: where their contents are stored, the largest upload,
	// the key and lifetime of signed download URLs.
	BlobURL        string
	MaxUploadBytes int64
	URLSigningKey  string
	SignedURLTTL   time.Duration
	// Explanation requests: how long before the deadline the violator is
	// reminded (see package explanations).
	ExplanationRemindBefore time.Duration
	// Task schedules: how many missed occurrences of a schedule are
	// generated after a stop, the latest ones (see package schedules).
	ScheduleMaxMissed int
	// Reputation lookups (see package reputation): the provider's base
	// URL and key (write-only), its rate limit, the timeout of one request,
	// how long answers stay fresh, and whether new detections are looked up.
	ReputationURL      string
	ReputationKey      string
	ReputationRate     int
	ReputationWindow   time.Duration
	ReputationTimeout  time.Duration
	ReputationTTL      time.Duration
	ReputationOnIngest bool
	// Service levels (package sla): the share of a clock's time after
	// which it is AT_RISK, the statuses that pause the clocks
	// (comma-separated; "none" for none), and whether an open explanation
	// request pauses them.
	SLAAtRisk            float64
	SLAPauseStatuses     string
	SLAPauseExplanations bool

	env map[string]string // flag name → environment variable
}

// MaxPageSize is the largest `first`/`last` of a connection (GitHub's rule).
const MaxPageSize = 100

// ListSize is what the cost of a plain list of objects is multiplied by.
const ListSize = 10

// Default returns the defaults.
func Default() Config {
	return Config{
		Addr:             "127.0.0.1:8080",
		DataDir:          "./data",
		RedisChannel:     events.DefaultChannel,
		LogFormat:        "text",
		LogLevel:         "info",
		DBMaxConns:       20,
		StatementTimeout: 30 * time.Second,
		MaxBodyBytes:     1 << 20,
		MaxDepth:         12,
		MaxCost:          20000,
		CountCost:        1000,
		MaxRootFields:    20,
		MaxTokens:        10000,
		ShutdownTimeout:  30 * time.Second,
		WSInitTimeout:    10 * time.Second,
		WSKeepAlive:      25 * time.Second,
		WSWriteTimeout:   10 * time.Second,
		WSMaxOperations:  20,
		WSRecheck:        5 * time.Second, // half of AuthCache: a check (one tick, then the reads) ends before HTTP would notice
		LiveMaxPerUser:   50,
		LiveQueue:        256,
		LivePoll:         time.Second,
		AuthCache:        10 * time.Second,
		RateWindow:       time.Minute,
		RateMutationCost: 10,
		RateLocalUsers:   10000,
		APQTTL:           7 * 24 * time.Hour,
		APQMaxBytes:      32 << 10,
		APQEntries:       1000,
		Introspection:    true,
		OutboundTimeout:  10 * time.Second,
		OutboundMaxBytes: 64 << 10,
		JobWorkers:       25, // deliveries wait on SMTP and HTTP, not on the CPU
		JobPoll:          time.Second,
		JobMaxAttempts:   8,
		JobTimeout:       2 * time.Minute, // above a playbook's longest timeout (60s), with room to record the outcome
		JobRescueAfter:   5 * time.Minute,
		MaxUploadBytes:   100 << 20,
		SignedURLTTL:     5 * time.Minute,

		ExplanationRemindBefore: 24 * time.Hour,
		ScheduleMaxMissed:       schedules.DefaultMaxMissed,

		ReputationURL:        reputation.DefaultProviderURL,
		ReputationRate:       reputation.DefaultRate,
		ReputationWindow:     reputation.DefaultWindow,
		ReputationTimeout:    reputation.DefaultTimeout,
		ReputationTTL:        reputation.DefaultTTL,
		SLAAtRisk:            sla.DefaultAtRisk,
		SLAPauseStatuses:     "SUBMITTED",
		SLAPauseExplanations: true,
	}
}

// SLAPauses are the statuses SLAPauseStatuses names.
func (c Config) SLAPauses() ([]ticket.Status, error) {
	out := []ticket.Status{}
	v := strings.TrimSpace(c.SLAPauseStatuses)
	if strings.EqualFold(v, "none") || v == "" {
		return out, nil
	}
	for _, p := range strings.Split(v, ",") {
		st := ticket.Status(strings.ToUpper(strings.TrimSpace(p)))
		if err := ticket.StatusValidator(st); err != nil {
			return nil, fmt.Errorf("%q is not a ticket status", p)
		}
		out = append(out, st)
	}
	return out, nil
}

// Register declares the settings on fs with their defaults; each flag's help
// names its environment variable. Defaults shown by --help are never taken
// from the environment, so secrets there stay out of it.
func (c *Config) Register(fs *flag.FlagSet) {
	c.env = map[string]string{}
	bind := func(name, env string) string {
		c.env[name] = env
		return " (" + env + ")"
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on"+bind("addr", "SOCDESK_ADDR"))
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the embedded database, used when no database URL is given"+bind("data-dir", "SOCDESK_DATA_DIR"))
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL, postgres://…; empty runs on the embedded SQLite database"+bind("database-url", "DATABASE_URL"))
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "Redis URL, redis://…, for events across replicas; empty uses an in-process broker"+bind("redis-url", "REDIS_URL"))
	fs.StringVar(&c.RedisChannel, "redis-channel", c.RedisChannel, "Redis pub/sub channel of wake-ups (new history, changed rights), the same for every replica"+bind("redis-channel", "SOCDESK_REDIS_CHANNEL"))
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "API token of the admin user, at least 32 characters; empty prints a one-time token on first start"+bind("admin-token", "SOCDESK_ADMIN_TOKEN"))
	fs.BoolVar(&c.Demo, "demo", c.Demo, "load the demo data set when the database has no tickets"+bind("demo", "SOCDESK_DEMO"))
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json"+bind("log-format", "SOCDESK_LOG_FORMAT"))
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error"+bind("log-level", "SOCDESK_LOG_LEVEL"))
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "PostgreSQL connection pool size"+bind("db-max-conns", "SOCDESK_DB_MAX_CONNS"))
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", c.StatementTimeout, "longest a PostgreSQL statement may run"+bind("statement-timeout", "SOCDESK_STATEMENT_TIMEOUT"))
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body accepted"+bind("max-body-bytes", "SOCDESK_MAX_BODY_BYTES"))
	fs.IntVar(&c.MaxDepth, "max-depth", c.MaxDepth, "deepest field nesting of a query"+bind("max-depth", "SOCDESK_MAX_DEPTH"))
	fs.IntVar(&c.MaxCost, "max-cost", c.MaxCost, "largest query cost (fields, multiplied by page and list sizes)"+bind("max-cost", "SOCDESK_MAX_COST"))
	fs.IntVar(&c.CountCost, "count-cost", c.CountCost, "cost of a totalCount, which counts every matching row"+bind("count-cost", "SOCDESK_COUNT_COST"))
	fs.IntVar(&c.MaxRootFields, "max-root-fields", c.MaxRootFields, "most top-level fields (aliases included) of a query"+bind("max-root-fields", "SOCDESK_MAX_ROOT_FIELDS"))
	fs.IntVar(&c.MaxTokens, "max-tokens", c.MaxTokens, "largest number of tokens in a query document"+bind("max-tokens", "SOCDESK_MAX_TOKENS"))
	fs.StringVar(&c.WSOrigins, "ws-origins", c.WSOrigins, "comma-separated origins (https://app.example.com) allowed to open subscriptions besides the server's own and those of --cors-origins; * allows any"+bind("ws-origins", "SOCDESK_WS_ORIGINS"))
	fs.DurationVar(&c.WSInitTimeout, "ws-init-timeout", c.WSInitTimeout, "how long a websocket client has to send connection_init"+bind("ws-init-timeout", "SOCDESK_WS_INIT_TIMEOUT"))
	fs.DurationVar(&c.WSKeepAlive, "ws-keepalive", c.WSKeepAlive, "interval of the server's keep-alive pings on websockets"+bind("ws-keepalive", "SOCDESK_WS_KEEPALIVE"))
	fs.DurationVar(&c.WSWriteTimeout, "ws-write-timeout", c.WSWriteTimeout, "a websocket client that reads nothing for this long is disconnected"+bind("ws-write-timeout", "SOCDESK_WS_WRITE_TIMEOUT"))
	fs.IntVar(&c.WSMaxOperations, "ws-max-operations", c.WSMaxOperations, "most subscriptions on one websocket connection"+bind("ws-max-operations", "SOCDESK_WS_MAX_OPERATIONS"))
	fs.DurationVar(&c.WSRecheck, "ws-recheck", c.WSRecheck, "how often every open websocket's token is checked again, besides at once when an administrator changes its user's rights (a revoked token or changed rights end the connection)"+bind("ws-recheck", "SOCDESK_WS_RECHECK"))
	fs.IntVar(&c.LiveMaxPerUser, "live-max-per-user", c.LiveMaxPerUser, "most live subscriptions of one user, over all connections of this server"+bind("live-max-per-user", "SOCDESK_LIVE_MAX_PER_USER"))
	fs.IntVar(&c.LiveQueue, "live-queue", c.LiveQueue, "changes a subscriber may fall behind by before it is dropped (it resumes from its cursor)"+bind("live-queue", "SOCDESK_LIVE_QUEUE"))
	fs.DurationVar(&c.LivePoll, "live-poll", c.LivePoll, "how often the history is read for changes whose publication was lost"+bind("live-poll", "SOCDESK_LIVE_POLL"))
	fs.DurationVar(&c.AuthCache, "auth-cache", c.AuthCache, "how long a token's user and rights are trusted before they are read again (a revoked token stops working within it); 0: every request"+bind("auth-cache", "SOCDESK_AUTH_CACHE"))
	fs.IntVar(&c.RatePoints, "rate-points", c.RatePoints, "points each user may spend per rate window (an operation costs its query cost, a mutation rate-mutation-cost more per top-level field); shared through Redis when REDIS_URL is set; 0: no budgets"+bind("rate-points", "SOCDESK_RATE_POINTS"))
	fs.DurationVar(&c.RateWindow, "rate-window", c.RateWindow, "time in which a spent budget is earned back in full, at least 1s"+bind("rate-window", "SOCDESK_RATE_WINDOW"))
	fs.IntVar(&c.RateMutationCost, "rate-mutation-cost", c.RateMutationCost, "points a mutation costs per top-level field on top of its query cost; 0: none"+bind("rate-mutation-cost", "SOCDESK_RATE_MUTATION_COST"))
	fs.IntVar(&c.RateLocalUsers, "rate-local-users", c.RateLocalUsers, "users whose budgets a replica keeps in memory when there is no Redis (the least recently seen are forgotten)"+bind("rate-local-users", "SOCDESK_RATE_LOCAL_USERS"))
	fs.DurationVar(&c.APQTTL, "apq-ttl", c.APQTTL, "how long an automatically persisted query stays in Redis after its last use"+bind("apq-ttl", "SOCDESK_APQ_TTL"))
	fs.IntVar(&c.APQMaxBytes, "apq-max-bytes", c.APQMaxBytes, "largest query document registered as an automatically persisted query (larger ones run, sent in full)"+bind("apq-max-bytes", "SOCDESK_APQ_MAX_BYTES"))
	fs.IntVar(&c.APQEntries, "apq-entries", c.APQEntries, "most automatically persisted queries kept in memory when there is no Redis"+bind("apq-entries", "SOCDESK_APQ_ENTRIES"))
	fs.BoolVar(&c.PersistedOnly, "persisted-only", c.PersistedOnly, "run only the documents of the persisted-query manifest (allow-list mode)"+bind("persisted-only", "SOCDESK_PERSISTED_ONLY"))
	fs.StringVar(&c.PersistedQueries, "persisted-queries", c.PersistedQueries, "path of a persisted-query manifest in Apollo's format, checked against the schema at start: the allow-list with --persisted-only, documents served by id besides the automatic ones without it"+bind("persisted-queries", "SOCDESK_PERSISTED_QUERIES"))
	fs.StringVar(&c.CORSOrigins, "cors-origins", c.CORSOrigins, "comma-separated origins (https://app.example.com) whose pages may call the API from a browser (CORS), and open subscriptions; * allows any; credentials (cookies) are never allowed"+bind("cors-origins", "SOCDESK_CORS_ORIGINS"))
	fs.BoolVar(&c.Introspection, "introspection", c.Introspection, "answer introspection queries and serve the schema at /schema.graphql; false turns both off"+bind("introspection", "SOCDESK_INTROSPECTION"))
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "address of a separate listener for Go's pprof profiles (e.g. 127.0.0.1:6060); empty: none"+bind("pprof-addr", "SOCDESK_PPROF_ADDR"))
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address of a separate listener for Prometheus metrics at /metrics (e.g. 127.0.0.1:9090); empty: see --metrics-token"+bind("metrics-addr", "SOCDESK_METRICS_ADDR"))
	fs.StringVar(&c.MetricsToken, "metrics-token", c.MetricsToken, "bearer token a scrape must present, at least 16 characters; without --metrics-addr it serves /metrics on the main listener; neither set: no metrics served"+bind("metrics-token", "SOCDESK_METRICS_TOKEN"))
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "OpenTelemetry collector's OTLP/HTTP base URL (http://collector:4318) to export traces to; empty: none unless OTEL_EXPORTER_OTLP_ENDPOINT is set"+bind("otlp-endpoint", "SOCDESK_OTLP_ENDPOINT"))
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "socdesk's public base URL (https://soc.example.com), which notifications link tickets to as <url>/tickets/<number>; empty: http://<addr>"+bind("public-url", "SOCDESK_PUBLIC_URL"))
	fs.StringVar(&c.OutboundAllow, "outbound-allow", c.OutboundAllow, "comma-separated IPs or CIDR ranges (10.0.0.0/8, 127.0.0.1) that webhooks, SMS gateways and playbooks may reach although loopback or private; empty: public addresses only"+bind("outbound-allow", "SOCDESK_OUTBOUND_ALLOW"))
	fs.DurationVar(&c.OutboundTimeout, "outbound-timeout", c.OutboundTimeout, "longest an outbound webhook or SMS request may take (playbooks have their own timeout)"+bind("outbound-timeout", "SOCDESK_OUTBOUND_TIMEOUT"))
	fs.Int64Var(&c.OutboundMaxBytes, "outbound-max-bytes", c.OutboundMaxBytes, "most bytes of an outbound request's answer read (the rest is dropped)"+bind("outbound-max-bytes", "SOCDESK_OUTBOUND_MAX_BYTES"))
	fs.IntVar(&c.JobWorkers, "job-workers", c.JobWorkers, "jobs (deliveries, playbook runs) this replica works at once; 0: it inserts jobs but works none"+bind("job-workers", "SOCDESK_JOB_WORKERS"))
	fs.DurationVar(&c.JobPoll, "job-poll", c.JobPoll, "how often idle job workers look for new jobs"+bind("job-poll", "SOCDESK_JOB_POLL"))
	fs.IntVar(&c.JobMaxAttempts, "job-max-attempts", c.JobMaxAttempts, "attempts of a delivery before it is kept as FAILED (retried with exponential backoff)"+bind("job-max-attempts", "SOCDESK_JOB_MAX_ATTEMPTS"))
	fs.DurationVar(&c.JobTimeout, "job-timeout", c.JobTimeout, "longest one job may run"+bind("job-timeout", "SOCDESK_JOB_TIMEOUT"))
	fs.IntVar(&c.ScheduleMaxMissed, "schedule-max-missed", c.ScheduleMaxMissed, "how many missed occurrences of a task schedule are generated after a stop (the latest; older ones are recorded as skipped)"+bind("schedule-max-missed", "SOCDESK_SCHEDULE_MAX_MISSED"))
	fs.Float64Var(&c.SLAAtRisk, "sla-at-risk", c.SLAAtRisk, "share of a service-level clock's allowed time after which it is AT_RISK (between 0 and 1)"+bind("sla-at-risk", "SOCDESK_SLA_AT_RISK"))
	fs.StringVar(&c.SLAPauseStatuses, "sla-pause-statuses", c.SLAPauseStatuses, "comma-separated ticket statuses in which the service-level clocks stand still; none: no status"+bind("sla-pause-statuses", "SOCDESK_SLA_PAUSE_STATUSES"))
	fs.BoolVar(&c.SLAPauseExplanations, "sla-pause-explanations", c.SLAPauseExplanations, "whether the service-level clocks stand still while an explanation request of the ticket is open"+bind("sla-pause-explanations", "SOCDESK_SLA_PAUSE_EXPLANATIONS"))
	fs.DurationVar(&c.ExplanationRemindBefore, "explanation-remind-before", c.ExplanationRemindBefore, "how long before an explanation request's deadline the violator is reminded"+bind("explanation-remind-before", "SOCDESK_EXPLANATION_REMIND_BEFORE"))
	fs.DurationVar(&c.JobRescueAfter, "job-rescue-after", c.JobRescueAfter, "a job running this long without ending (its replica died) is worked again; longer than --job-timeout"+bind("job-rescue-after", "SOCDESK_JOB_RESCUE_AFTER"))
	fs.DurationVar(&c.JobRetryBase, "job-retry-base", c.JobRetryBase, "base of the retry backoff (attempt⁴ × base); 0: River's default of one second"+bind("job-retry-base", "SOCDESK_JOB_RETRY_BASE"))
	fs.StringVar(&c.BlobURL, "blob-url", c.BlobURL, "where attachments' contents are stored: file:///dir, s3://bucket?region=… or gs://bucket (shared by every replica); empty: file://<data dir>/blobs"+bind("blob-url", "SOCDESK_BLOB_URL"))
	fs.Int64Var(&c.MaxUploadBytes, "max-upload-bytes", c.MaxUploadBytes, "largest attached file, enforced while the upload streams"+bind("max-upload-bytes", "SOCDESK_MAX_UPLOAD_BYTES"))
	fs.StringVar(&c.URLSigningKey, "url-signing-key", c.URLSigningKey, "key of the signed download URLs (Attachment.downloadURL), at least 32 characters, the same on every replica; empty: a random key per process (URLs work only on the replica that signed them)"+bind("url-signing-key", "SOCDESK_URL_SIGNING_KEY"))
	fs.DurationVar(&c.SignedURLTTL, "signed-url-ttl", c.SignedURLTTL, "how long a signed download URL works, at most 1h"+bind("signed-url-ttl", "SOCDESK_SIGNED_URL_TTL"))
	fs.StringVar(&c.ReputationURL, "reputation-url", c.ReputationURL, "base URL of the reputation provider, which speaks VirusTotal's v3 API ({url}/api/v3/ip_addresses/{ip} …)"+bind("reputation-url", "SOCDESK_REPUTATION_URL"))
	fs.StringVar(&c.ReputationKey, "reputation-key", c.ReputationKey, "the reputation provider's API key (sent as x-apikey; never logged nor shown); empty: no lookups"+bind("reputation-key", "SOCDESK_REPUTATION_KEY"))
	fs.IntVar(&c.ReputationRate, "reputation-rate", c.ReputationRate, "most requests to the reputation provider per --reputation-window, over all replicas (through Redis when REDIS_URL is set)"+bind("reputation-rate", "SOCDESK_REPUTATION_RATE"))
	fs.DurationVar(&c.ReputationWindow, "reputation-window", c.ReputationWindow, "the window of --reputation-rate, at least 1s"+bind("reputation-window", "SOCDESK_REPUTATION_WINDOW"))
	fs.DurationVar(&c.ReputationTimeout, "reputation-timeout", c.ReputationTimeout, "longest one request to the reputation provider may take"+bind("reputation-timeout", "SOCDESK_REPUTATION_TIMEOUT"))
	fs.DurationVar(&c.ReputationTTL, "reputation-ttl", c.ReputationTTL, "how long the provider's answer about an indicator is used before it is asked again"+bind("reputation-ttl", "SOCDESK_REPUTATION_TTL"))
	fs.BoolVar(&c.ReputationOnIngest, "reputation-on-ingest", c.ReputationOnIngest, "look up the indicators of every new DETECTION ticket (a job), within the rate limit"+bind("reputation-on-ingest", "SOCDESK_REPUTATION_ON_INGEST"))
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish on SIGTERM"+bind("shutdown-timeout", "SOCDESK_SHUTDOWN_TIMEOUT"))
}

// Load parses args, then takes each setting not given as a flag from its
// environment variable (looked up with getenv), then validates the result.
func (c *Config) Load(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	for name, env := range c.env {
		if v := getenv(env); v != "" && !given[name] {
			if err := fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q %s", env, v, expected(fs.Lookup(name))))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.Validate()
}

// expected says what a setting of f's type takes, for a value that did not
// parse (the flag package's own errors say only "parse error").
func expected(f *flag.Flag) string {
	g, _ := f.Value.(flag.Getter)
	if g == nil {
		return "is not valid"
	}
	switch g.Get().(type) {
	case bool:
		return "must be true or false"
	case int, int64:
		return "must be a whole number"
	case time.Duration:
		return "must be a duration with its unit, such as 500ms, 30s, 5m or 1h"
	}
	return "is not valid"
}

// name is the environment variable of the flag called flagName, by which
// messages name a setting.
func (c *Config) name(flagName string) string {
	if env := c.env[flagName]; env != "" {
		return env
	}
	return "--" + flagName
}

// MinRateWindow is the shortest rate window: budgets are counted and
// reported in whole seconds (RateLimit-Reset, Retry-After), so a shorter
// window would refill before a client could be told when.
const MinRateWindow = time.Second

// Validate checks the settings.
func (c *Config) Validate() error {
	var errs []error
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("%s: the log format must be text or json, not %q", c.name("log-format"), c.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("%s: the log level must be debug, info, warn or error, not %q", c.name("log-level"), c.LogLevel))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		errs = append(errs, fmt.Errorf("%s: the admin token must be at least 32 characters", c.name("admin-token")))
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, fmt.Errorf("%s: the metrics token must be at least 16 characters", c.name("metrics-token")))
	}
	if strings.IndexFunc(c.MetricsToken, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		errs = append(errs, fmt.Errorf("%s must not contain spaces or control characters: a scraper sends it in an Authorization header, which cannot carry them intact", c.name("metrics-token")))
	}
	positive := []struct {
		flag string
		v    int
	}{{"db-max-conns", c.DBMaxConns}, {"max-depth", c.MaxDepth}, {"max-cost", c.MaxCost}, {"count-cost", c.CountCost},
		{"max-root-fields", c.MaxRootFields}, {"max-tokens", c.MaxTokens}, {"ws-max-operations", c.WSMaxOperations},
		{"apq-max-bytes", c.APQMaxBytes}, {"apq-entries", c.APQEntries}, {"live-max-per-user", c.LiveMaxPerUser}, {"live-queue", c.LiveQueue}}
	for _, s := range positive {
		if s.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %d", c.name(s.flag), s.v))
		}
	}
	for _, s := range []struct {
		flag string
		v    int
	}{{"rate-points", c.RatePoints}, {"rate-mutation-cost", c.RateMutationCost}} {
		if s.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, not %d", c.name(s.flag), s.v))
		}
	}
	if c.RatePoints > 0 {
		if c.RateWindow < MinRateWindow {
			errs = append(errs, fmt.Errorf("%s must be at least %v (budgets are counted in whole seconds), not %v", c.name("rate-window"), MinRateWindow, c.RateWindow))
		}
		if c.RateLocalUsers <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive with rate points, not %d", c.name("rate-local-users"), c.RateLocalUsers))
		}
	}
	if c.PersistedOnly && c.PersistedQueries == "" {
		errs = append(errs, errors.New("persisted-only mode needs a manifest: set SOCDESK_PERSISTED_QUERIES"))
	}
	if c.AuthCache < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative, not %v", c.name("auth-cache"), c.AuthCache))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("%s must be at least 1024, not %d", c.name("max-body-bytes"), c.MaxBodyBytes))
	}
	for _, s := range []struct{ flag, v string }{{"cors-origins", c.CORSOrigins}, {"ws-origins", c.WSOrigins}} {
		for _, o := range splitOrigins(s.v) {
			if err := checkOrigin(o); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.name(s.flag), err))
			}
		}
	}
	for _, s := range []struct {
		flag string
		v    time.Duration
	}{{"shutdown-timeout", c.ShutdownTimeout}, {"statement-timeout", c.StatementTimeout}, {"ws-init-timeout", c.WSInitTimeout},
		{"ws-keepalive", c.WSKeepAlive}, {"ws-write-timeout", c.WSWriteTimeout}, {"live-poll", c.LivePoll},
		{"ws-recheck", c.WSRecheck}, {"apq-ttl", c.APQTTL}} {
		if s.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", c.name(s.flag), s.v))
		}
	}
	for _, s := range []struct{ flag, v string }{{"addr", c.Addr}, {"pprof-addr", c.PprofAddr}, {"metrics-addr", c.MetricsAddr}} {
		if s.v != "" || s.flag == "addr" {
			if err := checkAddr(s.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.name(s.flag), err))
			}
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http:// or https:// URL such as https://soc.example.com, not %q", c.name("public-url"), c.PublicURL))
		}
	}
	if _, err := c.Allowed(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.name("outbound-allow"), err))
	}
	if c.OutboundMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("%s must be positive, not %d", c.name("outbound-max-bytes"), c.OutboundMaxBytes))
	}
	if !(c.SLAAtRisk > 0 && c.SLAAtRisk < 1) {
		errs = append(errs, fmt.Errorf("%s must be between 0 and 1 (exclusive), not %v", c.name("sla-at-risk"), c.SLAAtRisk))
	}
	if _, err := c.SLAPauses(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.name("sla-pause-statuses"), err))
	}
	if c.ScheduleMaxMissed < 1 || c.ScheduleMaxMissed > schedules.MaxMissedLimit {
		errs = append(errs, fmt.Errorf("%s must be between 1 and %d, not %d", c.name("schedule-max-missed"), schedules.MaxMissedLimit, c.ScheduleMaxMissed))
	}
	if c.JobWorkers < 0 || c.JobWorkers > jobs.MaxWorkers {
		errs = append(errs, fmt.Errorf("%s must be between 0 and %d, not %d", c.name("job-workers"), jobs.MaxWorkers, c.JobWorkers))
	}
	if c.JobMaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1, not %d", c.name("job-max-attempts"), c.JobMaxAttempts))
	}
	for _, s := range []struct {
		flag string
		v    time.Duration
	}{{"explanation-remind-before", c.ExplanationRemindBefore}, {"outbound-timeout", c.OutboundTimeout}, {"job-poll", c.JobPoll}, {"job-timeout", c.JobTimeout}, {"job-rescue-after", c.JobRescueAfter}} {
		if s.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", c.name(s.flag), s.v))
		}
	}
	if c.JobRetryBase < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative, not %v", c.name("job-retry-base"), c.JobRetryBase))
	}
	if c.MaxUploadBytes < 1024 {
		errs = append(errs, fmt.Errorf("%s must be at least 1024, not %d", c.name("max-upload-bytes"), c.MaxUploadBytes))
	}
	if c.URLSigningKey != "" && len(c.URLSigningKey) < 32 {
		errs = append(errs, fmt.Errorf("%s: the URL signing key must be at least 32 characters", c.name("url-signing-key")))
	}
	if c.SignedURLTTL <= 0 || c.SignedURLTTL > MaxSignedURLTTL {
		errs = append(errs, fmt.Errorf("%s must be positive and at most %v, not %v", c.name("signed-url-ttl"), MaxSignedURLTTL, c.SignedURLTTL))
	}
	if c.BlobURL != "" {
		if u, err := url.Parse(c.BlobURL); err != nil || u.Scheme == "" {
			errs = append(errs, fmt.Errorf("%s must be a URL such as file:///var/lib/socdesk/blobs, s3://bucket or gs://bucket", c.name("blob-url")))
		}
	}
	if c.JobTimeout <= c.OutboundTimeout {
		errs = append(errs, fmt.Errorf("%s (%v) must be longer than %s (%v): a delivery's job would end before its request", c.name("job-timeout"), c.JobTimeout, c.name("outbound-timeout"), c.OutboundTimeout))
	}
	if err := outbound.CheckURL(c.ReputationURL); err != nil {
		errs = append(errs, fmt.Errorf("%s %v", c.name("reputation-url"), err))
	}
	if strings.IndexFunc(c.ReputationKey, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		errs = append(errs, fmt.Errorf("%s must not contain spaces or control characters: it travels in an x-apikey header", c.name("reputation-key")))
	}
	if c.ReputationRate < 1 {
		errs = append(errs, fmt.Errorf("%s must be positive, not %d", c.name("reputation-rate"), c.ReputationRate))
	}
	if c.ReputationWindow < MinRateWindow {
		errs = append(errs, fmt.Errorf("%s must be at least %v, not %v", c.name("reputation-window"), MinRateWindow, c.ReputationWindow))
	}
	for _, s := range []struct {
		flag string
		v    time.Duration
	}{{"reputation-timeout", c.ReputationTimeout}, {"reputation-ttl", c.ReputationTTL}} {
		if s.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", c.name(s.flag), s.v))
		}
	}
	if c.ReputationOnIngest && c.ReputationKey != "" && c.ReputationTimeout >= c.JobTimeout { // only the on-ingestion job looks up within a job
		errs = append(errs, fmt.Errorf("%s (%v) must be shorter than %s (%v): an on-ingestion lookup's job would end before its request", c.name("reputation-timeout"), c.ReputationTimeout, c.name("job-timeout"), c.JobTimeout))
	}
	if c.JobRescueAfter <= c.JobTimeout {
		errs = append(errs, fmt.Errorf("%s (%v) must be longer than %s (%v): a job still running would be worked twice", c.name("job-rescue-after"), c.JobRescueAfter, c.name("job-timeout"), c.JobTimeout))
	}
	return errors.Join(errs...)
}

// Allowed are the loopback and private destinations outbound requests may
// reach (SOCDESK_OUTBOUND_ALLOW).
func (c *Config) Allowed() ([]netip.Prefix, error) { return outbound.ParseAllow(c.OutboundAllow) }

// Public is the public base URL messages link to.
func (c *Config) Public() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.Addr
}

// MaxSignedURLTTL bounds SOCDESK_SIGNED_URL_TTL: a signed URL is a bearer
// credential that may end up in a browser's history.
const MaxSignedURLTTL = time.Hour

// Blobs is the URL of the attachments' blob storage: SOCDESK_BLOB_URL, or
// a directory blobs under the data directory (created when missing; the
// blob driver's temporary files beside it, not in the system's /tmp).
func (c *Config) Blobs() string {
	if c.BlobURL != "" {
		return c.BlobURL
	}
	dir, err := filepath.Abs(filepath.Join(c.DataDir, "blobs"))
	if err != nil {
		dir = filepath.Join(c.DataDir, "blobs")
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "create_dir=1&no_tmp_dir=1&metadata=skip"}).String()
}

// SQLitePath is the embedded database's file.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "socdesk.db") }

// Logger returns the logger the settings describe, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Limits are the bounds every GraphQL operation must stay within.
func (c *Config) Limits() limits.Limits {
	return limits.Limits{MaxDepth: c.MaxDepth, MaxCost: c.MaxCost, MaxPageSize: MaxPageSize,
		CountCost: c.CountCost, ListSize: ListSize, MaxRootFields: c.MaxRootFields}
}

// Rate are the per-user rate budgets' settings.
func (c *Config) Rate() ratelimit.Settings {
	return ratelimit.Settings{Points: c.RatePoints, Window: c.RateWindow, MutationCost: c.RateMutationCost, LocalUsers: c.RateLocalUsers}
}

// Persisted are the settings of persisted queries.
func (c *Config) Persisted() persisted.Options {
	return persisted.Options{TTL: c.APQTTL, MaxBytes: c.APQMaxBytes, Entries: c.APQEntries,
		Only: c.PersistedOnly, ManifestPath: c.PersistedQueries}
}

// Origins are the extra origins allowed to open websockets: those of
// SOCDESK_WS_ORIGINS and SOCDESK_CORS_ORIGINS (a page allowed to query the
// API may subscribe too).
func (c *Config) Origins() []string {
	return append(splitOrigins(c.WSOrigins), c.CORSAllowed()...)
}

// CORSAllowed are the origins whose pages may call the API (CORS), without
// a trailing slash.
func (c *Config) CORSAllowed() []string { return splitOrigins(c.CORSOrigins) }

// splitOrigins reads a comma-separated list of origins (SOCDESK_CORS_ORIGINS,
// SOCDESK_WS_ORIGINS), without trailing slashes.
func splitOrigins(s string) []string {
	out := splitList(s)
	for i, o := range out {
		out[i] = strings.TrimRight(o, "/")
	}
	return out
}

// checkAddr accepts a listening address as net.Listen takes it:
// [host]:port, the port a number up to 65535.
func checkAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("%q is not an address to listen on (host:port, e.g. 127.0.0.1:9090 or :9090): %w", a, err)
	}
	return nil
}

// checkOrigin accepts "*" and origins as browsers send them:
// scheme://host[:port], nothing more.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
		return fmt.Errorf("%q is not an origin (scheme://host[:port], or * for any)", o)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
