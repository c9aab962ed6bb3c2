package reqlog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCap(t *testing.T) {
	if s := Cap("short"); s != "short" {
		t.Fatalf("Cap(short) = %q", s)
	}
	long := strings.Repeat("é", MaxValue) // 2 bytes each: the cut falls inside one
	s := Cap(long)
	if !utf8.ValidString(s) || len(s) > MaxValue+32 || !strings.HasSuffix(s, "…(1024 bytes)") {
		t.Fatalf("Cap: %d bytes, %q…", len(s), s[len(s)-20:])
	}
}

// Every value of a request's logger is capped, errors and groups included,
// but not a stack trace.
func TestCappedHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(capped{slog.NewTextHandler(&buf, nil)}).With("with", strings.Repeat("w", 5000))
	long := strings.Repeat("x", 5000)
	log.Info(long, "s", long, "err", errors.New(long), slog.Group("g", "inner", long), "stack", long, "n", 7)
	out := buf.String()
	if n := strings.Count(out, "(5000 bytes)"); n != 5 {
		t.Fatalf("%d capped values, want 5 (message, with, s, err, g.inner): %.400s", n, out)
	}
	if !strings.Contains(out, "stack="+long) || !strings.Contains(out, "n=7") {
		t.Fatal("the stack trace or a number was changed")
	}
}
