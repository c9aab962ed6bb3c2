// Package runes bounds text by characters, not bytes: what socdesk quotes
// of a ticket, an error or an answer in a message or a record.
package runes

import "unicode/utf8"

// Cut shortens s to at most n characters (n ≥ 1), marking a cut with "…".
func Cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
