package live

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"socdesk/internal/auth"
	"socdesk/internal/events"
	"socdesk/internal/viewer"
)

// fakeTokens authenticates tokens from a table the test changes, counting
// the checks.
type fakeTokens struct {
	mu     sync.Mutex
	byTok  map[string]*viewer.Viewer
	checks map[string]int
}

func (f *fakeTokens) authenticate(_ context.Context, tok string) (*viewer.Viewer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks[tok]++
	v, ok := f.byTok[tok]
	if !ok {
		return nil, auth.ErrUnauthenticated
	}
	c := *v
	return &c, nil
}

func (f *fakeTokens) set(tok string, v *viewer.Viewer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v == nil {
		delete(f.byTok, tok)
	} else {
		f.byTok[tok] = v
	}
}

func (f *fakeTokens) count(tok string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks[tok]
}

func ended(ctx context.Context, within time.Duration) bool {
	select {
	case <-ctx.Done():
		return errors.Is(context.Cause(ctx), ErrRightsChanged)
	case <-time.After(within):
		return false
	}
}

// TestSessionsReactToRightsWakeUps: a rights wake-up checks the
// connections of the users it names, and only theirs, at once (one check
// per token however many connections share it), and tells OnRights first;
// a history wake-up checks nothing. The timer is an hour: only the
// reaction can end a session here.
func TestSessionsReactToRightsWakeUps(t *testing.T) {
	alice := &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst, SiteIDs: []int{1, 2}}
	bob := &viewer.Viewer{UserID: 2, Role: viewer.RoleAnalyst, SiteIDs: []int{1}}
	f := &fakeTokens{byTok: map[string]*viewer.Viewer{"a": alice, "b": bob}, checks: map[string]int{}}
	broker := events.NewLocal()
	var (
		mu    sync.Mutex
		heard [][]int
	)
	s := &Sessions{Authenticate: f.authenticate, Every: time.Hour, Broker: broker, OnRights: func(ids []int) {
		mu.Lock()
		heard = append(heard, ids)
		mu.Unlock()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a1 := s.Track(ctx, "a", alice)
	a2 := s.Track(ctx, "a", alice)
	b1 := s.Track(ctx, "b", bob)
	go s.Run(ctx)
	// Run subscribes in the background: wake until it listens.
	for deadline := time.Now().Add(5 * time.Second); f.count("b") == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sessions never listened to the broker")
		}
		_ = broker.Publish(ctx, events.Rights(2))
	}

	// Alice loses a site; a wake-up about Bob leaves her connections be.
	f.set("a", &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst, SiteIDs: []int{1}})
	_ = broker.Publish(ctx, events.Rights(2))
	_ = broker.Publish(ctx, events.History())
	if ended(a1, 200*time.Millisecond) || ended(b1, 0) || f.count("a") != 0 {
		t.Fatalf("a wake-up about Bob checked Alice (%d checks) or ended a session", f.count("a"))
	}
	_ = broker.Publish(ctx, events.Rights(1, 3))
	if !ended(a1, 2*time.Second) || !ended(a2, 2*time.Second) {
		t.Fatal("Alice's connections outlive the change of her rights")
	}
	if n := f.count("a"); n != 1 {
		t.Fatalf("Alice's token checked %d times for one wake-up, want once", n)
	}
	if ended(b1, 100*time.Millisecond) {
		t.Fatal("Bob's connection ended, his rights did not change")
	}
	mu.Lock()
	if !slices.ContainsFunc(heard, func(ids []int) bool { return slices.Equal(ids, []int{1, 3}) }) {
		t.Errorf("OnRights heard %v", heard)
	}
	mu.Unlock()

	// Bob's token revoked; an empty wake-up names everyone.
	f.set("b", nil)
	_ = broker.Publish(ctx, events.Rights())
	if !ended(b1, 2*time.Second) {
		t.Fatal("Bob's connection outlives his token")
	}
	// An ended session is forgotten just after its end is told: wait for it.
	for deadline := time.Now().Add(2 * time.Second); s.Open() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still tracked", s.Open())
		}
	}
}

// TestSessionsTimer: without wake-ups, every connection is checked each
// Every (the fallback for wake-ups lost while the broker was away).
func TestSessionsTimer(t *testing.T) {
	alice := &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst}
	f := &fakeTokens{byTok: map[string]*viewer.Viewer{"a": alice}, checks: map[string]int{}}
	s := &Sessions{Authenticate: f.authenticate, Every: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := s.Track(ctx, "a", alice)
	go s.Run(ctx)
	if ended(a, 200*time.Millisecond) {
		t.Fatal("a session with unchanged rights ended")
	}
	f.set("a", nil)
	if !ended(a, 2*time.Second) {
		t.Fatal("the timer never ended a revoked session")
	}
}

// TestSessionEndsWhenTokenExpires: over HTTP an expired token is refused at
// once; its websocket ends then too, with no check due.
func TestSessionEndsWhenTokenExpires(t *testing.T) {
	exp := time.Now().Add(100 * time.Millisecond)
	v := &viewer.Viewer{UserID: 1, Role: viewer.RoleAnalyst, TokenExpiresAt: &exp}
	s := &Sessions{Authenticate: func(context.Context, string) (*viewer.Viewer, error) { return v, nil }, Every: time.Hour}
	ctx := s.Track(context.Background(), "a", v)
	if !ended(ctx, 2*time.Second) {
		t.Fatal("the session outlives its token")
	}
	if d := time.Since(exp); d < 0 {
		t.Fatalf("ended %v before the token expired", -d)
	}
}
