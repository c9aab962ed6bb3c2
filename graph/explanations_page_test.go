package graph_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"socdesk/ent/explanationlink"
)

// browser is a cookie-keeping HTTP client of the personal pages.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	url string
}

func (e *env) browser(t *testing.T, token string) *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	return &browser{t: t, e: e, c: &c, url: e.srv.URL + "/explain/" + token}
}

type page struct {
	status        int
	header        http.Header
	body          string
	csrf, version string
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	versionField = regexp.MustCompile(`name="version" value="(\d+)"`)
)

func (b *browser) read(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		p.csrf = m[1]
	}
	if m := versionField.FindStringSubmatch(p.body); m != nil {
		p.version = m[1]
	}
	return p
}

func (b *browser) get() page { b.t.Helper(); return b.read(b.c.Get(b.url)) }

func (b *browser) post(form url.Values) page {
	b.t.Helper()
	return b.read(b.c.PostForm(b.url, form))
}

// act loads the page and posts action with comment through its form.
func (b *browser) act(action, comment string) page {
	b.t.Helper()
	p := b.get()
	if p.status != http.StatusOK || p.csrf == "" {
		b.t.Fatalf("page %d without a form: %s", p.status, p.body)
	}
	if !strings.Contains(p.body, `value="`+action+`"`) {
		b.t.Fatalf("the page offers no %s: %s", action, p.body)
	}
	return b.post(url.Values{"csrf": {p.csrf}, "version": {p.version}, "action": {action}, "comment": {comment}})
}

func wantPage(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d: %s", p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Fatalf("the page lacks %q: %s", s, p.body)
		}
	}
}

// TestExplanationPage: the whole flow through the personal pages (form
// posts over real HTTP), with and without an auditor; the headers; CSRF
// refusals; one answer to a link that opens nothing.
func TestExplanationPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		r := w.create(nil)
		vio := e.browser(t, w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR))
		mgr := e.browser(t, w.link(r.ID, w.manager, explanationlink.RoleMANAGER))

		p := vio.get()
		wantPage(t, p, http.StatusOK, "Suspicious login", "10.0.0.1", "Why did you upload the customer list?", `value="SUBMIT"`, "Vic Violator")
		for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
			if got := p.header.Get(h); got != want {
				t.Fatalf("%s: %q, want %q", h, got, want)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script") {
			t.Fatalf("CSP %q", csp)
		}
		if strings.Contains(p.body, "<script") {
			t.Fatal("the page has a script")
		}
		if c := p.header.Get("Set-Cookie"); !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "HttpOnly") {
			t.Fatalf("cookie %q", c)
		}

		// CSRF: a post without the page's cookie (another site's form), or
		// with a forged field, changes nothing.
		forged := e.browser(t, strings.TrimPrefix(vio.url, e.srv.URL+"/explain/"))
		wantPage(t, forged.post(url.Values{"csrf": {p.csrf}, "version": {p.version}, "action": {"SUBMIT"}, "comment": {"forged"}}), http.StatusForbidden, "Nothing was changed")
		wantPage(t, vio.post(url.Values{"csrf": {strings.Repeat("0", 64)}, "action": {"SUBMIT"}, "comment": {"forged"}}), http.StatusForbidden)
		if w.get(r.ID).Status != "NEW" {
			t.Fatal("a forged post answered")
		}

		wantPage(t, vio.act("SUBMIT", " "), http.StatusBadRequest, "Nothing was changed")
		wantPage(t, vio.act("SUBMIT", "It was a mistake."), http.StatusOK, "Thank you", "SUBMITTED", "It was a mistake.")
		wantPage(t, vio.get(), http.StatusOK, "nothing for you to do")
		wantPage(t, mgr.get(), http.StatusOK, `value="RETURN"`, `value="ACCEPT"`, "It was a mistake.")
		wantPage(t, mgr.act("RETURN", ""), http.StatusBadRequest, "Nothing was changed")
		wantPage(t, mgr.act("RETURN", "Say more."), http.StatusOK, "RETURNED")
		wantPage(t, vio.act("SUBMIT", "More."), http.StatusOK, "SUBMITTED")
		// A stale form (another tab took the step) is refused.
		stale := mgr.get()
		wantPage(t, mgr.act("ACCEPT", ""), http.StatusOK, "CLOSED", "will not open it again")
		wantPage(t, mgr.post(url.Values{"csrf": {stale.csrf}, "version": {stale.version}, "action": {"ACCEPT"}}), http.StatusNotFound)
		if got := w.get(r.ID); got.Status != "CLOSED" || len(got.Steps) != 5 {
			t.Fatalf("after the page flow: %+v", got)
		}

		// Ended, made up, or not a token at all: the same plain 404.
		ended := vio.get()
		for _, other := range []string{"sdx_" + strings.Repeat("Q", 43), "nothing"} {
			p := e.browser(t, other).get()
			if p.status != http.StatusNotFound || p.body != ended.body || ended.status != http.StatusNotFound {
				t.Fatalf("%s: %d %q; ended: %d %q", other, p.status, p.body, ended.status, ended.body)
			}
		}

		// With an auditor.
		a := w.create(func(in map[string]any) { in["auditorID"] = gid(w.auditor.ID) })
		vio = e.browser(t, w.link(a.ID, w.violator, explanationlink.RoleVIOLATOR))
		mgr = e.browser(t, w.link(a.ID, w.manager, explanationlink.RoleMANAGER))
		aud := e.browser(t, w.link(a.ID, w.auditor, explanationlink.RoleAUDITOR))
		wantPage(t, aud.get(), http.StatusOK, "nothing for you to do")
		wantPage(t, vio.act("SUBMIT", "Answer."), http.StatusOK)
		wantPage(t, mgr.act("ACCEPT", ""), http.StatusOK, "AWAITING")
		wantPage(t, aud.act("AUDIT_RETURN", "Why?"), http.StatusOK, "AUDIT_RETURNED")
		wantPage(t, vio.act("SUBMIT", "Because."), http.StatusOK)
		wantPage(t, mgr.act("ACCEPT", ""), http.StatusOK)
		wantPage(t, aud.act("AUDIT_COMPLETE", ""), http.StatusOK, "AUDIT_COMPLETED")
		wantPage(t, aud.get(), http.StatusNotFound)
		if got := w.get(a.ID); got.Status != "AUDIT_COMPLETED" || *got.Ticket.ExplanationStatus != "AUDIT_COMPLETED" {
			t.Fatalf("after the auditor's page flow: %+v", got)
		}
	})
}
