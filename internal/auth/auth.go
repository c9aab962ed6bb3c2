// Package auth authenticates requests by bearer API token and issues tokens.
// Tokens are random, shown once, and stored only as their SHA-256 hash.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"socdesk/ent"
	"socdesk/ent/apitoken"
	"socdesk/ent/schema"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/explanations/link"
	"socdesk/internal/viewer"
)

// tokenPrefix makes socdesk tokens recognisable (and findable by secret scanners).
const tokenPrefix = "sdk_"

// MinTokenLength bounds tokens given from outside (SOCDESK_ADMIN_TOKEN).
const MinTokenLength = 32

// ErrUnauthenticated is returned for a missing, unknown or expired token.
var ErrUnauthenticated = errors.New("missing or invalid API token")

// NewToken returns a new random token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is what is stored of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Issue stores a token for the user with login (in any case) and returns it.
func Issue(ctx context.Context, client *ent.Client, login, name string) (string, error) {
	ctx = authz.System(ctx)
	u, err := client.User.Query().Where(user.Login(schema.FoldLogin(login))).Only(ctx)
	if ent.IsNotFound(err) {
		return "", fmt.Errorf("no user with login %q", login)
	} else if err != nil {
		return "", err
	}
	tok := NewToken()
	if err := client.APIToken.Create().SetUser(u).SetHash(Hash(tok)).SetName(name).Exec(ctx); err != nil {
		return "", err
	}
	return tok, nil
}

// Bootstrap makes sure an administrator can log in. Given adminToken
// (SOCDESK_ADMIN_TOKEN), the user `admin` exists and holds that token. Else,
// when no administrator exists at all (a first start, or a database seeded
// without one), it creates `admin` with a new token and returns the token, to
// be shown once; otherwise it returns "".
func Bootstrap(ctx context.Context, client *ent.Client, adminToken string) (string, error) {
	ctx = authz.System(ctx)
	if adminToken != "" && len(adminToken) < MinTokenLength {
		return "", fmt.Errorf("SOCDESK_ADMIN_TOKEN must be at least %d characters", MinTokenLength)
	}
	if adminToken == "" {
		n, err := client.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Count(ctx)
		if err != nil || n > 0 {
			return "", err
		}
	}
	admin, err := client.User.Query().Where(user.Login("admin")).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		admin, err = client.User.Create().SetLogin("admin").SetDisplayName("Administrator").
			SetRole(user.RoleADMIN).Save(ctx)
		if err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case admin.Role != user.RoleADMIN:
		return "", fmt.Errorf("the user %q exists but is not an administrator: make it one (socdesk user grant-admin --user %[1]s), or remove it", "admin")
	}
	if adminToken != "" {
		exists, err := client.APIToken.Query().Where(apitoken.Hash(Hash(adminToken))).Exist(ctx)
		if err != nil || exists {
			return "", err
		}
		return "", client.APIToken.Create().SetUser(admin).SetHash(Hash(adminToken)).SetName("SOCDESK_ADMIN_TOKEN").Exec(ctx)
	}
	tok := NewToken()
	return tok, client.APIToken.Create().SetUser(admin).SetHash(Hash(tok)).SetName("first start").Exec(ctx)
}

// Authenticator turns bearer tokens into viewers.
type Authenticator struct {
	Client *ent.Client
	Now    func() time.Time
	// CacheFor is how long Cached trusts a token's viewer before reading it
	// again: a revoked token or changed rights take effect within it. 0
	// reads every time.
	CacheFor time.Duration

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedViewer
}

type cachedViewer struct {
	v     *viewer.Viewer
	until time.Time
}

// maxCached bounds the cache; past it, it starts over.
const maxCached = 10000

// Cached is Authenticate, remembering a token's viewer for CacheFor: the
// three statements of an authentication are then not paid by every request.
func (a *Authenticator) Cached(ctx context.Context, token string) (*viewer.Viewer, error) {
	if a.CacheFor <= 0 {
		return a.Authenticate(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	now := a.Now()
	a.mu.Lock()
	c, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.v, nil
	}
	v, err := a.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	until := now.Add(a.CacheFor)
	if v.TokenExpiresAt != nil && v.TokenExpiresAt.Before(until) {
		until = *v.TokenExpiresAt
	}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) >= maxCached {
		a.cache = map[[sha256.Size]byte]cachedViewer{}
	}
	a.cache[key] = cachedViewer{v: v, until: until}
	a.mu.Unlock()
	return v, nil
}

// Forget drops the cached authentications of the users userIDs (all when
// empty): their rights changed, and their next request reads them afresh.
func (a *Authenticator) Forget(userIDs []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.cache {
		if len(userIDs) == 0 || slices.Contains(userIDs, c.v.UserID) {
			delete(a.cache, k)
		}
	}
}

// lastUsedResolution bounds how often a token's last use is written.
const lastUsedResolution = time.Minute

// Authenticate returns the viewer a token belongs to.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	if !strings.HasPrefix(token, tokenPrefix) && len(token) < MinTokenLength {
		return nil, ErrUnauthenticated
	}
	ctx = authz.System(ctx)
	t, err := a.Client.APIToken.Query().Where(apitoken.Hash(Hash(token))).
		WithUser(func(q *ent.UserQuery) { q.WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }) }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	now := a.Now().UTC()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > lastUsedResolution {
		if err := a.Client.APIToken.UpdateOne(t).SetLastUsedAt(now).Exec(ctx); err != nil {
			return nil, err
		}
	}
	u := t.Edges.User
	if u == nil {
		// The user was deleted between reading the token and its user
		// (their tokens go with them).
		return nil, ErrUnauthenticated
	}
	v := &viewer.Viewer{
		UserID:         u.ID,
		Login:          u.Login,
		Role:           viewer.Role(u.Role),
		Permissions:    append([]schematype.Permission(nil), u.Permissions...),
		TokenExpiresAt: t.ExpiresAt,
	}
	for _, s := range u.Edges.Sites {
		v.SiteIDs = append(v.SiteIDs, s.ID)
	}
	return v, nil
}

// Middleware authenticates every request: without a valid bearer token it
// answers 401 and the handler never runs.
func (a *Authenticator) Middleware(onError func(*http.Request, error)) func(http.Handler) http.Handler {
	return a.middleware(onError, false)
}

// MiddlewareWithLinks is Middleware that also lets a request bearing an
// explanation request's personal link token (link.Prefix) through, with no
// viewer and the token in its context (link.WithToken): the link
// operations open it; everything else refuses it as it refuses any request
// without a viewer (the data layer denies).
func (a *Authenticator) MiddlewareWithLinks(onError func(*http.Request, error)) func(http.Handler) http.Handler {
	return a.middleware(onError, true)
}

func (a *Authenticator) middleware(onError func(*http.Request, error), links bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := BearerToken(r.Header.Get("Authorization"))
			if ok && links && link.IsToken(tok) {
				next.ServeHTTP(w, r.WithContext(link.WithToken(r.Context(), tok)))
				return
			}
			var (
				v   *viewer.Viewer
				err = ErrUnauthenticated
			)
			if ok {
				v, err = a.Cached(r.Context(), tok)
			}
			if err != nil {
				if !errors.Is(err, ErrUnauthenticated) {
					onError(r, err)
					errs.WriteHTTP(w, r, http.StatusInternalServerError, errs.New(errs.Internal, "internal error"))
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="socdesk"`)
				errs.WriteHTTP(w, r, http.StatusUnauthorized, errs.New(errs.Unauthenticated, "missing or invalid API token"))
				return
			}
			next.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
		})
	}
}

// BearerToken extracts the token of an "Authorization: Bearer …" header.
func BearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
