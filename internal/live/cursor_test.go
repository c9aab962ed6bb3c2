package live

import (
	"strings"
	"testing"

	"socdesk/internal/errs"
)

// FuzzDecodeCursor: any string is either a cursor EncodeCursor writes,
// read back exactly, or refused as BAD_USER_INPUT "invalid cursor" on
// after; never a panic, never an error that quotes the input.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		EncodeCursor(Position{}),
		EncodeCursor(Position{Tx: 1234, ID: 56}),
		EncodeCursor(Position{Tx: 1 << 62, ID: 1 << 40}),
		EncodeCursor(Position{}) + "AA", // trailing bytes
		EncodeCursor(Position{}) + "=",
		"nonsense", "", "ev:1.2", "ZXY6LTEuMg", // ev:-1.2
		"ZXY6KzEuMg",                          // ev:+1.2
		"ZXY6MDEuMg",                          // ev:01.2
		"ZXY6MS4y\n",                          // a newline
		"ZXY6OTk5OTk5OTk5OTk5OTk5OTk5OTk5LjE", // past int64
		strings.Repeat("A", 10000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := DecodeCursor(s)
		if err == nil {
			if p.Tx < 0 || p.ID < 0 || EncodeCursor(p) != s {
				t.Fatalf("%q read as %+v", s, p)
			}
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.BadUserInput || e.Field != "after" || e.Message != "invalid cursor" {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
