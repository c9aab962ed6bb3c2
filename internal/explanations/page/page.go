// Package page is the personal page of an explanation request: GET
// /explain/{token} shows the request its link opens (that request only,
// its evidence and steps) and a form with the holder's actions; POST takes
// one. Server-rendered with html/template, without JavaScript; the form is
// CSRF-protected by a SameSite=Strict cookie holding a nonce and a form
// field holding the HMAC of that nonce keyed by the link's hash; the
// responses forbid framing, caching, referrers and any script.
package page

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"socdesk/internal/errs"
	"socdesk/internal/explanations"
	"socdesk/internal/explanations/link"
)

//go:embed page.html
var pageHTML string

const style = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}` +
	`main{max-width:48rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #d0d7de;border-radius:6px}` +
	`dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}` +
	`pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5rem}` +
	`textarea{width:100%;box-sizing:border-box}button{margin-right:.5rem;padding:.4rem 1rem}` +
	`.notice{background:#dafbe1;padding:.5rem}.problem{background:#ffebe9;padding:.5rem}.message{white-space:pre-wrap}`

var (
	tmpl = template.Must(template.New("page").Parse(pageHTML))
	// csp allows nothing but the page's own style element and posting its
	// form to itself.
	csp = func() string {
		sum := sha256.Sum256([]byte(style))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	}()
)

// cookieName is the CSRF cookie's.
const cookieName = "sdx_csrf"

// maxFormBytes bounds a posted form.
const maxFormBytes = 64 << 10

// Handler serves /explain/{token}.
type Handler struct {
	Explanations *explanations.Service
	Log          *slog.Logger
}

type data struct {
	Title, Notice, Problem string
	View                   *explanations.View
	Records                []string
	CSRF                   string
	Style                  template.CSS
}

// Label is the button of an action.
func (data) Label(a explanations.Action) string {
	switch a {
	case explanations.Submit:
		return "Submit explanation"
	case explanations.Return:
		return "Return to the violator"
	case explanations.Accept:
		return "Accept"
	case explanations.AuditReturn:
		return "Return to the violator"
	case explanations.AuditComplete:
		return "Complete the audit"
	}
	return string(a)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	token := r.PathValue("token")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.show(w, r, token, http.StatusOK, "", "")
	case http.MethodPost:
		h.act(w, r, token)
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		h.render(w, r, http.StatusMethodNotAllowed, data{Title: "Not allowed", Problem: "This page takes only GET and POST."})
	}
}

// show renders the request token opens, or the one page of a link that
// opens nothing (404, whether it never existed or its request ended).
func (h *Handler) show(w http.ResponseWriter, r *http.Request, token string, status int, notice, problem string) {
	v, err := h.Explanations.View(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.page(w, r, token, v, status, notice, problem)
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request, token string, v *explanations.View, status int, notice, problem string) {
	d := data{View: v, Notice: notice, Problem: problem}
	for _, rec := range v.Evidence {
		b, _ := json.MarshalIndent(rec, "", "  ")
		d.Records = append(d.Records, string(b))
	}
	if len(v.Actions) > 0 {
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		n := hex.EncodeToString(nonce)
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: n, Path: "/explain/", HttpOnly: true,
			Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"), SameSite: http.SameSiteStrictMode})
		d.CSRF = mac(token, n)
	}
	h.render(w, r, status, d)
}

// act takes the posted action.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, token string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, data{Title: "Bad request", Problem: "The form could not be read."})
		return
	}
	c, err := r.Cookie(cookieName)
	if err != nil || !hmac.Equal([]byte(mac(token, c.Value)), []byte(r.PostFormValue("csrf"))) {
		// The form did not come from this page in this browser (or it
		// expired): nothing is done.
		if _, err := h.Explanations.View(r.Context(), token); err != nil {
			h.fail(w, r, err)
			return
		}
		h.show(w, r, token, http.StatusForbidden, "", "The form has expired or did not come from this page. Nothing was changed: please try again.")
		return
	}
	action := explanations.Action(r.PostFormValue("action"))
	var version *int
	if v, err := strconv.Atoi(r.PostFormValue("version")); err == nil {
		version = &v
	}
	v, err := h.Explanations.ActByLink(r.Context(), token, action, r.PostFormValue("comment"), version)
	if err != nil {
		e, ok := errs.As(err)
		if !ok {
			h.fail(w, r, err)
			return
		}
		status := http.StatusBadRequest
		switch e.Code {
		case errs.NotFound, errs.Unauthenticated:
			h.fail(w, r, err)
			return
		case errs.Conflict, errs.InvalidTransition:
			status = http.StatusConflict
		case errs.Forbidden:
			status = http.StatusForbidden
		}
		msg := e.Message
		if e.Field == "text" || e.Field == "comment" {
			msg = "Your text " + msg + "."
		}
		h.show(w, r, token, status, "", "Nothing was changed: "+msg)
		return
	}
	notice := "Thank you: recorded."
	if explanations.IsEnded(v.Status) {
		notice = "Thank you: the request is now " + string(v.Status) + ". This link will not open it again."
		v.Actions = nil
	}
	h.page(w, r, token, v, http.StatusOK, notice, "")
}

// fail answers a link that opens nothing with a plain 404 that does not
// say whether it ever existed, and anything else as an internal error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := errs.As(err); ok && (e.Code == errs.NotFound || e.Code == errs.Unauthenticated) {
		h.render(w, r, http.StatusNotFound, data{Title: "Link not valid", Problem: "This link is not valid. If you were asked for an explanation, use the latest link you were sent."})
		return
	}
	if h.Log != nil && !errorsIsCanceled(r.Context()) {
		h.Log.Error("explanation page", "err", err)
	}
	h.render(w, r, http.StatusInternalServerError, data{Title: "Error", Problem: "Something went wrong. Please try again later."})
}

func errorsIsCanceled(ctx context.Context) bool { return ctx.Err() != nil }

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d data) {
	d.Style = template.CSS(style)
	var b bytes.Buffer
	if err := tmpl.Execute(&b, d); err != nil {
		if h.Log != nil {
			h.Log.Error("explanation page template", "err", err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// mac is the form's CSRF value for the page of token with nonce: only the
// page's own response knows both.
func mac(token, nonce string) string {
	m := hmac.New(sha256.New, []byte(link.Hash(token)))
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}
