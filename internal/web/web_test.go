package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	Register(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w
}

var (
	refs         = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	scriptTags   = regexp.MustCompile(`<script[^>]*>`)
	externalURLs = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]`)
)

// The pages load only assets the server has, under hashed names cached for
// a year, with no inline script and a policy that forbids others.
func TestPagesLoadOnlyEmbeddedAssets(t *testing.T) {
	for _, page := range []string{"/", "/wallboard"} {
		t.Run(page, func(t *testing.T) {
			w := serve(t, httptest.NewRequest(http.MethodGet, page, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", page, w.Code)
			}
			h := w.Header()
			if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := h.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache (a page names the current assets)", got)
			}
			policy := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(policy, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", policy, want)
				}
			}
			// Only GraphiQL's styles may be inline (its dialogs insert them).
			if page == "/wallboard" && strings.Contains(policy, "unsafe-inline") {
				t.Errorf("the wallboard's Content-Security-Policy %q allows inline code", policy)
			}
			body := w.Body.String()
			if m := externalURLs.FindString(body); m != "" {
				t.Errorf("the page names another host: %q", m)
			}
			for _, tag := range scriptTags.FindAllString(body, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("inline script: %s", tag)
				}
			}
			found := refs.FindAllStringSubmatch(body, -1)
			if len(found) < 3 {
				t.Fatalf("only %d assets referenced: %s", len(found), body)
			}
			for _, m := range found {
				u := m[1]
				if u == "data:," { // the empty icon: no /favicon.ico request
					continue
				}
				if !strings.HasPrefix(u, AssetPrefix) {
					t.Errorf("reference %q is not an embedded asset", u)
					continue
				}
				a := serve(t, httptest.NewRequest(http.MethodGet, u, nil))
				if a.Code != http.StatusOK || a.Body.Len() == 0 {
					t.Errorf("GET %s: %d, %d bytes", u, a.Code, a.Body.Len())
				}
				if got := a.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
					t.Errorf("%s: Cache-Control = %q", u, got)
				}
				ct := a.Header().Get("Content-Type")
				if (strings.HasSuffix(u, ".js") && !strings.HasPrefix(ct, "text/javascript")) || (strings.HasSuffix(u, ".css") && !strings.HasPrefix(ct, "text/css")) {
					t.Errorf("%s: Content-Type = %q", u, ct)
				}
			}
		})
	}
}

// An asset's name changes with its content, so a cached old copy is never
// used for a new one; names the server did not give are not found.
func TestAssetNamesFollowContent(t *testing.T) {
	page := &fstest.MapFile{Data: []byte(`<script src="{{asset "app.js"}}"></script>`)}
	v1, err := read(fstest.MapFS{"assets/app.js": {Data: []byte("one")}, "pages/p.html": page})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := read(fstest.MapFS{"assets/app.js": {Data: []byte("two")}, "pages/p.html": page})
	if err != nil {
		t.Fatal(err)
	}
	u1, u2 := v1.urls["app.js"], v2.urls["app.js"]
	if u1 == u2 || !regexp.MustCompile(`^/assets/app\.[0-9a-f]{12}\.js$`).MatchString(u1) {
		t.Fatalf("URLs %q and %q: want /assets/app.<hash>.js, differing with the content", u1, u2)
	}
	if !strings.Contains(string(v1.pages["p.html"]), u1) {
		t.Errorf("page = %s, want it to name %s", v1.pages["p.html"], u1)
	}
	if _, err := read(fstest.MapFS{"assets/other.js": {Data: []byte("x")}, "pages/p.html": page}); err == nil || !strings.Contains(err.Error(), `no asset "app.js"`) {
		t.Errorf("a page naming a missing asset: err = %v, want it refused", err)
	}

	for _, path := range []string{"/assets/vendor/graphiql.min.js", "/assets/vendor/graphiql.000000000000.min.js", "/assets/"} {
		if w := serve(t, httptest.NewRequest(http.MethodGet, path, nil)); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
	}
}

// A browser that has the asset is told so without the body.
func TestAssetRevalidation(t *testing.T) {
	s, err := load()
	if err != nil {
		t.Fatal(err)
	}
	u := s.urls["wallboard.js"]
	first := serve(t, httptest.NewRequest(http.MethodGet, u, nil))
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("GET %s: %d, ETag %q", u, first.Code, etag)
	}
	req := httptest.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", etag)
	if w := serve(t, req); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("GET with If-None-Match: %d, %d bytes; want 304 and no body", w.Code, w.Body.Len())
	}
}

// The embedded copies are those of the pinned packages, each with its
// licence: a version changed in npm/package.json without `make
// web-vendor` fails here.
func TestVendoredBuildsMatchThePins(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("npm/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	versions, err := os.ReadFile("assets/vendor/VERSIONS.txt")
	if err != nil {
		t.Fatal(err)
	}
	licences, err := os.ReadFile("assets/vendor/LICENSES.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(string(versions)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		file, from, ok := strings.Cut(line, "\t")
		// from is name@version/path; a scoped name starts with @.
		at := strings.LastIndex(from, "@")
		slash := strings.Index(from[at:], "/")
		if !ok || at <= 0 || slash < 0 {
			t.Fatalf("VERSIONS.txt line %q", line)
		}
		name, version := from[:at], from[at+1:at+slash]
		if pinned := pkg.Dependencies[name]; pinned != version {
			t.Errorf("%s comes from %s@%s, but npm/package.json pins %q: run make web-vendor", file, name, version, pinned)
		}
		if _, err := os.Stat("assets/vendor/" + file); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		if !strings.Contains(string(licences), "==== "+name+"@"+version+" (") {
			t.Errorf("LICENSES.txt has no licence of %s@%s", name, version)
		}
	}
	if lines < 6 {
		t.Errorf("VERSIONS.txt lists %d files, want the 6 builds the pages load", lines)
	}
}
