package live

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"socdesk/internal/auth"
	"socdesk/internal/events"
	"socdesk/internal/viewer"
)

// ErrRightsChanged ends a websocket session whose token no longer holds, or
// whose user's role, permissions or sites changed since it connected: the
// client reconnects and is authenticated (or refused with 4403) anew.
var ErrRightsChanged = errors.New("the token was revoked or the user's rights changed")

// Sessions re-authenticates the tokens of open websocket connections: a
// connection authenticates once, in connection_init, and would otherwise
// keep streaming after its token is revoked or its user loses a site. It
// checks the connections of the users a rights wake-up names at once (see
// admin.WatchRights), and every connection each Every, for the wake-ups
// lost while the broker was away.
type Sessions struct {
	// Authenticate turns a token into its viewer, as at connection_init.
	Authenticate func(ctx context.Context, token string) (*viewer.Viewer, error)
	// Every is how often every token is checked again.
	Every time.Duration
	// Broker brings the rights wake-ups of every replica (nil: none).
	Broker events.Broker
	// OnRights, if set, is told of each rights wake-up before the sessions
	// are checked (the HTTP authentication cache forgets those users).
	OnRights func(userIDs []int)
	Log      *slog.Logger

	mu      sync.Mutex
	byToken map[string]map[*session]struct{}
}

type session struct {
	v      *viewer.Viewer
	cancel context.CancelCauseFunc
}

// Track returns the context of a connection authenticated by token as v: it
// is cancelled when a later check finds the token or v's rights gone, or
// when the token expires.
func (s *Sessions) Track(ctx context.Context, token string, v *viewer.Viewer) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	ss := &session{v: v, cancel: cancel}
	s.mu.Lock()
	if s.byToken == nil {
		s.byToken = map[string]map[*session]struct{}{}
	}
	if s.byToken[token] == nil {
		s.byToken[token] = map[*session]struct{}{}
	}
	s.byToken[token][ss] = struct{}{}
	s.mu.Unlock()
	var expiry *time.Timer
	if v.TokenExpiresAt != nil {
		// Over HTTP an expired token is refused at once; so here.
		expiry = time.AfterFunc(time.Until(*v.TokenExpiresAt), func() { cancel(ErrRightsChanged) })
	}
	context.AfterFunc(ctx, func() {
		if expiry != nil {
			expiry.Stop()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.byToken[token], ss)
		if len(s.byToken[token]) == 0 {
			delete(s.byToken, token)
		}
	})
	return ctx
}

// Open returns the number of tracked connections.
func (s *Sessions) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.byToken {
		n += len(ss)
	}
	return n
}

// Run checks the tracked connections, on rights wake-ups and each s.Every,
// until ctx ends.
func (s *Sessions) Run(ctx context.Context) {
	if s.Broker != nil {
		go events.Listen(ctx, s.Broker, events.TopicRights, s.Every, s.Log, func(w events.Wake) { s.rights(ctx, w) })
	}
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Check(ctx, nil)
	}
}

// rights checks the connections of the users a rights wake-up names.
func (s *Sessions) rights(ctx context.Context, w events.Wake) {
	if s.OnRights != nil {
		s.OnRights(w.UserIDs)
	}
	// An empty list names nobody in particular: check everyone.
	s.Check(ctx, w.UserIDs)
}

// Check authenticates again the tokens of the connections of userIDs (all
// connections when empty), one authentication per distinct token, and ends
// the connections whose token no longer holds or whose rights changed.
func (s *Sessions) Check(ctx context.Context, userIDs []int) {
	s.mu.Lock()
	tokens := make([]string, 0, len(s.byToken))
	for tok, ss := range s.byToken {
		for sess := range ss {
			if len(userIDs) == 0 || slices.Contains(userIDs, sess.v.UserID) {
				tokens = append(tokens, tok)
				break
			}
		}
	}
	s.mu.Unlock()
	for _, tok := range tokens {
		now, err := s.Authenticate(ctx, tok)
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			if ctx.Err() == nil && s.Log != nil {
				s.Log.Warn("live: checking a websocket token again", "err", err)
			}
			continue // keep the sessions until the check can be made
		}
		s.mu.Lock()
		for ss := range s.byToken[tok] {
			if err != nil || !sameRights(ss.v, now) {
				ss.cancel(ErrRightsChanged)
			}
		}
		s.mu.Unlock()
	}
}

func sameRights(a, b *viewer.Viewer) bool {
	return a.UserID == b.UserID && a.Role == b.Role &&
		slices.Equal(sorted(a.Permissions), sorted(b.Permissions)) && slices.Equal(sorted(a.SiteIDs), sorted(b.SiteIDs))
}

func sorted[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

type upgradeAuthKey struct{}

// WithUpgradeAuthorization carries the Authorization header of a websocket
// upgrade request to connection_init, where every connection authenticates.
func WithUpgradeAuthorization(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, upgradeAuthKey{}, header)
}

// UpgradeAuthorization is the header WithUpgradeAuthorization carried.
func UpgradeAuthorization(ctx context.Context) string {
	h, _ := ctx.Value(upgradeAuthKey{}).(string)
	return h
}
