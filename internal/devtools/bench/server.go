package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// serverProc is a `socdesk serve` the runner started.
type serverProc struct {
	cmd     *exec.Cmd
	Base    string // http://127.0.0.1:port
	PID     int
	exited  chan error
	stopped bool
	logf    func(string, ...any)
	logFile *os.File
}

// startServer starts `socdesk serve` on a free port with env, its output
// appended to logPath, and waits until it is ready.
func startServer(ctx context.Context, socdesk string, env []string, logPath string, logf func(string, ...any)) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(socdesk, "serve", "--addr", addr)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &serverProc{cmd: cmd, Base: "http://" + addr, PID: cmd.Process.Pid, exited: make(chan error, 1), logf: logf, logFile: logFile}
	go func() { s.exited <- cmd.Wait() }()
	if err := waitReady(ctx, s.Base, s.exited, 60*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w (server log: %s)", err, logPath)
	}
	return s, nil
}

// Exited tells whether the server ended on its own (and how).
func (s *serverProc) Exited() (bool, error) {
	if s.stopped {
		return false, nil
	}
	select {
	case err := <-s.exited:
		s.stopped = true
		return true, err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits (kills after 40 s). It may be called again.
func (s *serverProc) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	defer s.logFile.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.logf("server %d stopped (%v)", s.PID, exitStatus(err))
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.logf("server %d killed: it did not stop within 40s of SIGTERM", s.PID)
	}
}
