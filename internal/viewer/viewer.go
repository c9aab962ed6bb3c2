// Package viewer carries the authenticated user of a request through its
// context, so that the data layer's policies can decide what it may see and do.
package viewer

import (
	"context"
	"slices"
	"time"

	"socdesk/ent/schematype"
)

// Role is a user's role.
type Role string

// Roles of the product.
const (
	RoleAdmin   Role = "ADMIN"
	RoleAnalyst Role = "ANALYST"
	// RoleService is an integration's account: it ingests detections and
	// reads the tickets it registered, nothing else (package authz).
	RoleService Role = "SERVICE"
)

// Viewer is the user on whose behalf a request runs.
type Viewer struct {
	UserID      int
	Login       string
	Role        Role
	Permissions []schematype.Permission
	// SiteIDs are the sites a non-admin may see; admins see every site.
	SiteIDs []int
	// TokenExpiresAt is when the token the viewer came with expires, if it does.
	TokenExpiresAt *time.Time
}

// IsAdmin reports whether the viewer is an administrator.
func (v *Viewer) IsAdmin() bool { return v != nil && v.Role == RoleAdmin }

// IsService reports whether the viewer is a service account.
func (v *Viewer) IsService() bool { return v != nil && v.Role == RoleService }

// Has reports whether the viewer holds permission p. Admins hold every
// permission, service accounts none, and editing tickets implies viewing them.
func (v *Viewer) Has(p schematype.Permission) bool {
	switch {
	case v == nil, v.IsService():
		return false
	case v.IsAdmin():
		return true
	case p == schematype.PermissionTicketView && slices.Contains(v.Permissions, schematype.PermissionTicketEdit):
		return true
	}
	return slices.Contains(v.Permissions, p)
}

// SeesSite reports whether the site is one of the viewer's: the memory half
// of the site rule's site test (authz.Scope, which also holds the SQL half and
// the rules for tickets, history and users; ask it, not this).
func (v *Viewer) SeesSite(siteID int) bool {
	return v.IsAdmin() || (v != nil && !v.IsService() && slices.Contains(v.SiteIDs, siteID))
}

type ctxKey struct{}

// NewContext returns a context that carries v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer of ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}
