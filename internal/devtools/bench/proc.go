package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RaiseFileLimit raises the soft limit of open files to the hard limit and
// returns the new soft and hard limits. (Go programs do this at startup on
// Linux anyway; doing it explicitly makes it independent of that, and lets the
// caller check the result.)
func RaiseFileLimit() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, lim.Max, err
		}
	}
	return lim.Cur, lim.Max, nil
}

// ProcStat is what /proc tells about a process.
type ProcStat struct {
	RSSKiB  int64 `json:"rss_kib"` // VmRSS
	HWMKiB  int64 `json:"hwm_kib"` // VmHWM, the peak RSS
	Threads int   `json:"threads"` // OS threads
	FDs     int   `json:"fds"`     // open file descriptors (-1 when unreadable)
	CPUms   int64 `json:"cpu_ms"`  // user + system CPU time used so far
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// ReadProc reads /proc/PID (pid 0: this process).
func ReadProc(pid int) (ProcStat, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var ps ProcStat
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return ps, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			ps.RSSKiB = n
		case "VmHWM":
			ps.HWMKiB = n
		case "Threads":
			ps.Threads = int(n)
		}
	}
	if ps.RSSKiB == 0 {
		return ps, fmt.Errorf("%s/status: no VmRSS (is the process gone?)", dir)
	}
	ps.FDs = -1
	if ents, err := os.ReadDir(dir + "/fd"); err == nil {
		ps.FDs = len(ents)
	}
	if st, err := os.ReadFile(dir + "/stat"); err == nil {
		// The command name (field 2) is in parentheses and may hold spaces:
		// count fields after the last ')'. utime and stime are fields 14, 15.
		if i := bytes.LastIndexByte(st, ')'); i >= 0 {
			f := strings.Fields(string(st[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				ps.CPUms = (u + s) * int64(clockTick/time.Millisecond)
			}
		}
	}
	return ps, nil
}

// FileLimit returns the soft limit of open files of process pid from
// /proc/PID/limits.
func FileLimit(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
			if len(f) > 0 {
				if f[0] == "unlimited" {
					return -1, nil
				}
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/limits: no Max open files line", pid)
}
