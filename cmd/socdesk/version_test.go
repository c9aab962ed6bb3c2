package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"socdesk/internal/devtools/testdb"
	"socdesk/internal/version"
)

// TestVersionCommand: `socdesk version` and `socdesk --version` print the
// build in one line.
func TestVersionCommand(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &out); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if got := strings.TrimSpace(out.String()); got != version.Get().String() || !strings.HasPrefix(got, "socdesk ") {
			t.Fatalf("%s printed %q", arg, got)
		}
	}
}

// TestMakeBuildStampsTheCommit: the binary `make build` makes tells its
// commit, version and build date.
func TestMakeBuildStampsTheCommit(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		testdb.SkipOrFail(t, "not a git checkout, or no git: %v", err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		testdb.SkipOrFail(t, "make is not installed")
	}
	bin := filepath.Join(t.TempDir(), "socdesk")
	build := exec.Command("make", "-s", "-C", root, "build", "BIN="+bin, "VERSION=v9.8.7-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("socdesk --version: %v\n%s", err, out)
	}
	commit := strings.TrimSpace(string(head))
	m := regexp.MustCompile(`^socdesk v9\.8\.7-test \(commit ([0-9a-f]{40}), built (\S+), go1\.\S+\)\n$`).FindStringSubmatch(string(out))
	if m == nil || m[1] != commit {
		t.Fatalf("socdesk --version printed %q, want commit %s", out, commit)
	}
	if built, err := time.Parse(time.RFC3339, m[2]); err != nil || time.Since(built) > time.Hour {
		t.Fatalf("build date %q: %v", m[2], err)
	}
}

// TestVersionRefusesArguments: `socdesk version` takes nothing; a flag or
// an argument is an error (exit status 2) saying what was not understood.
func TestVersionRefusesArguments(t *testing.T) {
	for args, want := range map[string]string{
		"version --bogus":   "flag provided but not defined: -bogus",
		"--version -x":      "flag provided but not defined: -x",
		"version extra":     `version takes no arguments, not ["extra"]`,
		"version -- --json": `version takes no arguments, not ["--json"]`,
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), strings.Fields(args), func(string) string { return "" }, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), want) || out.Len() > 0 {
			t.Errorf("socdesk %s: %v, printed %q; want an error with %q and nothing on stdout", args, err, out.String(), want)
		}
	}
}
