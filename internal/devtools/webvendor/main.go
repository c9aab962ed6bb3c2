// Command webvendor refreshes the browser builds socdesk embeds: it copies
// the listed built files of the npm packages pinned in internal/web/npm
// (installed there by `make web-vendor` with npm ci) into
// internal/web/assets/vendor, unchanged, and writes beside them
// LICENSES.txt (the licence of every installed package: the GraphiQL
// bundle contains many of them) and VERSIONS.txt (which package version
// each file comes from).
//
// Run from the module root: go run ./internal/devtools/webvendor
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// files are the built files served, by package: browser (UMD) builds that
// need no bundler. A new file is one line here and one {{asset}} in a page.
var files = []struct{ pkg, path string }{
	{"react", "umd/react.production.min.js"},
	{"react-dom", "umd/react-dom.production.min.js"},
	{"graphiql", "graphiql.min.js"},
	{"graphiql", "graphiql.css"},
	{"graphql-ws", "umd/graphql-ws.min.js"},
	{"chart.js", "dist/chart.umd.min.js"},
}

const (
	modules = "internal/web/npm/node_modules"
	out     = "internal/web/assets/vendor"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webvendor:", err)
		os.Exit(1)
	}
}

type manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	License any    `json:"license"`
}

func readManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

func run() error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var versions strings.Builder
	versions.WriteString("# The embedded browser builds: file, then the npm package it is copied from (make web-vendor).\n")
	for _, f := range files {
		m, err := readManifest(filepath.Join(modules, f.pkg))
		if err != nil {
			return fmt.Errorf("%s is not installed (run make web-vendor): %w", f.pkg, err)
		}
		b, err := os.ReadFile(filepath.Join(modules, f.pkg, f.path))
		if err != nil {
			return err
		}
		name := filepath.Base(f.path)
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&versions, "%s\t%s@%s/%s\n", name, m.Name, m.Version, f.path)
	}
	if err := os.WriteFile(filepath.Join(out, "VERSIONS.txt"), []byte(versions.String()), 0o644); err != nil {
		return err
	}
	return writeLicences()
}

// writeLicences gathers the licence file of every installed package.
func writeLicences() error {
	dirs, err := filepath.Glob(filepath.Join(modules, "*"))
	if err != nil {
		return err
	}
	scoped, _ := filepath.Glob(filepath.Join(modules, "@*", "*"))
	dirs = append(dirs, scoped...)
	sort.Strings(dirs)
	var b strings.Builder
	b.WriteString("Licences of the npm packages whose built files are embedded here (and of the packages bundled into them).\n")
	for _, dir := range dirs {
		m, err := readManifest(dir)
		if err != nil {
			continue // a scope directory, or .package-lock.json
		}
		texts, _ := filepath.Glob(filepath.Join(dir, "[Ll][Ii][Cc][Ee][Nn][CcSs][Ee]*"))
		fmt.Fprintf(&b, "\n==== %s@%s (%v) ====\n", m.Name, m.Version, m.License)
		if len(texts) == 0 {
			b.WriteString("(no licence file in the package; its package.json declares the licence above)\n")
			continue
		}
		t, err := os.ReadFile(texts[0])
		if err != nil {
			return err
		}
		b.Write(t)
		if !strings.HasSuffix(string(t), "\n") {
			b.WriteString("\n")
		}
	}
	return os.WriteFile(filepath.Join(out, "LICENSES.txt"), []byte(b.String()), 0o644)
}
