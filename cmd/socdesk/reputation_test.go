package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"socdesk/internal/config"
)

// TestLogReputation: the startup log says whether reputation lookups are
// on and where they go, the key only as "set".
func TestLogReputation(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := config.Default()
	logReputation(log, cfg)
	cfg.ReputationKey, cfg.ReputationURL = "vt-key-9d8c7b6a5f4e3d2c1b0a", "https://vt.example.com/base?token=hidden"
	logReputation(log, cfg)
	out := buf.String()
	if !strings.Contains(out, "reputation lookups off") || !strings.Contains(out, "provider=https://vt.example.com key=set") ||
		strings.Contains(out, cfg.ReputationKey) || strings.Contains(out, "hidden") {
		t.Fatalf("log:\n%s", out)
	}
}
