package channels

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Recipient is who a message goes to; each channel uses its own address.
type Recipient struct {
	UserID    int    `json:"userId"`
	Name      string `json:"name,omitempty"`
	Login     string `json:"login,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Messenger string `json:"messenger,omitempty"`
}

// MaxMessengerLength bounds a messenger handle.
const MaxMessengerLength = 64

// ValidMessenger checks a messenger handle: 1 to 64 printable characters,
// no spaces.
func ValidMessenger(s string) error {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxMessengerLength || !utf8.ValidString(s) {
		return errors.New("must be 1 to 64 characters")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
		return errors.New("must be printable characters without spaces")
	}
	return nil
}
