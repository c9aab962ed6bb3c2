// Package app assembles socdesk's server from its parts: the GraphQL API
// with its live updates, behind the HTTP routes. The binary and the tests
// build the same thing through it.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
	"gocloud.dev/blob"

	"socdesk/ent/explanationlink"
	"socdesk/ent/schematype"
	"socdesk/graph"
	"socdesk/graph/scalar"
	"socdesk/internal/admin"
	"socdesk/internal/attachments"
	"socdesk/internal/auth"
	"socdesk/internal/channels"
	"socdesk/internal/config"
	"socdesk/internal/directory"
	"socdesk/internal/events"
	"socdesk/internal/explanations"
	"socdesk/internal/explanations/page"
	"socdesk/internal/ingest"
	"socdesk/internal/jobs"
	"socdesk/internal/live"
	"socdesk/internal/metrics"
	"socdesk/internal/notify"
	"socdesk/internal/outbound"
	"socdesk/internal/persisted"
	"socdesk/internal/playbooks"
	"socdesk/internal/ratelimit"
	"socdesk/internal/reputation"
	"socdesk/internal/schedules"
	"socdesk/internal/server"
	"socdesk/internal/sla"
	"socdesk/internal/store"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
	"socdesk/internal/ticketstats"
	"socdesk/internal/tracing"
	"socdesk/internal/viewer"
	"socdesk/internal/wsguard"
)

// App is one socdesk replica.
type App struct {
	Handler  http.Handler
	Hub      *live.Hub
	Sessions *live.Sessions
	Tickets  *tickets.Service
	// Websockets are the open websocket connections: server.Serve closes
	// them with 1001 (GoAway) once HTTP requests are drained.
	Websockets *wsguard.Conns
	// Metrics is the replica's Prometheus registry: its Registerer takes
	// other parts' series, its Handler serves /metrics (see New for where).
	Metrics *metrics.Metrics
	// Budgets are the users' rate budgets.
	Budgets *ratelimit.Budgets
	// Jobs is the replica's job engine (deliveries, playbook runs); Run
	// works them when the replica has workers.
	Jobs *jobs.Engine
	// Notify delivers notifications and propagations.
	Notify *notify.Service
	// Explanations takes the steps of explanation requests.
	Explanations *explanations.Service
	// Playbooks runs playbooks.
	Playbooks *playbooks.Service
	// Attachments stores, serves and collects attached files.
	Attachments *attachments.Service
	// Schedules keeps task schedules and generates their tasks (a
	// periodic job of Jobs).
	Schedules *schedules.Service
	// Reputation looks up the reputation of tickets' indicators.
	Reputation *reputation.Service
	// Ingest keeps detection rules and ingests their events.
	Ingest *ingest.Service
	// SLA keeps the tickets' service levels (a follower of their history,
	// and breach jobs of Jobs).
	SLA *sla.Service
}

// Option gives a replica a part that New would otherwise make itself.
type Option func(*parts)

type parts struct {
	persisted graphql.HandlerExtension
	bucket    *blob.Bucket
}

// WithBucket stores attachments' contents in b (the binary opens
// cfg.Blobs(), to report an error before anything starts). Without it a
// replica opens SOCDESK_BLOB_URL when set (panicking if it cannot), and
// otherwise keeps contents in memory: tests that never attach a file do not
// write under the data directory.
func WithBucket(b *blob.Bucket) Option {
	return func(p *parts) { p.bucket = b }
}

// WithPersisted serves persisted queries through ext (persisted.New, shared
// through Redis or from a manifest); without it a replica registers
// automatic persisted queries in its own memory.
func WithPersisted(ext graphql.HandlerExtension) Option {
	return func(p *parts) { p.persisted = ext }
}

// New assembles a replica on st, publishing through broker. ready checks the
// backing services for /readyz. /metrics is served on the main listener
// when cfg has a metrics token and no metrics address (the binary serves
// that address itself); traces are made when tracing.Setup has started them.
// Rate budgets are kept in the Redis that broker publishes through, if it
// does, and in memory otherwise.
func New(st *store.Store, broker events.Broker, cfg config.Config, log *slog.Logger, ready func(context.Context) error, opts ...Option) *App {
	p := parts{persisted: persisted.APQ{Store: persisted.NewMemory(cfg.APQEntries), MaxBytes: cfg.APQMaxBytes}}
	for _, o := range opts {
		o(&p)
	}
	m := metrics.New()
	var rdb redis.UniversalClient // an interface: a nil *redis.Client in it would not be nil
	if c := events.RedisClient(broker); c != nil {
		rdb = c
	}
	budgets, err := ratelimit.New(cfg.Rate(), rdb, cfg.RedisChannel+":budget:", m.Registerer(), log)
	if err != nil { // config.Validate checked the settings; the registry is new
		panic(err)
	}
	publisher, _ := broker.(*events.Background)
	broker = m.Broker(broker)
	hub := &live.Hub{Client: st.Client, DB: st.DB, Dialect: st.Dialect, Broker: broker, Log: log,
		Poll: cfg.LivePoll, QueueSize: cfg.LiveQueue, MaxPerUser: cfg.LiveMaxPerUser}
	svc := &tickets.Service{Client: st.Client, Broker: broker, Dialect: st.Dialect}
	eng, nt, pb, ex := deliveries(st, svc, cfg, log, m)
	sl := serviceLevels(st, svc, eng, cfg)
	if p.bucket == nil {
		url := cfg.BlobURL
		if url == "" {
			url = "mem://"
		}
		if p.bucket, err = attachments.OpenBucket(context.Background(), url); err != nil {
			panic(err)
		}
	}
	att := &attachments.Service{Client: st.Client, Dialect: st.Dialect, Bucket: p.bucket, Tickets: svc, Jobs: eng,
		MaxBytes: cfg.MaxUploadBytes, Signer: attachments.NewSigner(cfg.URLSigningKey, cfg.SignedURLTTL), Log: log}
	att.Register()
	sch := &schedules.Service{Client: st.Client, Dialect: st.Dialect, Jobs: eng, MaxMissed: cfg.ScheduleMaxMissed,
		Tickets: svc, Log: log}
	sch.Register()
	ex.Attachments = att // an answer's files
	rep := lookups(st, eng, cfg, rdb, log)
	svc.Followers = tickets.Chain(svc.Followers, rep.Followers)
	ing := &ingest.Service{Client: st.Client, Tickets: svc, Dialect: st.Dialect}
	ing.Register(eng)
	ingest.EncodeID = scalar.EncodeID
	admin.WatchRights(st.Client, broker)
	adm := &admin.Service{Client: st.Client, Dialect: st.Dialect}
	authn := &auth.Authenticator{Client: st.Client, Now: time.Now, CacheFor: cfg.AuthCache}
	sessions := &live.Sessions{Authenticate: authn.Authenticate, Every: cfg.WSRecheck, Broker: broker, OnRights: authn.Forget, Log: log}
	open := &wsguard.Conns{}
	m.Watch(metrics.Sources{DB: st.DB, Hub: hub, Websockets: open.Len, Publisher: publisher})
	extensions := []graphql.HandlerExtension{m.GraphQL()}
	tp := tracing.Provider()
	if tp != nil {
		extensions = append(extensions, tracing.NewGraphQL(tp))
	}
	gql := graph.NewHandler(graph.Options{
		Resolver: &graph.Resolver{Client: st.Client, Tickets: svc, Admin: adm, Logger: log, Hub: hub, Notify: nt, Playbooks: pb,
			Directory:   &directory.Service{Client: st.Client},
			Attachments: att, PublicURL: cfg.Public(), Explanations: ex, Schedules: sch, Tasks: &tasks.Service{Tickets: svc},
			Reputations: rep,
			Metrics:     &ticketstats.Service{Client: st.Client, Dialect: st.Dialect},
			Ingest:      ing,
			SLA:         sl},
		Uploads:    att,
		Logger:     log,
		Limits:     cfg.Limits(),
		MaxTokens:  cfg.MaxTokens,
		Extensions: extensions,
		Persisted:  p.persisted,
		Budgets:    budgets,
		// Off, the SDL is not served either: it tells the same.
		NoIntrospection: !cfg.Introspection,
		Live: &graph.LiveOptions{
			Authenticate:  authn.Authenticate, // connections are few: always read afresh
			Origins:       cfg.Origins(),
			InitTimeout:   cfg.WSInitTimeout,
			KeepAlive:     cfg.WSKeepAlive,
			WriteTimeout:  cfg.WSWriteTimeout,
			MaxOperations: cfg.WSMaxOperations,
			Sessions:      sessions,
			Open:          open,
		},
	})
	var sdl []byte
	if cfg.Introspection {
		sdl = graph.SDL()
	}
	var metricsHandler http.Handler
	if cfg.MetricsToken != "" && cfg.MetricsAddr == "" {
		metricsHandler = m.Handler(cfg.MetricsToken)
	}
	h := server.NewHandler(server.Deps{
		GraphQL:           gql,
		Auth:              authn,
		Logger:            log,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		Ready:             ready,
		CORSOrigins:       cfg.CORSAllowed(),
		Schema:            sdl,
		Metrics:           metricsHandler,
		Attachments:       att,
		SignedAttachments: http.HandlerFunc(att.ServeSigned),
		MaxUploadBytes:    cfg.MaxUploadBytes,
		Explain:           &page.Handler{Explanations: ex, Log: log},
		Ingest: &ingest.Handler{Ingest: ing, Log: log,
			Authenticate: func(r *http.Request, tok string) (*viewer.Viewer, error) { return authn.Cached(r.Context(), tok) }},
	})
	h = m.HTTP(h)
	if tp != nil {
		h = tracing.HTTP(tp, h)
	}
	return &App{Handler: h, Hub: hub, Sessions: sessions, Tickets: svc, Websockets: open, Metrics: m, Budgets: budgets,
		Jobs: eng, Notify: nt, Playbooks: pb, Attachments: att, Explanations: ex, Schedules: sch, Reputation: rep, Ingest: ing, SLA: sl}
}

// lookups assembles the reputation lookups: the provider (when a key is
// set) behind its own outbound guard (its timeout; a file's report is
// larger than other answers), its rate limit shared through rdb when the
// replicas share a Redis, and the on-ingestion job.
func lookups(st *store.Store, eng *jobs.Engine, cfg config.Config, rdb redis.UniversalClient, log *slog.Logger) *reputation.Service {
	lim, err := reputation.NewLimiter(cfg.ReputationRate, cfg.ReputationWindow, rdb, cfg.RedisChannel+":reputation:", nil)
	if err != nil { // config.Validate checked the settings
		panic(err)
	}
	s := &reputation.Service{Client: st.Client, Limiter: lim, Rate: cfg.ReputationRate, Window: cfg.ReputationWindow,
		TTL: cfg.ReputationTTL, OnIngest: cfg.ReputationOnIngest, Jobs: eng, Log: log}
	if cfg.ReputationKey != "" {
		allow, _ := cfg.Allowed() // validated
		s.Provider = &reputation.VirusTotal{URL: cfg.ReputationURL, Key: cfg.ReputationKey,
			HTTP: &outbound.Guard{Allow: allow, Timeout: cfg.ReputationTimeout, MaxResponseBytes: reputation.MaxAnswerBytes}}
	}
	s.Register()
	return s
}

// deliveries assembles the job engine and what works through it: the
// notifications, whose jobs every ticket change enqueues, and playbooks.
func deliveries(st *store.Store, svc *tickets.Service, cfg config.Config, log *slog.Logger, m *metrics.Metrics) (*jobs.Engine, *notify.Service, *playbooks.Service, *explanations.Service) {
	eng, err := jobs.New(jobs.Options{
		Dialect: st.Dialect, DB: st.DB, Workers: cfg.JobWorkers, PollInterval: cfg.JobPoll,
		MaxAttempts: cfg.JobMaxAttempts, RescueAfter: cfg.JobRescueAfter, JobTimeout: cfg.JobTimeout,
		RetryBase: cfg.JobRetryBase, Log: log, Registerer: m.Registerer(),
	})
	if err != nil { // config.Validate checked the settings
		panic(err)
	}
	allow, _ := cfg.Allowed() // validated too
	guard := &outbound.Guard{Allow: allow, Timeout: cfg.OutboundTimeout, MaxResponseBytes: cfg.OutboundMaxBytes}
	nt := &notify.Service{Client: st.Client, Tickets: svc, Jobs: eng, PublicURL: cfg.Public(), Log: log,
		Sender: &channels.Sender{HTTP: guard, SMTPTimeout: cfg.OutboundTimeout}}
	svc.Followers = nt.Followers
	// A playbook's own timeout bounds its run; the guard's is the longest.
	pb := &playbooks.Service{Client: st.Client, Tickets: svc, Jobs: eng, PublicURL: cfg.Public(),
		HTTP: &outbound.Guard{Allow: allow, Timeout: playbooks.MaxTimeout, MaxResponseBytes: cfg.OutboundMaxBytes}}
	ex := &explanations.Service{Client: st.Client, Tickets: svc, Jobs: eng, Dialect: st.Dialect, PublicURL: cfg.Public(),
		RemindBefore: cfg.ExplanationRemindBefore}
	nt.Links = func(ctx context.Context, explanationID, employeeID int, role string) (string, error) {
		return ex.MintLink(ctx, explanationID, employeeID, explanationlink.Role(role))
	}
	ex.Register()
	nt.Register()
	pb.Register()
	return eng, nt, pb, ex
}

// serviceLevels assembles the SLA clocks: their follower runs in every
// ticket change's transaction after the notifications', and their breach
// jobs go through eng.
func serviceLevels(st *store.Store, svc *tickets.Service, eng *jobs.Engine, cfg config.Config) *sla.Service {
	pauses, _ := cfg.SLAPauses() // validated
	sl := &sla.Service{Client: st.Client, Jobs: eng, Tickets: svc, AtRisk: cfg.SLAAtRisk, PauseStatuses: pauses}
	if cfg.SLAPauseExplanations {
		sl.ExplanationOpen = func(s schematype.ExplanationStatus) bool { return !explanations.IsEnded(s) }
	}
	svc.Followers = tickets.Chain(sl.Follow, svc.Followers)
	sl.Register()
	return sl
}

// Run runs the replica's background work (the live hub, the websocket
// session checks, the job workers) until ctx ends; then it lets running
// jobs finish for up to StopJobsTimeout.
func (a *App) Run(ctx context.Context) error {
	go a.Sessions.Run(ctx)
	if err := a.Jobs.Start(ctx); err != nil {
		return err
	}
	err := a.Hub.Run(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopJobsTimeout)
	defer cancel()
	return errors.Join(err, a.Jobs.Stop(sctx))
}

// StopJobsTimeout is how long a stopping replica lets running jobs finish;
// those still running then are worked again elsewhere (at least once).
const StopJobsTimeout = 10 * time.Second
