package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"socdesk/internal/authz"
)

// Blob is one stored content, named by its SHA-256, that attachments refer
// to. Its row is the lock that serializes storing a content and collecting
// it once nothing refers to it any more (package attachments).
type Blob struct{ ent.Schema }

// Fields of the Blob.
func (Blob) Fields() []ent.Field {
	return []ent.Field{
		field.String("sha256").Unique().Immutable().Validate(maxRunes(64)),
		field.Int64("size").NonNegative().Immutable(),
		field.String("content_type").Immutable().Validate(maxRunes(255)),
		field.Time("created_at").Default(Now).Immutable(),
	}
}

// Annotations of the Blob: not part of the API.
func (Blob) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy of the Blob: see package authz.
func (Blob) Policy() ent.Policy { return authz.SystemOnly() }
