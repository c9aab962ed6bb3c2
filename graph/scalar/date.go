package scalar

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"socdesk/internal/errs"
)

// DateLayout is the form of the Date scalar.
const DateLayout = time.DateOnly

// MarshalDate writes a calendar day (the date of t, as t's location has it).
func MarshalDate(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.Format(DateLayout)))
	})
}

// UnmarshalDate reads YYYY-MM-DD as midnight UTC of that day.
func UnmarshalDate(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, errs.New(errs.BadUserInput, "Date must be a string YYYY-MM-DD")
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, errs.New(errs.BadUserInput, "Date must be YYYY-MM-DD, not %q", s)
	}
	return t, nil
}
