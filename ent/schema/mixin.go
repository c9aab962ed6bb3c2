package schema

import (
	"fmt"
	"unicode/utf8"

	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin adds creation and modification times.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("updated_at").Default(Now).UpdateDefault(Now).
			Annotations(entgql.OrderField("UPDATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// maxRunes validates a length in characters (ent's MaxLen counts bytes).
func maxRunes(n int) func(string) error {
	return func(s string) error {
		if c := utf8.RuneCountInString(s); c > n {
			return fmt.Errorf("must be at most %d characters, not %d", n, c)
		}
		return nil
	}
}

// Now is the default of every timestamp: UTC, so that SQLite, which stores
// times as text, compares them in one offset.
func Now() time.Time { return time.Now().UTC() }
