// Package version tells which build of socdesk is running: its version,
// commit, build date and Go version. The Makefile's build sets the first
// three with -ldflags (-X socdesk/internal/version.version=…, .commit=…,
// .date=…); a plain `go build` or `go install` falls back to the module
// version and the VCS stamp Go writes into the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set at build time with -ldflags -X.
var (
	version string
	commit  string
	date    string
)

// Info describes the running build. Without a version set or a module
// version it is "dev"; an unknown commit or date is "unknown" (a test binary,
// or a build without VCS stamping such as -buildvcs=false). Without -ldflags
// the build date is the commit's date: Go stamps no build time.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	// Modified is true when the commit's tree had uncommitted changes
	// (known only from Go's VCS stamp).
	Modified bool `json:"modified,omitempty"`
}

var get = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, date, bi)
})

// Get returns the running build's Info.
func Get() Info { return get() }

// resolve prefers what -ldflags set, then the build info's.
func resolve(version, commit, date string, bi *debug.BuildInfo) Info {
	in := Info{Version: version, Commit: commit, BuildDate: date, GoVersion: runtime.Version()}
	if bi != nil {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version // go install socdesk@v1.2.3
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.BuildDate == "" {
					in.BuildDate = s.Value // the commit's time: Go stamps no build time
				}
			case "vcs.modified":
				in.Modified = s.Value == "true" && commit == ""
			}
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	for _, p := range []*string{&in.Commit, &in.BuildDate} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return in
}

// String is the one line `socdesk version` prints.
func (in Info) String() string {
	c := in.Commit
	if in.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("socdesk %s (commit %s, built %s, %s)", in.Version, c, in.BuildDate, in.GoVersion)
}
