package scalar

import (
	"context"
	"encoding/base64"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vmihailenco/msgpack/v5"

	"socdesk/internal/errs"
)

// A cursor is entgql's (msgpack of {i: id, v: the ordering's value}, base64)
// with one more key, o: the ordering it was made for. entgql's own decoding
// (nested connections' eager loading) ignores the key; CheckCursor refuses a
// cursor made for another ordering, or whose value the ordering's column
// cannot take, before any SQL runs.
type cursor struct {
	ID    int    `msgpack:"i"`
	Value any    `msgpack:"v,omitempty"`
	Order string `msgpack:"o"`
}

// invalidCursor is what a client is told of any cursor it cannot use:
// never the decoder's own words.
const invalidCursor = "invalid cursor"

// MarshalCursor encodes c tagged with the ordering of the connection it is
// returned in (found from the field context at marshal time).
func MarshalCursor(c entgql.Cursor[int]) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		order := ""
		if f := connectionField(graphql.GetFieldContext(ctx)); f != nil {
			order = Ordering(f, operationVariables(ctx))
		}
		s, err := EncodeCursor(c.ID, c.Value, order)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, strconv.Quote(s))
		return err
	})
}

// EncodeCursor returns the cursor of the row (id, value) of a connection
// ordered by ordering (an order field's name, "" for by id), as the server
// writes it.
func EncodeCursor(id int, value any, ordering string) (string, error) {
	b, err := msgpack.Marshal(cursor{ID: id, Value: value, Order: ordering})
	if err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// UnmarshalCursor decodes a cursor argument (CheckCursor has checked it
// against its field's ordering before execution).
func UnmarshalCursor(_ context.Context, v any) (entgql.Cursor[int], error) {
	s, ok := v.(string)
	if !ok {
		return entgql.Cursor[int]{}, errs.New(errs.BadUserInput, invalidCursor)
	}
	c, err := decodeCursor(s)
	if err != nil {
		return entgql.Cursor[int]{}, err
	}
	return entgql.Cursor[int]{ID: c.ID, Value: c.Value}, nil
}

// decodeCursor accepts only what EncodeCursor writes, byte for byte: no
// duplicate keys, trailing bytes or other encodings of the same value
// (msgpack panics on some, entgql's decoder of nested cursors too).
func decodeCursor(s string) (c cursor, err error) {
	invalid := errs.New(errs.BadUserInput, invalidCursor)
	defer func() {
		if recover() != nil {
			c, err = cursor{}, invalid
		}
	}()
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || msgpack.Unmarshal(b, &c) != nil {
		return cursor{}, invalid
	}
	if again, err := EncodeCursor(c.ID, c.Value, c.Order); err != nil || again != s {
		return cursor{}, invalid
	}
	return c, nil
}

// CheckCursor checks a cursor given to a connection field ordered by
// ordering (see Ordering): it must decode, be made for that ordering, and
// carry a value of the ordering's kind that the database can compare.
func CheckCursor(v any, ordering string) error {
	s, ok := v.(string)
	if !ok {
		return errs.New(errs.BadUserInput, invalidCursor)
	}
	c, err := decodeCursor(s)
	if err != nil {
		return err
	}
	if c.Order != ordering || !orderingKinds[ordering](c.Value) {
		return errs.New(errs.BadUserInput, invalidCursor)
	}
	return nil
}

// orderingKinds say which cursor values each ordering's column can be
// compared with, by the name of the order field (the same in every
// connection); "" is a connection without orderBy, ordered by id. A new
// ordering needs its row here (TestEveryOrderingHasACursorKind).
var orderingKinds = map[string]func(any) bool{
	"":           func(v any) bool { return v == nil || isInt(v) }, // entgql's id cursors carry no value
	"NUMBER":     isInt,
	"PRIORITY":   isRank,
	"CREATED_AT": isTime,
	"UPDATED_AT": isTime,
	"NAME":       isText,
	"LOGIN":      isText,
	"REFERENCE":  isText, // a compliance policy's
	"KEY":        isText, // a detection rule's
	// Tasks by due date: a task without one has no value.
	"DUE_AT": func(v any) bool { return v == nil || isTime(v) },
	// Tickets by a service-level due (never NULL: see schema.SLANoDue).
	"RESPONSE_DUE_AT":   isTime,
	"RESOLUTION_DUE_AT": isTime,
}

// HasCursorKind reports whether cursors of ordering can be checked.
func HasCursorKind(ordering string) bool { return orderingKinds[ordering] != nil }

func isInt(v any) bool {
	_, ok := asInt64(v)
	return ok
}

// isRank: priority_rank is a smallint (int8 in the ent schema).
func isRank(v any) bool {
	n, ok := asInt64(v)
	return ok && n >= math.MinInt8 && n <= math.MaxInt8
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	}
	return 0, false
}

func isTime(v any) bool {
	t, ok := v.(time.Time)
	return ok && t.Year() >= 1 && t.Year() <= 9999 // what both databases store
}

func isText(v any) bool {
	s, ok := v.(string)
	return ok && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Ordering is the name of the order field connection field f is ordered by
// with vars: its orderBy argument's field, that argument's default when it
// is null, or "" when f has no orderBy (ordered by id).
func Ordering(f *ast.Field, vars map[string]any) string {
	if f.Definition == nil {
		return ""
	}
	def := f.Definition.Arguments.ForName("orderBy")
	if def == nil {
		return ""
	}
	arg, _ := f.ArgumentMap(vars)["orderBy"].(map[string]any)
	if arg == nil && def.DefaultValue != nil {
		arg, _ = mustValue(def.DefaultValue).(map[string]any)
	}
	name, _ := arg["field"].(string)
	return name
}

func mustValue(v *ast.Value) any {
	x, err := v.Value(nil)
	if err != nil {
		return nil
	}
	return x
}

// IsConnection reports whether f takes cursors (an after or before argument
// of type Cursor).
func IsConnection(f *ast.Field) bool {
	if f == nil || f.Definition == nil {
		return false
	}
	for _, name := range [...]string{"after", "before"} {
		if a := f.Definition.Arguments.ForName(name); a != nil && a.Type.Name() == "Cursor" {
			return true
		}
	}
	return false
}

// connectionField is the connection field a cursor being marshaled belongs
// to: the nearest enclosing field that takes cursors.
func connectionField(fc *graphql.FieldContext) *ast.Field {
	for ; fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil && IsConnection(fc.Field.Field) {
			return fc.Field.Field
		}
	}
	return nil
}

func operationVariables(ctx context.Context) map[string]any {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	return graphql.GetOperationContext(ctx).Variables
}
