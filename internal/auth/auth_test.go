package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"socdesk/ent/privacy"
	"socdesk/ent/user"
	"socdesk/internal/auth"
	"socdesk/internal/testdb"
)

func sys() context.Context { return privacy.DecisionContext(context.Background(), privacy.Allow) }

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
