//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalsEndQuietly: the binary stopped with SIGINT (Ctrl-C) or SIGTERM
// shuts down cleanly and exits 0, saying nothing of an error.
func TestSignalsEndQuietly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "socdesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := freeAddr(t)
			cmd := exec.Command(bin, "serve")
			cmd.Env = append(os.Environ(), "SOCDESK_DATA_DIR="+t.TempDir(), "SOCDESK_ADDR="+addr, "DATABASE_URL=", "REDIS_URL=")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			code, _ := runUntilReady(t, cmd, addr, &out, func() error { return cmd.Process.Signal(sig) })
			if code != 0 || strings.Contains(out.String(), "socdesk:") || !strings.Contains(out.String(), "shutting down") {
				t.Fatalf("exit status %d after %s:\n%s", code, sig, out.String())
			}
		})
	}
}

// TestMakeRunInterrupted is Ctrl-C on `make run`: the terminal interrupts
// the whole process group; the server stops cleanly with status 0, and make
// ends quietly (it used to say "make: *** [Makefile:11: run] Error 1", as
// `go run` exits 1 when interrupted). Make itself, interrupted, then ends by
// the same SIGINT, as GNU make always does: the shell shows nothing.
func TestMakeRunInterrupted(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("SKIPPED: make is not installed")
	}
	if testing.Short() {
		t.Skip("SKIPPED: builds the server with make (-short)")
	}
	addr := freeAddr(t)
	cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "run")
	cmd.Env = append(os.Environ(), "SOCDESK_DATA_DIR="+t.TempDir(), "SOCDESK_ADDR="+addr, "DATABASE_URL=", "REDIS_URL=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code, sig := runUntilReady(t, cmd, addr, &out, func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) })
	if !(code == 0 || sig == syscall.SIGINT) || strings.Contains(out.String(), "make: ***") || !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("make run: exit status %d (signal %v) after Ctrl-C:\n%s", code, sig, out.String())
	}
}

// runUntilReady starts cmd, waits for its /readyz, stops it with stop and
// returns its exit status, or the signal that ended it.
func runUntilReady(t *testing.T, cmd *exec.Cmd, addr string, out *syncBuffer, stop func() error) (int, syscall.Signal) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if it never gets ready
	waitReady(t, addr, done, 3*time.Minute, out) // make run may build first
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -1, ws.Signal()
			}
			return exit.ExitCode(), 0
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, 0
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("did not stop:\n%s", out.String())
	}
	return -1, 0
}
