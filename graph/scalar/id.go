// Package scalar holds socdesk's custom GraphQL scalars.
package scalar

import (
	"encoding/base64"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"socdesk/internal/errs"
)

// idPrefix marks socdesk's global ids before encoding, so that a random
// base64 string is not mistaken for one.
const idPrefix = "sd:"

// MarshalID encodes an ent global id as an opaque Relay ID. The entity type
// is part of the id itself (ent's global id ranges), so node(id:) needs
// nothing more.
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(EncodeID(id)))
	})
}

// EncodeID returns the opaque form of an id.
func EncodeID(id int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(idPrefix + strconv.Itoa(id)))
}

// UnmarshalID decodes an opaque Relay ID.
func UnmarshalID(v any) (int, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errs.New(errs.BadUserInput, "ID must be a string")
	}
	return DecodeID(s)
}

// DecodeID decodes the opaque form of an id.
func DecodeID(s string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), idPrefix) {
		return 0, errs.New(errs.BadUserInput, "%q is not a valid ID", s)
	}
	id, err := strconv.Atoi(strings.TrimPrefix(string(b), idPrefix))
	if err != nil || id <= 0 {
		return 0, errs.New(errs.BadUserInput, "%q is not a valid ID", s)
	}
	return id, nil
}
