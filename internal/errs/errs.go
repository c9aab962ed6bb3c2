// Package errs is socdesk's error vocabulary: every error a client sees
// carries one of these codes, and only INTERNAL errors are logged.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for clients (GraphQL extensions.code).
type Code string

// The codes clients see.
const (
	NotFound          Code = "NOT_FOUND"
	Unauthenticated   Code = "UNAUTHENTICATED"
	Forbidden         Code = "FORBIDDEN"
	BadUserInput      Code = "BAD_USER_INPUT"
	InvalidTransition Code = "INVALID_TRANSITION"
	Conflict          Code = "CONFLICT"
	RateLimited       Code = "RATE_LIMITED"
	Internal          Code = "INTERNAL"
	// ResumeRequired ends a live stream whose subscriber fell behind;
	// extensions.cursor holds the cursor to resume from.
	ResumeRequired Code = "RESUME_REQUIRED"
	// Cancelled: the client went away before the answer (a cancelled
	// request, a dropped connection). No error of the server's: never
	// logged as one.
	Cancelled Code = "CANCELLED"
	// PersistedQueryNotFound: a request named its document only by hash
	// (automatic persisted queries) and the server does not know it; the
	// client sends it again with the document. The code of Apollo's
	// protocol, which gqlgen's extension answers and clients look for.
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
)

// Error is an error with a code and, for bad input, the field at fault.
type Error struct {
	Code    Code
	Field   string // the input field at fault, e.g. "input.title"
	Message string
	Err     error // the cause, if any; never shown to clients
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in the named field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NoNULMessage is what a text with U+0000 is told: PostgreSQL cannot
// store it in text, SQLite stores and matches it. GraphQL arguments are
// checked once for every operation (graph.NoNUL); other entries (forms,
// imported files) check their texts with HasNUL.
const NoNULMessage = "must not contain the NUL character (U+0000)"

// HasNUL reports whether s holds U+0000.
func HasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Renamed is err naming its field as names says (an operation that calls
// a shared rule's field otherwise); other errors are err.
func Renamed(err error, names map[string]string) error {
	if e, ok := As(err); ok {
		if name, ok := names[e.Field]; ok {
			c := *e
			c.Field = name
			return &c
		}
	}
	return err
}

// CodeOf returns the code of err: its *Error's code, or INTERNAL.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}
