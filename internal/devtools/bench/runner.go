package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver "postgres"
)

// RunnerConfig configures RunSubscriptionsEndToEnd.
type RunnerConfig struct {
	// Socdesk is the server binary.
	Socdesk string
	// PostgresURL is the PostgreSQL server, without a database name
	// (postgres://postgres@127.0.0.1:5432); the database DBName is dropped and
	// created on it.
	PostgresURL string
	DBName      string
	// Keep leaves the database in place after the run.
	Keep     bool
	RedisURL string
	// Tickets are seeded with `socdesk seed --tickets`.
	Tickets int
	// ServerLog is the file the server's output goes to.
	ServerLog string
	// ServerEnv are extra environment variables of the server (K=V).
	ServerEnv []string
	// PerUser is how many subscriptions share one user: the runner creates
	// ceil(subscribers/PerUser) users with TICKET_VIEW on every site and a
	// token each. 0 puts every subscription on the admin's token and raises
	// the server's per-user cap (SOCDESK_LIVE_MAX_PER_USER) to fit.
	PerUser int
	// Subs is the scenario; URL, Token and ServerPID are filled in.
	Subs SubsConfig
}

// RunSubscriptionsEndToEnd prepares a fresh database, starts the server,
// runs the subscriptions scenario against it and stops the server.
func RunSubscriptionsEndToEnd(ctx context.Context, rc RunnerConfig) (*SubsResult, error) {
	logf := func(format string, a ...any) {
		if rc.Subs.Log != nil {
			fmt.Fprintf(rc.Subs.Log, format+"\n", a...)
		}
	}
	if _, err := os.Stat(rc.Socdesk); err != nil {
		return nil, fmt.Errorf("the socdesk binary: %w (the Makefile builds it to bin/socdesk)", err)
	}
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(rc.DBName) {
		return nil, fmt.Errorf("database name %q: use lower-case letters, digits and _", rc.DBName)
	}
	soft, hard, err := RaiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raising the open-file limit: %w", err)
	}
	if need := uint64(rc.Subs.Subscribers + 200); soft < need {
		return nil, fmt.Errorf("the open-file limit is %d (hard %d); %d subscribers need about %d: raise the hard limit (ulimit -Hn)", soft, hard, rc.Subs.Subscribers, need)
	}
	logf("open-file limit: %d (hard %d)", soft, hard)

	// A fresh database.
	dbURL, err := databaseURL(rc.PostgresURL, rc.DBName)
	if err != nil {
		return nil, err
	}
	if err := recreateDatabase(ctx, rc.PostgresURL, rc.DBName); err != nil {
		return nil, err
	}
	if !rc.Keep {
		defer func() {
			if err := dropDatabase(context.Background(), rc.PostgresURL, rc.DBName); err != nil {
				logf("dropping database %s: %v", rc.DBName, err)
			}
		}()
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+rc.RedisURL, "SOCDESK_LOG_LEVEL=warn")
	if rc.PerUser <= 0 || rc.PerUser > defaultMaxPerUser {
		// The server's per-user cap must let PerUser (or all) subscriptions in.
		env = append(env, "SOCDESK_LIVE_MAX_PER_USER="+strconv.Itoa(max(rc.PerUser, rc.Subs.Subscribers)+10))
	}
	env = append(env, rc.ServerEnv...) // last: overrides the above
	t := time.Now()
	if _, err := runCmd(ctx, env, rc.Socdesk, "migrate"); err != nil {
		return nil, err
	}
	if _, err := runCmd(ctx, env, rc.Socdesk, "seed", "--tickets", strconv.Itoa(rc.Tickets)); err != nil {
		return nil, err
	}
	logf("database %s migrated and seeded with %d tickets in %s", rc.DBName, rc.Tickets, time.Since(t).Round(time.Millisecond))

	// The server, on a free port. It creates the user admin on its first start.
	if err := os.Truncate(rc.ServerLog, 0); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	srv, err := startServer(ctx, rc.Socdesk, env, rc.ServerLog, logf)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	base := srv.Base
	if lim, err := FileLimit(srv.PID); err == nil {
		logf("server pid %d on %s, its open-file limit %d", srv.PID, base, lim)
		if lim >= 0 && lim < int64(rc.Subs.Subscribers+100) {
			return nil, fmt.Errorf("the server's open-file limit is %d, too low for %d subscribers", lim, rc.Subs.Subscribers)
		}
	}

	out, err := runCmd(ctx, env, rc.Socdesk, "token", "create", "--user", "admin", "--name", "socdesk-bench")
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(out))
	if token == "" || strings.ContainsAny(token, " \n") {
		return nil, fmt.Errorf("socdesk token create printed %q, not a token", token)
	}

	sc := rc.Subs
	sc.URL, sc.Token, sc.ServerPID = base, token, srv.PID
	if rc.PerUser > 0 {
		t := time.Now()
		n := (rc.Subs.Subscribers + rc.PerUser - 1) / rc.PerUser
		sc.SubscriberTokens, err = benchUsers(ctx, base, token, env, rc.Socdesk, n)
		if err != nil {
			return nil, err
		}
		logf("%d users with a token each created in %s (%d subscriptions per user)", n, time.Since(t).Round(time.Millisecond), rc.PerUser)
	}
	res, err := RunSubscriptions(ctx, sc)
	if exited, err := srv.Exited(); exited {
		return res, fmt.Errorf("the server exited during the run (%v); see %s", exitStatus(err), rc.ServerLog)
	}
	srv.Stop()
	return res, err
}

// defaultMaxPerUser is the server's default cap of live subscriptions per user.
const defaultMaxPerUser = 50

// benchUsers creates n viewers through the API and a token for each with
// `socdesk token create`.
func benchUsers(ctx context.Context, base, adminToken string, env []string, socdesk string, n int) ([]string, error) {
	logins, err := newGQLClient(base, adminToken).createViewers(ctx, "bench-sub-", n)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	errc := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i, login := range logins {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			out, err := runCmd(ctx, env, socdesk, "token", "create", "--user", login, "--name", "socdesk-bench")
			tokens[i] = strings.TrimSpace(string(out))
			errc <- err
		}()
	}
	for range logins {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	return tokens, err
}

// ServerLogProblems returns the WARN and ERROR lines of the server's log
// (at most max, and how many there were).
func ServerLogProblems(path string, max int) ([]string, int) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	var lines []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") ||
			strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
			if strings.Contains(l, "first start: created user admin") {
				continue // expected, and holds a token
			}
			n++
			if len(lines) < max {
				lines = append(lines, truncate(l, 300))
			}
		}
	}
	return lines, n
}

func runCmd(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, truncate(strings.TrimSpace(stderr.String()+"\n"+stdout.String()), 2000))
	}
	return stdout.Bytes(), nil
}

func databaseURL(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func adminDB(server string) (*sql.DB, error) {
	u, err := databaseURL(server, "postgres")
	if err != nil {
		return nil, err
	}
	return sql.Open("postgres", u)
}

func recreateDatabase(ctx context.Context, server, name string) error {
	db, err := adminDB(server)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return fmt.Errorf("creating database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, server, name string) error {
	db, err := adminDB(server)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(ctx context.Context, base string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited at start (%v)", exitStatus(err))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server was not ready within %s: %s", timeout, last)
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	return err.Error()
}
