package live

import (
	"encoding/base64"
	"strconv"
	"strings"

	"socdesk/internal/errs"
)

const cursorPrefix = "ev:"

// EncodeCursor returns the cursor of a position in the stream.
func EncodeCursor(p Position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(p.Tx, 10) + "." + strconv.Itoa(p.ID)))
}

// invalidCursor is the answer to any cursor the stream did not hand out:
// malformed, or beyond the stream's head.
func invalidCursor() error { return errs.Invalid("after", "invalid cursor") }

// DecodeCursor reads a cursor of EncodeCursor, and only that: a string
// EncodeCursor would not have written is refused.
func DecodeCursor(s string) (Position, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), cursorPrefix); ok {
			tx, id, _ := strings.Cut(rest, ".")
			t, err1 := strconv.ParseInt(tx, 10, 64)
			n, err2 := strconv.Atoi(id)
			p := Position{Tx: t, ID: n}
			if err1 == nil && err2 == nil && t >= 0 && n >= 0 && EncodeCursor(p) == s {
				return p, nil
			}
		}
	}
	return Position{}, invalidCursor()
}
