package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"socdesk/ent/user"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
)

// TestMain drops the package's PostgreSQL database after its tests.
func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

// TestBootstrap: an administrator can always get in — on a first start, on a
// database seeded without one, and with SOCDESK_ADMIN_TOKEN — and no second
// token is printed once one exists.
func TestBootstrap(t *testing.T) {
	st := testdb.SQLite(t, testdb.Options{})
	c := st.Client
	ctx := context.Background()
	// A database seeded with analysts only.
	c.User.Create().SetLogin("ana").SetDisplayName("Ana").SaveX(sys())
	tok, err := auth.Bootstrap(ctx, c, "")
	if err != nil || !strings.HasPrefix(tok, "sdk_") {
		t.Fatalf("first start: %q %v", tok, err)
	}
	a := &auth.Authenticator{Client: c, Now: time.Now}
	v, err := a.Authenticate(ctx, tok)
	if err != nil || v.Login != "admin" || !v.IsAdmin() {
		t.Fatalf("token authenticates %+v %v", v, err)
	}
	if again, err := auth.Bootstrap(ctx, c, ""); err != nil || again != "" {
		t.Fatalf("second start: %q %v", again, err)
	}
	given := "sdk_" + strings.Repeat("k", 40)
	if out, err := auth.Bootstrap(ctx, c, given); err != nil || out != "" {
		t.Fatalf("with SOCDESK_ADMIN_TOKEN: %q %v", out, err)
	}
	if v, err := a.Authenticate(ctx, given); err != nil || v.Login != "admin" {
		t.Fatalf("SOCDESK_ADMIN_TOKEN authenticates %+v %v", v, err)
	}
	if _, err := auth.Bootstrap(ctx, c, "short"); err == nil {
		t.Fatal("a short admin token was accepted")
	}
	// Tokens are stored hashed: the database never holds the token itself.
	for _, row := range c.APIToken.Query().AllX(sys()) {
		if strings.Contains(string(row.Hash), "sdk_") || len(row.Hash) != 32 {
			t.Fatalf("stored token %q", row.Hash)
		}
	}
	// An expired token is refused.
	exp, _ := auth.Issue(ctx, c, "ana", "short-lived")
	c.APIToken.Update().Where().SetExpiresAt(time.Now().Add(-time.Minute)).ExecX(sys())
	if _, err := a.Authenticate(ctx, exp); err != auth.ErrUnauthenticated {
		t.Fatalf("expired token: %v", err)
	}
	if c.User.Query().Where(user.RoleEQ(user.RoleADMIN)).CountX(sys()) != 1 {
		t.Fatal("more than one admin created")
	}
}

// TestCachedAuthentication: within CacheFor a token's viewer is not read
// again; after it, a revoked token is refused.
func TestCachedAuthentication(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			client := testdb.Open(t, b, testdb.Options{}).Client
			ctx := sys()
			client.User.Create().SetLogin("ana").SetDisplayName("Ana").SetRole(user.RoleANALYST).SaveX(ctx)
			tok, err := auth.Issue(ctx, client, "ana", "test")
			if err != nil {
				t.Fatal(err)
			}
			// Logins ignore case: `socdesk token create --user Ana` is for ana.
			if _, err := auth.Issue(ctx, client, "Ana", "test"); err != nil {
				t.Fatalf("token for Ana: %v", err)
			}
			now := time.Now()
			a := &auth.Authenticator{Client: client, Now: func() time.Time { return now }, CacheFor: 10 * time.Second}
			v1, err := a.Cached(context.Background(), tok)
			if err != nil || v1.Login != "ana" {
				t.Fatalf("first: %v %v", v1, err)
			}
			client.APIToken.Delete().ExecX(ctx)
			if v2, err := a.Cached(context.Background(), tok); err != nil || v2 != v1 {
				t.Fatalf("within the cache time: %v %v, want the cached viewer", v2, err)
			}
			if _, err := a.Authenticate(context.Background(), tok); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("uncached: %v, want auth.ErrUnauthenticated", err)
			}
			now = now.Add(11 * time.Second)
			if _, err := a.Cached(context.Background(), tok); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("after the cache time: %v, want auth.ErrUnauthenticated", err)
			}
		})
	}
}

// TestForget: a user whose rights changed is forgotten by the cache, and
// only that user: their next request reads their rights afresh.
func TestForget(t *testing.T) {
	client := testdb.SQLite(t, testdb.Options{}).Client
	ctx := sys()
	var toks []string
	var ids []int
	for _, login := range []string{"ana", "bo"} {
		u := client.User.Create().SetLogin(login).SetDisplayName(login).SetRole(user.RoleANALYST).SaveX(ctx)
		tok, err := auth.Issue(ctx, client, login, "test")
		if err != nil {
			t.Fatal(err)
		}
		toks, ids = append(toks, tok), append(ids, u.ID)
	}
	a := &auth.Authenticator{Client: client, Now: time.Now, CacheFor: time.Hour}
	for _, tok := range toks {
		if _, err := a.Cached(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	client.User.Update().SetRole(user.RoleADMIN).ExecX(ctx)
	a.Forget([]int{ids[0]})
	if v, err := a.Cached(context.Background(), toks[0]); err != nil || !v.IsAdmin() {
		t.Fatalf("forgotten user: %+v %v, want read afresh", v, err)
	}
	if v, err := a.Cached(context.Background(), toks[1]); err != nil || v.IsAdmin() {
		t.Fatalf("another user: %+v %v, want still cached", v, err)
	}
	a.Forget(nil) // everyone
	if v, err := a.Cached(context.Background(), toks[1]); err != nil || !v.IsAdmin() {
		t.Fatalf("after forgetting everyone: %+v %v", v, err)
	}
}
