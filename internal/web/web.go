// Package web serves socdesk's browser pages from files embedded in the
// binary, so that nothing is loaded from outside the server (SOC networks
// are often air-gapped): GraphiQL at / and the live wallboard at
// /wallboard. Their scripts and styles are served under /assets/ by
// content-hashed names with a year's cache; the pages themselves are
// revalidated on every load and carry a Content-Security-Policy that
// allows scripts from the server only (no inline script) and connections
// to the server only.
//
// The third-party builds in assets/vendor are copies of pinned npm
// packages (npm/package.json and its lock; `make web-vendor` refreshes
// them, with their licences in assets/vendor/LICENSES.txt).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed assets pages
var files embed.FS

// AssetPrefix is where the hashed assets are served.
const AssetPrefix = "/assets/"

// The pages' Content-Security-Policy: scripts, styles and connections
// from the server only. GraphiQL's dialogs insert <style> elements when
// they open (react-remove-scroll), hence 'unsafe-inline' for its styles;
// scripts are 'self' alone on both pages.
const (
	cspBase      = "default-src 'none'; script-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
	cspWallboard = cspBase + "style-src 'self'"
	cspGraphiQL  = cspBase + "style-src 'self' 'unsafe-inline'"
)

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// site is the embedded pages and assets, read once.
type site struct {
	assets map[string]asset  // by hashed URL path
	urls   map[string]string // logical name (under assets/) -> hashed URL path
	pages  map[string][]byte // rendered pages, by file name
}

var (
	loadOnce sync.Once
	loaded   *site
	loadErr  error
)

func load() (*site, error) {
	loadOnce.Do(func() { loaded, loadErr = read(files) })
	return loaded, loadErr
}

// read hashes every asset and renders the pages with their hashed URLs.
func read(fsys fs.FS) (*site, error) {
	s := &site{assets: map[string]asset{}, urls: map[string]string{}, pages: map[string][]byte{}}
	err := fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:6])
		name := strings.TrimPrefix(p, "assets/")
		ext := path.Ext(name)
		if strings.HasSuffix(name, ".min"+ext) {
			ext = ".min" + ext
		}
		url := AssetPrefix + strings.TrimSuffix(name, ext) + "." + hash + ext
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.urls[name] = url
		s.assets[url] = asset{body: b, contentType: ct, etag: `"` + hash + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": func(name string) (string, error) {
		u, ok := s.urls[name]
		if !ok {
			return "", fmt.Errorf("no asset %q", name)
		}
		return u, nil
	}}
	pages, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		t, err := template.New(path.Base(p)).Funcs(funcs).ParseFS(fsys, p)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, nil); err != nil {
			return nil, err
		}
		s.pages[path.Base(p)] = buf.Bytes()
	}
	return s, nil
}

// Register adds the pages and their assets to mux: GraphiQL at GET /, the
// wallboard at GET /wallboard, the assets under GET /assets/.
func Register(mux *http.ServeMux) {
	s, err := load()
	if err != nil {
		// The files are embedded: this is a build defect, which the
		// package's tests catch.
		panic("web: reading the embedded pages: " + err.Error())
	}
	mux.Handle("GET /{$}", s.page("graphiql.html", cspGraphiQL))
	mux.Handle("GET /wallboard", s.page("wallboard.html", cspWallboard))
	mux.Handle("GET "+AssetPrefix, http.HandlerFunc(s.serveAsset))
}

func (s *site) page(name, csp string) http.Handler {
	body, ok := s.pages[name]
	if !ok {
		panic("web: no page " + name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(body)
	})
}

// serveAsset serves an asset by its hashed name; its content never changes
// under that name, so it may be cached for a year.
func (s *site) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
