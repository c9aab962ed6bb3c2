package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
)

// SubsConfig configures the subscriptions scenario.
type SubsConfig struct {
	// URL is the server's base URL, http://host:port.
	URL string
	// Token is an API token of an admin, for the mutations (and for the
	// subscriptions when SubscriberTokens is empty).
	Token string
	// SubscriberTokens, when given, are the tokens of the subscriptions,
	// handed to the connections in turn (the server caps the live
	// subscriptions of one user). Their users must see the benchmark
	// ticket's site (the first of the sites query).
	SubscriberTokens []string
	// Subscribers is the number of websocket connections, one subscription each.
	Subscribers int
	// Mutations is the number of measured updates of the benchmark ticket.
	Mutations int
	// Rate is the measured mutations per second.
	Rate float64
	// Protocol is the websocket subprotocol: graphql-transport-ws, or
	// graphql-ws (subscriptions-transport-ws).
	Protocol string
	// ServerPID, when not 0, is the server's process, whose memory and CPU
	// are read from /proc.
	ServerPID int
	// Filter is the TicketFilter passed as the subscription's $f (JSON; empty: null).
	Filter string
	// Concurrency bounds the connections being opened at once.
	Concurrency int
	// LiveTimeout bounds the wait until every subscriber has received a
	// warm-up event.
	LiveTimeout time.Duration
	// DrainTimeout bounds the wait for deliveries after the last mutation.
	DrainTimeout time.Duration
	// Settle is the idle pause before the memory is read.
	Settle time.Duration
	// UpgradeAuth sends the token in an Authorization header of the upgrade
	// request too (browsers cannot; off by default).
	UpgradeAuth bool
	// MaxP99, when set, fails the run when the p99 of commit → received by
	// all exceeds it.
	MaxP99 time.Duration
	// MaxKiBPerConn, when set, fails the run when the server's memory per
	// live idle subscriber exceeds it.
	MaxKiBPerConn float64
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (c *SubsConfig) defaults() error {
	if c.Subscribers <= 0 {
		return errors.New("subscribers must be positive")
	}
	if c.Mutations <= 0 {
		return errors.New("mutations must be positive")
	}
	if c.Rate <= 0 {
		return errors.New("rate must be positive")
	}
	if c.Token == "" {
		return errors.New("a token is required")
	}
	switch c.Protocol {
	case "", "graphql-transport-ws":
		c.Protocol = "graphql-transport-ws"
	case "graphql-ws", "subscriptions-transport-ws":
		c.Protocol = "graphql-ws"
	default:
		return fmt.Errorf("unknown protocol %q (graphql-transport-ws or graphql-ws)", c.Protocol)
	}
	if c.Filter != "" && !json.Valid([]byte(c.Filter)) {
		return errors.New("the filter is not valid JSON")
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 200
	}
	if c.LiveTimeout <= 0 {
		c.LiveTimeout = 2 * time.Minute
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 15 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// SubscriptionQuery is the subscription each connection runs. `changes`
// carries the new title, by which a delivery is matched to its mutation.
const SubscriptionQuery = `subscription($f: TicketFilter){ ticketEvents(filter: $f){ cursor kind at ticketNumber ticket { id status } changes { field to } } }`

// Memory is a process's memory around the connections.
type Memory struct {
	Before    *ProcStat `json:"before,omitempty"`    // before connecting (HTTP path warmed up)
	Connected *ProcStat `json:"connected,omitempty"` // every connection subscribed, before any event
	Idle      *ProcStat `json:"idle,omitempty"`      // every subscriber live, idle for Settle
	After     *ProcStat `json:"after,omitempty"`     // after the measured mutations
	// PerConnKiB is (Idle.RSS − Before.RSS) / connections.
	PerConnKiB float64 `json:"per_conn_kib"`
	// PerConnConnectedKiB is (Connected.RSS − Before.RSS) / connections.
	PerConnConnectedKiB float64 `json:"per_conn_connected_kib"`
}

func (m *Memory) compute(n int) {
	if n == 0 || m.Before == nil {
		return
	}
	if m.Idle != nil {
		m.PerConnKiB = round3(float64(m.Idle.RSSKiB-m.Before.RSSKiB) / float64(n))
	}
	if m.Connected != nil {
		m.PerConnConnectedKiB = round3(float64(m.Connected.RSSKiB-m.Before.RSSKiB) / float64(n))
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5*sign(f))) / 1000 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// SubsResult is what the scenario measured.
type SubsResult struct {
	URL string `json:"url"`
	// Users is the number of distinct tokens the subscriptions used.
	Users       int     `json:"users"`
	Protocol    string  `json:"protocol"`
	Subscribers int     `json:"subscribers"`
	Mutations   int     `json:"mutations"`
	Rate        float64 `json:"rate"`
	Started     string  `json:"started"`

	Connected       int      `json:"connected"`
	ConnectFailures int      `json:"connect_failures"`
	ConnectErrors   []string `json:"connect_errors,omitempty"`
	ConnectSeconds  float64  `json:"connect_seconds"`
	// LiveSeconds is from the first warm-up mutation until every connected
	// subscriber had received an event.
	LiveSeconds     float64 `json:"live_seconds"`
	NotLive         int     `json:"not_live"`
	WarmupMutations int     `json:"warmup_mutations"`

	Server *Memory `json:"server,omitempty"`
	Client Memory  `json:"client"`

	MutationsOK     int      `json:"mutations_ok"`
	MutationsFailed int      `json:"mutations_failed"`
	MutationErrors  []string `json:"mutation_errors,omitempty"`
	// MutationLatency is request sent → response received.
	MutationLatency Summary `json:"mutation_latency"`
	// AllReceived is, per mutation, the time from the event's `at` until
	// the last subscriber received it ("receipt by all subscribers").
	AllReceived Summary `json:"commit_to_all_received"`
	// Deliveries is `at` → receipt of every single delivery.
	Deliveries Summary `json:"commit_to_each_delivery"`
	// FromRequest is, per mutation, from the request being sent until the
	// last subscriber received the event.
	FromRequest Summary `json:"request_to_all_received"`

	Expected   int `json:"deliveries_expected"`
	Delivered  int `json:"deliveries_received"`
	Missed     int `json:"deliveries_missed"`
	Duplicates int `json:"deliveries_duplicate"`
	// Unmatched deliveries carry no title of this run (other writers).
	Unmatched int `json:"deliveries_unmatched"`
	// NegativeDelays are deliveries received before their `at` (clock trouble).
	NegativeDelays int `json:"negative_delays"`
	// SubscriptionErrors are GraphQL errors delivered on a subscription.
	SubscriptionErrors int `json:"subscription_errors"`
	// Dropped connections ended before the run did.
	Dropped    int      `json:"dropped"`
	DropErrors []string `json:"drop_errors,omitempty"`

	// Violations are the targets (MaxP99, MaxKiBPerConn) the run missed.
	Violations []string `json:"violations,omitempty"`

	// CPU used during the measured mutations (ms of CPU time).
	ServerCPUms int64   `json:"server_cpu_ms"`
	ClientCPUms int64   `json:"client_cpu_ms"`
	PhaseSecs   float64 `json:"measured_phase_seconds"`
}

// OK tells whether the run met its own correctness conditions: every
// subscriber connected and live, every mutation succeeded and every
// delivery arrived.
func (r *SubsResult) OK() bool {
	return r.Complete() && len(r.Violations) == 0
}

// Complete reports whether the run delivered everything, whatever its speed.
func (r *SubsResult) Complete() bool {
	return r.ConnectFailures == 0 && r.NotLive == 0 && r.MutationsFailed == 0 && r.Missed == 0 &&
		r.Dropped == 0 && r.SubscriptionErrors == 0
}

type receipt struct {
	mut  int32 // mutation index; -1 warm-up; -2 not of this run
	recv int64 // unix ns
	at   int64 // unix ns
}

type subscriber struct {
	conn *websocket.Conn
	recv []receipt
	err  error // why the reader ended early
	live bool
}

// wsMsg is a message of either protocol, with the payload of a ticketEvents result.
type wsMsg struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Payload struct {
		Data struct {
			TicketEvents *struct {
				Cursor  string    `json:"cursor"`
				At      time.Time `json:"at"`
				Changes []struct {
					Field string          `json:"field"`
					To    json.RawMessage `json:"to"`
				} `json:"changes"`
			} `json:"ticketEvents"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	} `json:"payload"`
}

type run struct {
	cfg    SubsConfig
	prefix string // title prefix of this run
	subs   []*subscriber

	live      atomic.Int64 // subscribers that received an event
	measured  atomic.Int64 // deliveries of measured mutations
	dropped   atomic.Int64
	subErrors atomic.Int64
	closing   atomic.Bool
	readers   sync.WaitGroup

	mu         sync.Mutex
	dropErrors map[string]int
}

// RunSubscriptions runs the scenario: connect, warm up, measure memory,
// mutate at the rate, collect the deliveries.
func RunSubscriptions(ctx context.Context, cfg SubsConfig) (*SubsResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var rid [4]byte
	_, _ = rand.Read(rid[:])
	r := &run{cfg: cfg, prefix: "socdesk-bench " + hex.EncodeToString(rid[:]) + " ", dropErrors: map[string]int{}}
	res := &SubsResult{URL: cfg.URL, Users: max(1, min(len(cfg.SubscriberTokens), cfg.Subscribers)), Protocol: cfg.Protocol, Subscribers: cfg.Subscribers, Mutations: cfg.Mutations,
		Rate: cfg.Rate, Started: time.Now().UTC().Format(time.RFC3339)}
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Log, format+"\n", a...) }

	wsURL, err := websocketURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	gql := newGQLClient(cfg.URL, cfg.Token)

	// Warm the HTTP path (auth, parsing, the database) and create the ticket.
	ticketID, _, err := gql.benchTicket(ctx, r.prefix+"ticket")
	if err != nil {
		return nil, err
	}
	for i := range 3 {
		if err := gql.setTitle(ctx, ticketID, r.prefix+"http-warmup "+strconv.Itoa(i)); err != nil {
			return nil, fmt.Errorf("updating the benchmark ticket: %w", err)
		}
	}
	logf("benchmark ticket %s created; title prefix %q", ticketID, r.prefix)

	readServer := func() *ProcStat {
		if cfg.ServerPID == 0 {
			return nil
		}
		ps, err := ReadProc(cfg.ServerPID)
		if err != nil {
			logf("reading the server's /proc: %v", err)
			return nil
		}
		return &ps
	}
	readClient := func() *ProcStat {
		runtime.GC()
		ps, err := ReadProc(0)
		if err != nil {
			return nil
		}
		return &ps
	}
	if cfg.ServerPID != 0 {
		res.Server = &Memory{}
	}
	time.Sleep(500 * time.Millisecond)
	if res.Server != nil {
		res.Server.Before = readServer()
	}
	res.Client.Before = readClient()

	// Connect.
	t0 := time.Now()
	r.subs = make([]*subscriber, cfg.Subscribers)
	connErrs := map[string]int{}
	var connMu sync.Mutex
	var failures, connected atomic.Int64
	jobs := make(chan int)
	var workers sync.WaitGroup
	dialer := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		Subprotocols:     []string{cfg.Protocol},
	}
	for range cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				tok := cfg.Token
				if len(cfg.SubscriberTokens) > 0 {
					tok = cfg.SubscriberTokens[i%len(cfg.SubscriberTokens)]
				}
				var h http.Header
				if cfg.UpgradeAuth {
					h = http.Header{"Authorization": {"Bearer " + tok}}
				}
				s, err := r.connect(ctx, dialer, wsURL, h, tok)
				if err != nil {
					failures.Add(1)
					connMu.Lock()
					connErrs[errKey(err)]++
					connMu.Unlock()
					continue
				}
				r.subs[i] = s
				connected.Add(1)
				r.readers.Add(1)
				go r.read(s)
			}
		}()
	}
	stopProgress := r.progress("connecting", func() string {
		return fmt.Sprintf("%d connected, %d failed", connected.Load(), failures.Load())
	})
feed:
	for i := range cfg.Subscribers {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	workers.Wait()
	stopProgress()
	res.ConnectSeconds = round3(time.Since(t0).Seconds())
	live := r.subs[:0:0]
	for _, s := range r.subs {
		if s != nil {
			live = append(live, s)
		}
	}
	r.subs = live
	res.Connected = len(r.subs)
	res.ConnectFailures = int(failures.Load())
	res.ConnectErrors = topErrors(connErrs)
	logf("connected %d/%d in %.1fs (%d failed)", res.Connected, cfg.Subscribers, res.ConnectSeconds, res.ConnectFailures)
	defer r.closeAll()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Connected == 0 {
		return res, fmt.Errorf("no connection could be opened: %v", res.ConnectErrors)
	}
	time.Sleep(cfg.Settle)
	if res.Server != nil {
		res.Server.Connected = readServer()
	}
	res.Client.Connected = readClient()

	// Warm up until every subscriber has received an event: the server
	// says nothing when a subscription starts.
	t1 := time.Now()
	deadline := t1.Add(cfg.LiveTimeout)
	// Dropped subscribers (refused or failed) will not become live.
	waiting := func() bool { return int(r.live.Load()+r.dropped.Load()) < res.Connected }
	for waiting() && time.Now().Before(deadline) && ctx.Err() == nil {
		if err := gql.setTitle(ctx, ticketID, r.prefix+"w"+strconv.Itoa(res.WarmupMutations)); err != nil {
			return res, fmt.Errorf("warm-up mutation: %w", err)
		}
		res.WarmupMutations++
		wait := time.Now().Add(time.Second)
		for waiting() && time.Now().Before(wait) {
			time.Sleep(5 * time.Millisecond)
		}
		logf("warm-up %d: %d/%d subscribers live", res.WarmupMutations, r.live.Load(), res.Connected)
	}
	res.LiveSeconds = round3(time.Since(t1).Seconds())
	res.NotLive = res.Connected - int(r.live.Load())
	if res.NotLive > 0 {
		logf("%d subscribers received no warm-up event (%d connections dropped)", res.NotLive, r.dropped.Load())
	}
	time.Sleep(cfg.Settle)
	if res.Server != nil {
		res.Server.Idle = readServer()
	}
	res.Client.Idle = readClient()
	if res.Server != nil {
		res.Server.compute(res.Connected)
		if res.Server.Idle != nil {
			logf("server RSS %d KiB idle: %.1f KiB per subscriber", res.Server.Idle.RSSKiB, res.Server.PerConnKiB)
		}
	}
	res.Client.compute(res.Connected)

	// Measure.
	cpu0s, cpu0c := readServer(), readClient()
	type mutation struct {
		sent, done time.Time
		err        error
	}
	muts := make([]mutation, cfg.Mutations)
	period := time.Duration(float64(time.Second) / cfg.Rate)
	var mwg sync.WaitGroup
	t2 := time.Now()
	logf("measuring: %d mutations at %g/s", cfg.Mutations, cfg.Rate)
	for i := range cfg.Mutations {
		if d := time.Until(t2.Add(time.Duration(i) * period)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			muts[i].err = ctx.Err()
			continue
		}
		mwg.Add(1)
		go func(i int) {
			defer mwg.Done()
			m := &muts[i]
			m.sent = time.Now()
			m.err = gql.setTitle(ctx, ticketID, r.prefix+"m"+strconv.Itoa(i))
			m.done = time.Now()
		}(i)
	}
	mwg.Wait()
	okMuts := 0
	for _, m := range muts {
		if m.err == nil {
			okMuts++
		}
	}
	want := int64(okMuts * res.Connected)
	drainUntil := time.Now().Add(cfg.DrainTimeout)
	for r.measured.Load() < want && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	res.PhaseSecs = round3(time.Since(t2).Seconds())
	cpu1s, cpu1c := readServer(), readClient()
	if cpu0s != nil && cpu1s != nil {
		res.ServerCPUms = cpu1s.CPUms - cpu0s.CPUms
	}
	if cpu0c != nil && cpu1c != nil {
		res.ClientCPUms = cpu1c.CPUms - cpu0c.CPUms
	}
	if res.Server != nil {
		res.Server.After = cpu1s
	}
	res.Client.After = cpu1c
	logf("measured phase done: %d/%d deliveries", r.measured.Load(), want)

	// Stop the readers before looking at what they recorded.
	r.closeAll()

	mutErrs := map[string]int{}
	var lat []time.Duration
	for _, m := range muts {
		if m.err != nil {
			res.MutationsFailed++
			mutErrs[errKey(m.err)]++
			continue
		}
		res.MutationsOK++
		lat = append(lat, m.done.Sub(m.sent))
	}
	res.MutationErrors = topErrors(mutErrs)
	res.MutationLatency = Summarize(lat)

	type agg struct {
		n          int
		maxDelay   time.Duration
		maxFromReq time.Duration
	}
	per := make([]agg, cfg.Mutations)
	var deliveries []time.Duration
	seen := make([]bool, cfg.Mutations)
	for _, s := range r.subs {
		clear(seen)
		for _, rc := range s.recv {
			switch {
			case rc.mut == -1:
				continue
			case rc.mut < 0 || int(rc.mut) >= cfg.Mutations:
				res.Unmatched++
				continue
			}
			if seen[rc.mut] {
				res.Duplicates++
				continue
			}
			seen[rc.mut] = true
			m := muts[rc.mut]
			d := time.Duration(rc.recv - rc.at)
			if d < 0 {
				res.NegativeDelays++
			}
			deliveries = append(deliveries, d)
			a := &per[rc.mut]
			a.n++
			a.maxDelay = max(a.maxDelay, d)
			if !m.sent.IsZero() {
				a.maxFromReq = max(a.maxFromReq, time.Duration(rc.recv-m.sent.UnixNano()))
			}
		}
	}
	var all, fromReq []time.Duration
	for i, a := range per {
		if muts[i].err != nil {
			continue
		}
		res.Expected += res.Connected
		res.Delivered += a.n
		res.Missed += res.Connected - a.n
		if a.n > 0 {
			all = append(all, a.maxDelay)
			fromReq = append(fromReq, a.maxFromReq)
		}
	}
	res.AllReceived = Summarize(all)
	res.FromRequest = Summarize(fromReq)
	res.Deliveries = Summarize(deliveries)
	res.SubscriptionErrors = int(r.subErrors.Load())
	res.Dropped = int(r.dropped.Load())
	res.DropErrors = topErrors(r.dropErrors)
	if cfg.MaxP99 > 0 && res.AllReceived.P99MS > ms(cfg.MaxP99) {
		res.Violations = append(res.Violations, fmt.Sprintf("commit → received by all p99 %.1f ms > %s", res.AllReceived.P99MS, cfg.MaxP99))
	}
	if cfg.MaxKiBPerConn > 0 {
		switch {
		case res.Server == nil || res.Server.Idle == nil:
			res.Violations = append(res.Violations, "server memory per subscriber not measured (no server pid)")
		case res.Server.PerConnKiB > cfg.MaxKiBPerConn:
			res.Violations = append(res.Violations, fmt.Sprintf("server memory %.1f KiB per live idle subscriber > %g KiB", res.Server.PerConnKiB, cfg.MaxKiBPerConn))
		}
	}
	return res, nil
}

// connect opens one connection and starts its subscription.
func (r *run) connect(ctx context.Context, d *websocket.Dialer, wsURL string, h http.Header, token string) (*subscriber, error) {
	c, resp, err := d.DialContext(ctx, wsURL, h)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			resp.Body.Close()
			return nil, fmt.Errorf("upgrade refused: HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil, err
	}
	if c.Subprotocol() != r.cfg.Protocol {
		c.Close()
		return nil, fmt.Errorf("server chose subprotocol %q, not %q", c.Subprotocol(), r.cfg.Protocol)
	}
	fail := func(err error) (*subscriber, error) {
		c.Close()
		return nil, err
	}
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"token": token}})
	if err := c.WriteMessage(websocket.TextMessage, init); err != nil {
		return fail(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for acked := false; !acked; {
		_, b, err := c.ReadMessage()
		if err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		switch m.Type {
		case "connection_ack":
			acked = true
		case "ping":
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`)); err != nil {
				return fail(err)
			}
		case "pong", "ka":
		default:
			return fail(fmt.Errorf("waiting for connection_ack, got %s", truncate(string(b), 200)))
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	typ := "subscribe"
	if r.cfg.Protocol == "graphql-ws" {
		typ = "start"
	}
	payload := map[string]any{"query": SubscriptionQuery}
	if r.cfg.Filter != "" {
		payload["variables"] = map[string]any{"f": json.RawMessage(r.cfg.Filter)}
	}
	sub, _ := json.Marshal(map[string]any{"id": "1", "type": typ, "payload": payload})
	if err := c.WriteMessage(websocket.TextMessage, sub); err != nil {
		return fail(err)
	}
	return &subscriber{conn: c, recv: make([]receipt, 0, r.cfg.Mutations+8)}, nil
}

// read records the events of one connection until it closes.
func (r *run) read(s *subscriber) {
	defer r.readers.Done()
	var m wsMsg
	for {
		_, b, err := s.conn.ReadMessage()
		now := time.Now()
		if err != nil {
			if !r.closing.Load() {
				r.drop(s, err)
			}
			return
		}
		m = wsMsg{}
		if err := json.Unmarshal(b, &m); err != nil {
			// An "error" message's payload is a list of errors, not a result.
			var e struct {
				Type    string     `json:"type"`
				Payload []gqlError `json:"payload"`
			}
			if json.Unmarshal(b, &e) == nil && e.Type == "error" && len(e.Payload) > 0 {
				r.subErrors.Add(1)
				r.drop(s, fmt.Errorf("error message: %s (%v)", e.Payload[0].Message, e.Payload[0].Extensions["code"]))
			} else {
				r.drop(s, fmt.Errorf("undecodable message %s: %w", truncate(string(b), 100), err))
			}
			continue
		}
		switch m.Type {
		case "next", "data":
			if len(m.Payload.Errors) > 0 {
				r.subErrors.Add(1)
				r.drop(s, fmt.Errorf("subscription error: %s (%v)", m.Payload.Errors[0].Message, m.Payload.Errors[0].Extensions["code"]))
				continue
			}
			ev := m.Payload.Data.TicketEvents
			if ev == nil {
				continue
			}
			rc := receipt{mut: -2, recv: now.UnixNano(), at: ev.At.UnixNano()}
			for _, ch := range ev.Changes {
				if ch.Field != "title" {
					continue
				}
				var title string
				if json.Unmarshal(ch.To, &title) == nil {
					rc.mut = r.mutationOf(title)
				}
			}
			s.recv = append(s.recv, rc)
			if !s.live {
				s.live = true
				r.live.Add(1)
			}
			if rc.mut >= 0 {
				r.measured.Add(1)
			}
		case "ping":
			_ = s.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
		case "pong", "ka":
		case "error":
			r.subErrors.Add(1)
			r.drop(s, fmt.Errorf("error message: %s", truncate(string(b), 200)))
			return
		case "complete":
			r.drop(s, errors.New("the server completed the subscription"))
			return
		default:
			r.drop(s, fmt.Errorf("unexpected message: %s", truncate(string(b), 200)))
		}
	}
}

// mutationOf returns the mutation index a title of this run stands for: -1
// for a warm-up, -2 for a title not of this run.
func (r *run) mutationOf(title string) int32 {
	rest, ok := strings.CutPrefix(title, r.prefix)
	if !ok || rest == "" {
		return -2
	}
	switch rest[0] {
	case 'm':
		if n, err := strconv.Atoi(rest[1:]); err == nil && n >= 0 {
			return int32(n)
		}
	case 'w':
		return -1
	}
	return -2
}

func (r *run) drop(s *subscriber, err error) {
	if s.err == nil {
		s.err = err
		r.dropped.Add(1)
	}
	r.mu.Lock()
	r.dropErrors[errKey(err)]++
	r.mu.Unlock()
}

// closeAll closes every connection (with a close frame) and waits for the
// readers to end. It may be called more than once.
func (r *run) closeAll() {
	if r.closing.Swap(true) {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(r.cfg.Concurrency, 1))
	for _, s := range r.subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = s.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
			_ = s.conn.Close()
		}()
	}
	wg.Wait()
	r.readers.Wait()
}

// progress prints a line a second while a phase runs; the returned func stops it.
func (r *run) progress(what string, status func() string) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(stopped)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(r.cfg.Log, "%s… %s, %s\n", what, time.Since(start).Round(time.Second), status())
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func websocketURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("the URL must be http://host:port, not %q", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/graphql") + "/graphql"
	return u.String(), nil
}

// errKey shortens an error to group equal ones (without port numbers).
func errKey(err error) string {
	s := err.Error()
	// "dial tcp 127.0.0.1:41234->127.0.0.1:8080: …": drop the local address.
	if i := strings.Index(s, "->"); i >= 0 {
		if j := strings.LastIndex(s[:i], " "); j >= 0 {
			s = s[:j+1] + s[i+2:]
		}
	}
	return truncate(s, 200)
}

// topErrors lists up to five of the errors, most frequent first, with counts.
func topErrors(m map[string]int) []string {
	type kv struct {
		k string
		n int
	}
	var l []kv
	for k, n := range m {
		l = append(l, kv{k, n})
	}
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].n > l[i].n || l[j].n == l[i].n && l[j].k < l[i].k {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	var out []string
	for i, e := range l {
		if i == 5 {
			break
		}
		out = append(out, fmt.Sprintf("%d× %s", e.n, e.k))
	}
	return out
}

// Print writes the result as a readable table.
func (r *SubsResult) Print(w io.Writer) {
	fmt.Fprintf(w, "\nsocdesk-bench subscriptions: %d subscribers (%s, %d user(s)) on %s, %d mutations at %g/s\n\n",
		r.Subscribers, r.Protocol, r.Users, r.URL, r.Mutations, r.Rate)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	connRate := 0.0
	if r.ConnectSeconds > 0 {
		connRate = float64(r.Connected) / r.ConnectSeconds
	}
	fmt.Fprintf(tw, "connected\t%d/%d in %.2fs (%.0f/s), %d failed\n", r.Connected, r.Subscribers, r.ConnectSeconds, connRate, r.ConnectFailures)
	for _, e := range r.ConnectErrors {
		fmt.Fprintf(tw, "  connect error\t%s\n", e)
	}
	fmt.Fprintf(tw, "all live\tafter %d warm-up mutation(s), %.2fs; %d never received one\n", r.WarmupMutations, r.LiveSeconds, r.NotLive)
	printMem := func(who string, m *Memory) {
		if m == nil || m.Before == nil {
			fmt.Fprintf(tw, "%s memory\tnot measured (no -server-pid)\n", who)
			return
		}
		line := fmt.Sprintf("%s RSS\tbefore %s", who, mib(m.Before.RSSKiB))
		if m.Connected != nil {
			line += ", connected " + mib(m.Connected.RSSKiB)
		}
		if m.Idle != nil {
			line += ", live idle " + mib(m.Idle.RSSKiB)
		}
		if m.After != nil {
			line += fmt.Sprintf(", after mutations %s (peak %s)", mib(m.After.RSSKiB), mib(m.After.HWMKiB))
		}
		fmt.Fprintln(tw, line)
		fmt.Fprintf(tw, "%s per connection\t%.1f KiB live idle (%.1f KiB subscribed, before any event)\n", who, m.PerConnKiB, m.PerConnConnectedKiB)
		if m.Idle != nil {
			fmt.Fprintf(tw, "%s threads, fds\t%d threads, %d fds (live idle)\n", who, m.Idle.Threads, m.Idle.FDs)
		}
	}
	printMem("server", r.Server)
	printMem("client", &r.Client)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "latency (ms)\tn\tp50\tp90\tp99\tmax\tavg")
	row := func(name string, s Summary) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", name, s.Count, s.P50MS, s.P90MS, s.P99MS, s.MaxMS, s.AvgMS)
	}
	row("commit → received by all (per mutation)", r.AllReceived)
	row("commit → each delivery", r.Deliveries)
	row("request sent → received by all", r.FromRequest)
	row("mutation (request → response)", r.MutationLatency)
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "mutations\t%d ok, %d failed\n", r.MutationsOK, r.MutationsFailed)
	for _, e := range r.MutationErrors {
		fmt.Fprintf(tw, "  mutation error\t%s\n", e)
	}
	fmt.Fprintf(tw, "deliveries\t%d expected, %d received, %d missed, %d duplicate, %d unmatched, %d before their `at`\n",
		r.Expected, r.Delivered, r.Missed, r.Duplicates, r.Unmatched, r.NegativeDelays)
	fmt.Fprintf(tw, "connections dropped\t%d (subscription errors: %d)\n", r.Dropped, r.SubscriptionErrors)
	for _, e := range r.DropErrors {
		fmt.Fprintf(tw, "  drop reason\t%s\n", e)
	}
	if r.PhaseSecs > 0 {
		fmt.Fprintf(tw, "CPU in measured phase\tserver %.2fs (%.0f%% of a core), client %.2fs (%.0f%%) over %.1fs\n",
			float64(r.ServerCPUms)/1000, float64(r.ServerCPUms)/10/r.PhaseSecs,
			float64(r.ClientCPUms)/1000, float64(r.ClientCPUms)/10/r.PhaseSecs, r.PhaseSecs)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(tw, "target missed\t%s\n", v)
	}
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED (see connect failures, missed deliveries, drops, mutation errors or targets above)"
	}
	fmt.Fprintf(tw, "result\t%s\n", verdict)
	tw.Flush()
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
