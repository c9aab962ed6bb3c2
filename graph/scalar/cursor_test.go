package scalar

import (
	"context"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
)

// FuzzCursor: no string makes the cursor checks panic, and every cursor
// they accept decodes with entgql's own decoder (which eager-loaded nested
// connections use) to the same row.
func FuzzCursor(f *testing.F) {
	for _, c := range []struct {
		id    int
		value any
		order string
	}{{1, time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC), "CREATED_AT"}, {2, 3, "PRIORITY"}, {3, nil, ""}, {4, "ana", "LOGIN"}} {
		s, err := EncodeCursor(c.id, c.value, c.order)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s, c.order)
	}
	for _, s := range []string{"g6F27aF270", "kgCBoWEB", "g6FpAaF2oXihb6pDUkVBVEVEX0FU", "%%%", "", "not-a-cursor"} {
		f.Add(s, "CREATED_AT")
	}
	f.Fuzz(func(t *testing.T, s, ordering string) {
		ours, err := UnmarshalCursor(context.Background(), s)
		if CheckCursor(s, ordering) != nil {
			return
		}
		if err != nil {
			t.Fatalf("%q passed the check but does not decode: %v", s, err)
		}
		var theirs entgql.Cursor[int]
		if err := theirs.UnmarshalGQL(s); err != nil || theirs.ID != ours.ID {
			t.Fatalf("%q: entgql decodes %+v (%v), we %+v", s, theirs, err, ours)
		}
	})
}

// TestCheckCursor: a cursor is accepted with its own ordering only.
func TestCheckCursor(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s, _ := EncodeCursor(7, at, "CREATED_AT")
	if err := CheckCursor(s, "CREATED_AT"); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"UPDATED_AT", "PRIORITY", "NUMBER", ""} {
		if err := CheckCursor(s, other); err == nil || err.Error() != "invalid cursor" {
			t.Fatalf("%s: %v", other, err)
		}
	}
	c, err := UnmarshalCursor(context.Background(), s)
	if v, ok := c.Value.(time.Time); err != nil || c.ID != 7 || !ok || !v.Equal(at) {
		t.Fatalf("decoded %+v %v", c, err)
	}
}
