package e2e_test

// Browser tests: the pages socdesk serves (GraphiQL, the wallboard) and a
// page of another origin, in Debian's headless chromium driven over the
// Chrome DevTools protocol (chromedp). Every request a page makes is
// recorded, so a test fails when one would leave the machine.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"socdesk/internal/devtools/testdb"
)

// browser is one headless chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	requests []string  // every URL a page asked for, websockets included
	attempts []attempt // when each websocket and POST /graphql was started
	refusals []string  // the Retry-After of each 429 answer
	wsFrames []string  // the payloads the pages sent over websockets
	problems []string  // uncaught exceptions and console errors
}

// attempt is a websocket opened or a POST /graphql sent by a page.
type attempt struct {
	at   time.Time
	what string
}

// attemptsSince are the attempts made at or after t.
func (b *browser) attemptsSince(t time.Time) []attempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []attempt
	for _, a := range b.attempts {
		if !a.at.Before(t) {
			out = append(out, a)
		}
	}
	return out
}

// chromiumPath is Debian's chromium, or one on PATH.
func chromiumPath() (string, error) {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return exec.LookPath("chromium")
}

// newBrowser starts chromium for t; it is closed when t ends. Without
// chromium the test is skipped, or failed under SOCDESK_REQUIRE_SERVICES=1.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		testdb.SkipOrFail(t, "chromium is not installed (apt-get install -y chromium): %v", err)
	}
	// The flags keep chromium from calling home: on a closed network its
	// background connections are refused, and they are none of the pages'.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(b.record))
	b.ctx = ctx
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Page-side record of Content-Security-Policy violations (a script
	// added through the protocol is not subject to the page's policy).
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	if err == nil {
		_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
	}
	if err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	return b
}

func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.Method+" "+ev.Request.URL)
		if ev.Request.Method == http.MethodPost && strings.HasSuffix(ev.Request.URL, "/graphql") {
			b.attempts = append(b.attempts, attempt{time.Now(), "POST " + ev.Request.URL})
		}
	case *network.EventResponseReceived:
		if ev.Response.Status == http.StatusTooManyRequests {
			ra, _ := ev.Response.Headers["Retry-After"].(string)
			b.refusals = append(b.refusals, ra)
		}
	case *network.EventWebSocketCreated:
		b.requests = append(b.requests, "WS "+ev.URL)
		b.attempts = append(b.attempts, attempt{time.Now(), "WS " + ev.URL})
	case *network.EventWebSocketFrameSent:
		b.wsFrames = append(b.wsFrames, string(ev.Response.PayloadData))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *cdplog.EventEntryAdded:
		// Network errors (a 401 before the token is given) are the
		// server's answers, checked by the tests themselves.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			b.problems = append(b.problems, "console: "+ev.Entry.Text)
		}
	}
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\n%s", err, b.report())
	}
}

// eval evaluates a JavaScript expression into out.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("browser: evaluating %s: %v\n%s", js, err, b.report())
	}
	return v
}

// waitJS waits until the expression is truthy, failing after timeout.
func (b *browser) waitJS(what, js string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		if err := b.tryScreenshot(b.t.Name() + "-failed"); err != nil {
			b.t.Logf("no screenshot of the failure: %v", err)
		}
		b.t.Fatalf("waiting %v for %s: %v\n%s", timeout, what, err, b.report())
	}
}

func (b *browser) report() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var reqs []string
	for _, r := range b.requests {
		if len(r) > 160 {
			r = r[:160] + "…"
		}
		reqs = append(reqs, r)
	}
	return fmt.Sprintf("requests:\n  %s\nproblems:\n  %s", strings.Join(reqs, "\n  "), strings.Join(b.problems, "\n  "))
}

// screenshot saves the page as PNG under the test artifacts directory
// ($SOCDESK_ARTIFACTS, or socdesk-artifacts in the temporary directory).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if err := b.tryScreenshot(name); err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
}

func (b *browser) tryScreenshot(name string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		return err
	}
	dir := os.Getenv("SOCDESK_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "socdesk-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	b.t.Logf("screenshot: %s", path)
	return nil
}

// checkLocal fails the test when a page asked for anything but origins,
// or when a page had an exception, a console error or a CSP violation.
func (b *browser) checkLocal(origins ...string) {
	b.t.Helper()
	csp := eval[[]string](b, `window.__csp || []`)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		b.t.Error("no request was recorded: the recorder is broken")
	}
	for _, r := range b.requests {
		_, u, _ := strings.Cut(r, " ")
		if strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "blob:") {
			continue
		}
		pu, err := url.Parse(u)
		local := false
		for _, o := range origins {
			ou, _ := url.Parse(o)
			local = local || (err == nil && pu.Host == ou.Host)
		}
		if !local {
			b.t.Errorf("a request left the server: %s", r)
		}
	}
	for _, p := range b.problems {
		b.t.Errorf("page problem: %s", p)
	}
	for _, v := range csp {
		b.t.Errorf("Content-Security-Policy violation: %s", v)
	}
}

// seedTickets makes n tickets through s and returns them, oldest first.
func seedTickets(t *testing.T, c *cluster, s *server, f fixture, prefix string, n int) []createdTicket {
	t.Helper()
	var out []createdTicket
	for i := 1; i <= n; i++ {
		tk, err := c.createTicket(s, f, fmt.Sprintf("%s %d", prefix, i))
		if err != nil {
			t.Fatalf("createTicket: %v", err)
		}
		out = append(out, tk)
	}
	return out
}

// TestBrowserGraphiQL: GraphiQL loads from the server alone, its header
// editor offers the Authorization header, a query runs with the token, and
// a subscription runs over websocket with the token in connection_init.
func TestBrowserGraphiQL(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t)
	s := c.start("a", "", nil)
	f := c.fixture(s)
	tickets := seedTickets(t, c, s, f, "GraphiQL seeded", 2)

	b.run(chromedp.Navigate(s.URL + "/"))
	b.waitJS("the GraphiQL editors", `document.querySelectorAll('.graphiql-container .CodeMirror').length >= 3`, 15*time.Second)
	// The editors are CodeMirror instances; a person types, the test sets.
	const editor = `[...document.querySelectorAll('.graphiql-container .CodeMirror')].map(e => e.CodeMirror)`
	headers := eval[string](b, editor+`.map(cm => cm.getValue()).find(v => v.includes('Authorization')) || ''`)
	var parsed map[string]string
	if err := json.Unmarshal([]byte(headers), &parsed); err != nil || parsed["Authorization"] != "Bearer " {
		t.Fatalf("header editor = %q, want it prefilled with {\"Authorization\": \"Bearer \"}", headers)
	}
	set := func(find, value string) {
		t.Helper()
		v, _ := json.Marshal(value)
		if !eval[bool](b, fmt.Sprintf(`(() => { const cm = %s.find(cm => %s); if (!cm) return false; cm.setValue(%s); return true })()`, editor, find, v)) {
			t.Fatalf("no editor for %s", find)
		}
	}
	set(`cm.getValue().includes('Authorization')`, `{"Authorization": "Bearer `+c.token+`"}`)
	// GraphiQL reads the operation from the editor a moment after an edit
	// (and keeps it in its stored tab state): run once it has.
	run := func(operation string) {
		t.Helper()
		b.waitJS("GraphiQL to see operation "+operation, `(localStorage.getItem('graphiql:tabState') || '').includes('"operationName":"`+operation+`"')`, 5*time.Second)
		b.run(chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	}
	set(`cm.getWrapperElement().closest('.graphiql-query-editor')`, `query Recent { tickets(first: 5) { edges { node { number title } } } }`)
	const result = `(document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() || '')`
	run("Recent")
	b.waitJS("the query's result", result+`.includes(`+strconv.Quote(tickets[1].Title)+`)`, 10*time.Second)

	// A subscription: changes are made until one shows (the first may
	// come before the server has the subscription: nothing is replayed).
	set(`cm.getWrapperElement().closest('.graphiql-query-editor')`, `subscription Changes { ticketEvents { kind ticket { number title } } }`)
	run("Changes")
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		title := fmt.Sprintf("renamed live %d", i)
		if err := c.rename(s, tickets[0].ID, title); err != nil {
			t.Fatal(err)
		}
		got := eval[string](b, result)
		if strings.Contains(got, "renamed live") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscription showed no change in 15 s; result pane: %q\n%s", got, b.report())
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot("graphiql-subscription")

	b.mu.Lock()
	var ws, init string
	for _, r := range b.requests {
		if strings.HasPrefix(r, "WS ") {
			ws = r
		}
	}
	if len(b.wsFrames) > 0 {
		init = b.wsFrames[0]
	}
	b.mu.Unlock()
	if ws != "WS ws"+strings.TrimPrefix(s.URL, "http")+"/graphql" {
		t.Errorf("websocket = %q, want the server's /graphql", ws)
	}
	var msg struct {
		Type    string            `json:"type"`
		Payload map[string]string `json:"payload"`
	}
	if err := json.Unmarshal([]byte(init), &msg); err != nil || msg.Type != "connection_init" || msg.Payload["Authorization"] != "Bearer "+c.token {
		t.Errorf("first websocket message = %q, want connection_init with the header editor's Authorization", init)
	}
	// The token is kept: a new visit has it in the header editor.
	b.run(chromedp.Navigate(s.URL + "/"))
	b.waitJS("the header editor with the token after a reload", editor+`.some(cm => cm.getValue().includes(`+strconv.Quote(c.token)+`))`, 15*time.Second)
	b.checkLocal(s.URL)
}

// TestBrowserWallboard: the wallboard shows the seeded tickets of the
// filter in its URL, a change made over HTTP shows in the list and the
// chart within 2 s, the legend hides a series, and after its server is
// restarted the page catches up with what changed meanwhile, without a
// reload.
func TestBrowserWallboard(t *testing.T) {
	b := newBrowser(t)
	redisURL := sharedRedis(t)
	c := newCluster(t)
	port := freePort(t)
	s := c.startAt("wallboard", port, redisURL, nil)
	writer := c.start("writer", redisURL, nil) // changes made while s is down
	f := c.fixture(s)
	seeded := seedTickets(t, c, s, f, "Seeded", 3)
	var other struct {
		CreateSite struct{ ID string } `json:"createSite"`
	}
	if err := s.gql(c.token, `mutation { createSite(input: {name: "Branch"}) { id } }`, nil, &other); err != nil {
		t.Fatal(err)
	}
	hidden, err := c.createTicket(s, fixture{site: other.CreateSite.ID, category: f.category}, "Other site")
	if err != nil {
		t.Fatal(err)
	}

	board := s.URL + "/wallboard?sites=" + url.QueryEscape(f.site)
	login := func(token string) {
		t.Helper()
		b.run(chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), token),
			chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	}
	// A wrong token is refused and asked again, and not kept.
	b.run(chromedp.Navigate(board))
	login("sdk_not_a_token_of_this_server_0123456789")
	b.waitJS("the refusal", `!document.getElementById('login').hidden && document.getElementById('login-error').textContent.includes('refused') && !sessionStorage.getItem('socdesk.wallboard.token')`, 10*time.Second)
	login(c.token)
	const live = `document.getElementById('connection').dataset.state === 'live'`
	rows := func() []int {
		return eval[[]int](b, `[...document.querySelectorAll('#tickets tbody tr')].map(tr => +tr.dataset.number)`)
	}
	const todayTotal = `(() => { const c = Chart.getChart('trend'); if (!c) return -1; const i = c.data.labels.length - 1;
		return c.data.datasets.reduce((s, d) => s + (d.data[i] || 0), 0) })()`
	b.waitJS("the seeded tickets", live+` && document.querySelectorAll('#tickets tbody tr').length === 3 && `+todayTotal+` === 3`, 15*time.Second)
	if got, want := rows(), []int{seeded[2].Number, seeded[1].Number, seeded[0].Number}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows = %v, want the seeded tickets newest first %v (not #%d of another site)", got, want, hidden.Number)
	}
	// The token is given once: a reload asks for nothing.
	if stored := eval[string](b, `sessionStorage.getItem('socdesk.wallboard.token') || ''`); stored != c.token {
		t.Fatalf("session storage holds %q, want the token", stored)
	}
	b.run(chromedp.Reload())
	b.waitJS("the board after a reload", live+` && document.querySelectorAll('#tickets tbody tr').length === 3 && document.getElementById('login').hidden`, 15*time.Second)
	selected := eval[[]string](b, `[...document.querySelector('#filter select[name=sites]').selectedOptions].map(o => o.value)`)
	if len(selected) != 1 || selected[0] != f.site {
		t.Errorf("site filter shows %v selected, want the URL's [%s]", selected, f.site)
	}

	// A mutation over HTTP: in the list and the chart within 2 s.
	start := time.Now()
	made, err := c.createTicket(s, f, "Made over HTTP")
	if err != nil {
		t.Fatal(err)
	}
	b.waitJS("the new ticket in the list", fmt.Sprintf(`+document.querySelector('#tickets tbody tr')?.dataset.number === %d`, made.Number), 2*time.Second)
	inList := time.Since(start)
	b.waitJS("the new ticket in the chart", todayTotal+` === 4`, 2*time.Second-inList)
	t.Logf("HTTP mutation (createTicket) to the wallboard: in the list after %v, in the chart after %v",
		inList.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// The legend lists the statuses the days have (here TRIAGE alone); a
	// click on an entry hides its series, a second click shows it again.
	legend := eval[[]string](b, `Chart.getChart('trend').legend.legendItems.map(i => i.text)`)
	if len(legend) != 1 || legend[0] != "Triage" {
		t.Errorf("legend = %q, want [Triage]", legend)
	}
	box := eval[struct{ X, Y float64 }](b, `(() => { const c = Chart.getChart('trend'); const h = c.legend.legendHitBoxes[0]; const r = c.canvas.getBoundingClientRect();
		return {x: r.left + h.left + h.width / 2, y: r.top + h.top + h.height / 2} })()`)
	const triageShown = `Chart.getChart('trend').isDatasetVisible(Chart.getChart('trend').legend.legendItems[0].datasetIndex)`
	b.run(chromedp.MouseClickXY(box.X, box.Y))
	b.waitJS("the series hidden by its legend entry", `!`+triageShown, 2*time.Second)
	b.screenshot("wallboard-triage-hidden")
	b.run(chromedp.MouseClickXY(box.X, box.Y))
	b.waitJS("the series shown again", triageShown, 2*time.Second)
	b.screenshot("wallboard")

	// The filter is chosen on the page too, and kept in the URL: no ticket
	// of the site is in ANALYSIS; "All" brings them back.
	eval[bool](b, `(() => { const s = document.querySelector('#filter select[name=statuses]');
		[...s.options].forEach(o => o.selected = o.value === 'ANALYSIS'); s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
	b.waitJS("the ANALYSIS filter", live+` && location.search.includes('statuses=ANALYSIS') && location.search.includes('sites=') &&
		document.querySelectorAll('#tickets tbody tr').length === 0 && !document.getElementById('empty').hidden && `+todayTotal+` === 0`, 10*time.Second)
	b.run(chromedp.Click(chromedp.CSS(`#filter button[type=reset]`)))
	b.waitJS("the filter reset", live+` && location.search === '' && document.querySelectorAll('#tickets tbody tr').length === 5`, 10*time.Second)
	// Back to the bookmarked board.
	b.run(chromedp.Navigate(board))
	b.waitJS("the bookmarked board", live+` && document.querySelectorAll('#tickets tbody tr').length === 4 && `+todayTotal+` === 4`, 15*time.Second)

	// Restart: the page's server goes away, changes are made elsewhere,
	// the server comes back on its port and the page catches up.
	eval[bool](b, `window.__sameDocument = true`)
	if err := s.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the board noticing its server is gone", `!(`+live+`)`, 5*time.Second)
	whileDown, err := c.createTicket(writer, f, "Made while the board's server was down")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.rename(writer, seeded[0].ID, "Renamed while down"); err != nil {
		t.Fatal(err)
	}
	c.startAt("wallboard again", port, redisURL, nil)
	back := time.Now()
	b.waitJS("the board catching up", fmt.Sprintf(`%s && window.__sameDocument && +document.querySelector('#tickets tbody tr')?.dataset.number === %d && %s === 5 &&
		[...document.querySelectorAll('#tickets tbody tr')].some(tr => tr.textContent.includes('Renamed while down'))`, live, whileDown.Number, todayTotal), 20*time.Second)
	t.Logf("server restart: the board caught up %v after the server was ready again", time.Since(back).Round(time.Millisecond))
	b.screenshot("wallboard-after-restart")
	b.checkLocal(s.URL)
}

// TestBrowserWallboardNetworkDrop: the network between the board and its
// server goes silent (no close, no reset: a pulled cable); the board
// notices by its unanswered pings, reconnects and resumes after its last
// cursor, with the change made meanwhile.
func TestBrowserWallboardNetworkDrop(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t)
	s := c.start("a", "", nil)
	f := c.fixture(s)
	seedTickets(t, c, s, f, "Seeded", 2)
	p := startSilencer(t, strings.TrimPrefix(s.URL, "http://"))

	b.run(chromedp.Navigate(p.URL+"/wallboard"), chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), c.token),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	const live = `document.getElementById('connection').dataset.state === 'live'`
	const first = `+document.querySelector('#tickets tbody tr')?.dataset.number`
	b.waitJS("the seeded tickets", live+` && document.querySelectorAll('#tickets tbody tr').length === 2`, 15*time.Second)
	// One live change, so that the board holds a cursor.
	before, err := c.createTicket(s, f, "Before the drop")
	if err != nil {
		t.Fatal(err)
	}
	b.waitJS("the change before the drop", fmt.Sprintf(`%s === %d`, first, before.Number), 5*time.Second)
	eval[bool](b, `window.__sameDocument = true`)

	p.silence()
	cut := time.Now()
	during, err := c.createTicket(s, f, "Made during the drop")
	if err != nil {
		t.Fatal(err)
	}
	b.waitJS("the board noticing the silence", `!(`+live+`)`, 20*time.Second)
	noticed := time.Since(cut)
	// Its reconnection backs off (graphql-ws's retry wait grows with each
	// attempt), so on a loaded machine catching up may take a while.
	b.waitJS("the board catching up", fmt.Sprintf(`%s && window.__sameDocument && %s === %d && document.querySelectorAll('#tickets tbody tr').length === 4`, live, first, during.Number), 30*time.Second)
	t.Logf("silent network drop: noticed after %v, caught up after %v", noticed.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond))
	b.screenshot("wallboard-after-network-drop")
	b.checkLocal(p.URL)
}

// recordStatuses makes the page keep every text its connection status
// shows, from now on, in window.__statuses.
func recordStatuses(b *browser) {
	b.t.Helper()
	eval[bool](b, `(() => { const el = document.getElementById('connection'); window.__statuses = [el.textContent];
		new MutationObserver(() => window.__statuses.push(el.textContent)).observe(el, {childList: true, characterData: true, subtree: true});
		return true })()`)
}

// loginWallboard opens the wallboard of s and gives it the token.
func loginWallboard(b *browser, url, token string) {
	b.t.Helper()
	b.run(chromedp.Navigate(url+"/wallboard"), chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), token),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
}

// TestBrowserWallboardServerKilled: when its server is killed, the board
// says what happened to its connection (the close and its code, then that
// it cannot connect), never a JavaScript object's name.
func TestBrowserWallboardServerKilled(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t)
	s := c.start("a", "", nil)
	seedTickets(t, c, s, c.fixture(s), "Seeded", 1)
	loginWallboard(b, s.URL, c.token)
	// Live, and its list loaded: a list request the kill cut short would
	// tell of itself ("Failed to fetch") before the connection's close.
	b.waitJS("the live board with its list", `document.getElementById('connection').dataset.state === 'live' && document.querySelectorAll('#tickets tbody tr').length === 1`, 15*time.Second)
	recordStatuses(b)
	s.kill()
	// The first text is of the close, the next of a reconnect refused.
	const shown = `window.__statuses.filter(s => s.startsWith('reconnecting… ('))`
	b.waitJS("two failed reconnects", shown+`.length >= 2`, 10*time.Second)
	statuses := eval[[]string](b, shown)
	t.Logf("statuses after the kill: %q", statuses)
	for _, st := range statuses {
		if strings.Contains(st, "[object") {
			t.Errorf("status %q names a JavaScript object, not what happened", st)
		}
	}
	if !strings.Contains(statuses[0], "connection closed (code 1006)") {
		t.Errorf("status after the kill = %q, want the close and its code (1006)", statuses[0])
	}
	b.screenshot("wallboard-server-killed")
	b.checkLocal(s.URL)
}

// TestBrowserWallboardOverBudget: under a rate budget smaller than the
// board's list query costs (300 points; the list costs some 650), the
// board shows the server's message and stops: it does not reconnect, nor
// ask again, while the message stands (5 s watched).
func TestBrowserWallboardOverBudget(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t)
	s := c.start("a", "", map[string]string{"SOCDESK_RATE_POINTS": "300"})
	start := time.Now()
	loginWallboard(b, s.URL, c.token)
	const status = `document.getElementById('connection')`
	b.waitJS("the server's refusal", status+`.textContent.includes('more than the whole budget')`, 15*time.Second)
	shown := time.Now()
	time.Sleep(5 * time.Second)
	all := b.attemptsSince(start)
	var later []string
	for _, a := range b.attemptsSince(shown) {
		later = append(later, a.what)
	}
	ws := 0
	for _, a := range all {
		if strings.HasPrefix(a.what, "WS ") {
			ws++
		}
	}
	t.Logf("attempts: %d (%d websockets) in all, %d in the 5 s after the message", len(all), ws, len(later))
	if len(later) > 0 || ws > 2 {
		t.Errorf("the board kept trying an operation that can never run: %d websockets in all, %d attempts in the 5 s after the message: %q", ws, len(later), later)
	}
	text := eval[string](b, status+`.textContent`)
	if st := eval[string](b, status+`.dataset.state`); st != "failed" || !strings.HasPrefix(text, "rate limited: this operation costs") {
		t.Errorf("status = %s %q, want failed with the server's message alone", st, text)
	}
	b.screenshot("wallboard-over-budget")
	b.checkLocal(s.URL)
}

// TestBrowserWallboardRateLimited: under a budget that the board's list
// fits in once but not twice in a row (1000 points per 10 s; the board
// reads its list twice when it connects), the board says "rate limited:
// retrying in Ns" and waits at least the server's retryAfter before it
// tries again, then comes back live.
func TestBrowserWallboardRateLimited(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t)
	s := c.start("a", "", map[string]string{"SOCDESK_RATE_POINTS": "1000", "SOCDESK_RATE_WINDOW": "10s"})
	loginWallboard(b, s.URL, c.token)
	const status = `document.getElementById('connection')`
	b.waitJS("the board live", status+`.dataset.state === 'live'`, 15*time.Second)
	recordStatuses(b)
	b.waitJS("the countdown", status+`.dataset.state === 'limited'`, 10*time.Second)
	limited := time.Now()
	text := eval[string](b, status+`.textContent`)
	var n int
	if _, err := fmt.Sscanf(text, "rate limited: retrying in %ds", &n); err != nil || n < 1 {
		t.Fatalf("status = %q, want \"rate limited: retrying in Ns\"", text)
	}
	b.mu.Lock()
	refusals := append([]string(nil), b.refusals...)
	b.mu.Unlock()
	if len(refusals) != 1 {
		t.Fatalf("429 answers: Retry-After %q, want one (the second read of the list)", refusals)
	}
	retryAfter, err := strconv.Atoi(refusals[0])
	if err != nil || retryAfter < 1 {
		t.Fatalf("Retry-After %q", refusals[0])
	}
	if n < retryAfter || n > retryAfter*6/5+1 {
		t.Errorf("status %q, want a countdown from the server's Retry-After %d (+ up to a fifth)", text, retryAfter)
	}
	b.waitJS("the board live again", status+`.dataset.state === 'live'`, time.Duration(n+10)*time.Second)
	next := b.attemptsSince(limited)
	if len(next) == 0 {
		t.Fatal("no attempt was recorded after the countdown")
	}
	waited := next[0].at.Sub(limited)
	t.Logf("Retry-After %ds, countdown from %ds; the next attempt (%s) after %v; statuses %q", retryAfter, n, next[0].what, waited.Round(time.Millisecond), eval[[]string](b, `window.__statuses`))
	// Measured from the countdown's first sight, a poll after the answer.
	if waited < time.Duration(retryAfter)*time.Second-200*time.Millisecond {
		t.Errorf("the board tried again %v after the refusal, before the server's Retry-After of %ds", waited, retryAfter)
	}
	b.checkLocal(s.URL)
}

// silencer is a TCP proxy to a server whose open connections can be made
// silent: bytes are read and dropped both ways, nothing is closed. New
// connections pass.
type silencer struct {
	URL string
	mu  sync.Mutex
	old []*atomic.Bool // one per open connection: silenced
}

func startSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &silencer{URL: "http://" + ln.Addr().String()}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			quiet := &atomic.Bool{}
			p.mu.Lock()
			p.old = append(p.old, quiet)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer dst.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 && !quiet.Load() {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if quiet.Load() {
							select {} // silent to the end: never close
						}
						return
					}
				}
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	return p
}

// silence makes every connection open now silent.
func (p *silencer) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.old {
		q.Store(true)
	}
	p.old = nil
}

// TestBrowserCORS: a page of another origin lists socdesk's tickets (a
// real preflight, since it sends Authorization) when SOCDESK_CORS_ORIGINS
// names its origin; a page of an origin not listed cannot.
func TestBrowserCORS(t *testing.T) {
	b := newBrowser(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(corsPage))
	})
	allowed := httptest.NewServer(page)
	defer allowed.Close()
	refused := httptest.NewServer(page)
	defer refused.Close()

	c := newCluster(t)
	s := c.start("a", "", map[string]string{"SOCDESK_CORS_ORIGINS": allowed.URL})
	f := c.fixture(s)
	seeded := seedTickets(t, c, s, f, "Cross-origin", 2)
	args := "#api=" + url.QueryEscape(s.URL+"/graphql") + "&token=" + url.QueryEscape(c.token)

	b.run(chromedp.Navigate(allowed.URL + "/" + args))
	b.waitJS("the page's answer", `document.body.dataset.done === '1'`, 10*time.Second)
	items := eval[[]string](b, `[...document.querySelectorAll('li')].map(li => li.textContent)`)
	failure := eval[string](b, `document.getElementById('error').textContent`)
	if len(items) != 2 || items[0] != seeded[1].Title || items[1] != seeded[0].Title {
		t.Fatalf("page of %s listed %q (error %q), want the tickets %q, %q", allowed.URL, items, failure, seeded[1].Title, seeded[0].Title)
	}
	b.mu.Lock()
	preflight := false
	for _, r := range b.requests {
		preflight = preflight || r == "OPTIONS "+s.URL+"/graphql"
	}
	b.mu.Unlock()
	if !preflight {
		t.Errorf("no preflight was recorded\n%s", b.report())
	}
	b.screenshot("cors-allowed")

	b.run(chromedp.Navigate(refused.URL + "/" + args))
	b.waitJS("the page's answer", `document.body.dataset.done === '1'`, 10*time.Second)
	failure = eval[string](b, `document.getElementById('error').textContent`)
	if failure == "" {
		t.Errorf("a page of %s (not in SOCDESK_CORS_ORIGINS) could read the API", refused.URL)
	}
}

// corsPage is a single-page dashboard of another origin: it lists the
// tickets of the API and token given in its URL's fragment.
const corsPage = `<!doctype html><title>dashboard</title><ul></ul><p id="error"></p>
<script>
const p = new URLSearchParams(location.hash.slice(1));
fetch(p.get('api'), {method: 'POST', headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + p.get('token')},
  body: JSON.stringify({query: '{ tickets(first: 10) { edges { node { title } } } }'})})
  .then(r => r.json())
  .then(d => d.data.tickets.edges.forEach(e => { const li = document.createElement('li'); li.textContent = e.node.title; document.querySelector('ul').append(li); }))
  .catch(e => { document.getElementById('error').textContent = String(e); })
  .finally(() => { document.body.dataset.done = '1'; });
</script>`
