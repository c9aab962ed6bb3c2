package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func stamped(settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "socdesk", Version: "(devel)"}}
	for i := 0; i < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

// TestResolve: what -ldflags set wins; without it the binary's VCS stamp
// and module version tell; without either the parts say they are unknown.
func TestResolve(t *testing.T) {
	vcs := stamped("vcs", "git", "vcs.revision", "0123abcd", "vcs.time", "2026-11-30T10:00:00Z", "vcs.modified", "true")
	for _, c := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
	}{
		{"make build", "v1.4.0", "feedface", "2026-12-01T00:00:00Z", vcs,
			Info{Version: "v1.4.0", Commit: "feedface", BuildDate: "2026-12-01T00:00:00Z", GoVersion: "go1.99.1"}},
		{"go build in a checkout", "", "", "", vcs,
			Info{Version: "dev", Commit: "0123abcd", BuildDate: "2026-11-30T10:00:00Z", GoVersion: "go1.99.1", Modified: true}},
		{"go install socdesk@v1.4.0", "", "", "", &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.4.0"}},
			Info{Version: "v1.4.0", Commit: "unknown", BuildDate: "unknown", GoVersion: "go1.99.1"}},
		{"no build info", "", "", "", nil,
			Info{Version: "dev", Commit: "unknown", BuildDate: "unknown", GoVersion: runtime.Version()}},
	} {
		if got := resolve(c.version, c.commit, c.date, c.bi); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	s := Info{Version: "v1.4.0", Commit: "0123abcd", BuildDate: "2026-11-30T10:00:00Z", GoVersion: "go1.99.1", Modified: true}.String()
	for _, part := range []string{"socdesk v1.4.0", "commit 0123abcd (modified)", "built 2026-11-30T10:00:00Z", "go1.99.1"} {
		if !strings.Contains(s, part) {
			t.Errorf("%q lacks %q", s, part)
		}
	}
}
