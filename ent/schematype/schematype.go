// Package schematype holds the Go types that ent fields and GraphQL share:
// permissions and the structured fields of detection tickets.
package schematype

import (
	"fmt"
	"io"
	"strconv"
)

// Permission is a capability granted to a non-admin user.
type Permission string

// The permissions of the product: viewing and editing tickets.
const (
	PermissionTicketView Permission = "TICKET_VIEW"
	PermissionTicketEdit Permission = "TICKET_EDIT"
)

// Permissions lists every valid permission.
var Permissions = []Permission{PermissionTicketView, PermissionTicketEdit}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool {
	for _, q := range Permissions {
		if p == q {
			return true
		}
	}
	return false
}

// MarshalGQL implements graphql.Marshaler.
func (p Permission) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (p *Permission) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Permission(s).Valid() {
		return fmt.Errorf("%v is not a valid Permission", v)
	}
	*p = Permission(s)
	return nil
}

// CustomField is a free key/value pair on a detection ticket.
type CustomField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// FieldChange is one changed field of a ticket event; From and To are the
// values before and after, as JSON values (nil when unset).
type FieldChange struct {
	Field ChangedField `json:"field"`
	From  any          `json:"from"`
	To    any          `json:"to"`
}

// Name is the changed field's name, as GraphQL shows it.
func (c *FieldChange) Name() string { return string(c.Field) }
