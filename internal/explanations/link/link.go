// Package link is what the HTTP layer knows of explanation requests'
// personal link tokens: how one looks, how it is hashed, and how a request
// carrying one (and no viewer) hands it on in its context. Package
// explanations mints and opens them.
package link

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Prefix starts every personal link token, so that it is recognized (by
// the authentication middleware, by secret scanners).
const Prefix = "sdx_"

// MaxLength bounds what is taken for a token.
const MaxLength = 128

// IsToken reports whether s looks like a link token.
func IsToken(s string) bool { return strings.HasPrefix(s, Prefix) && len(s) <= MaxLength }

// Hash is the SHA-256 of a token, the only form in which it is kept.
func Hash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// BudgetKey is the rate budget a link's holder spends (they have no user):
// one per link.
func BudgetKey(raw string) string { return "link:" + Hash(raw)[:32] }

type tokenKey struct{}

// WithToken is ctx carrying a link token: a request authorized by a
// personal link has no viewer, so everything but the link operations is
// refused to it as to any request without one.
func WithToken(ctx context.Context, raw string) context.Context {
	return context.WithValue(ctx, tokenKey{}, raw)
}

// TokenFrom is the link token ctx carries, if any.
func TokenFrom(ctx context.Context) (string, bool) {
	raw, ok := ctx.Value(tokenKey{}).(string)
	return raw, ok && raw != ""
}
