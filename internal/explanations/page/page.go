// Package page is the personal page of an explanation request: GET
// /explain/{token} shows the request its link opens (that request only,
// its evidence and steps) and a form with the holder's actions; POST takes
// one (the violator's answer as a multipart form with its files); GET
// /explain/{token}/attachments/{id} downloads a file of the request's
// answers. Server-rendered with html/template, without JavaScript; the form is
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
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"socdesk/graph/scalar"
	"socdesk/internal/attachments"
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
	// Answers: the form is the violator's answer, which carries files.
	Answers     bool
	MaxFiles    int
	MaxFileSize string
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
	if r.PathValue("id") != "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hdr.Set("Allow", "GET, HEAD")
			h.render(w, r, http.StatusMethodNotAllowed, data{Title: "Not allowed", Problem: "A file is only downloaded."})
			return
		}
		h.download(w, r, token)
		return
	}
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
		d.Answers = slices.Contains(v.Actions, explanations.Submit)
		d.MaxFiles, d.MaxFileSize = explanations.MaxAnswerFiles, size(h.Explanations.Attachments.MaxBytes)
	}
	h.render(w, r, status, d)
}

// act takes the posted action: a urlencoded form, or a multipart one
// carrying an answer's files (streamed into staging as they come, after
// the CSRF field, each bounded by the attachments' limit).
func (h *Handler) act(w http.ResponseWriter, r *http.Request, token string) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		h.forged(w, r, token)
		return
	}
	f, err := h.read(w, r, token, c.Value)
	defer func() {
		for _, file := range f.files {
			h.Explanations.Attachments.Discard(r.Context(), file.Content.(*attachments.Staged))
		}
	}()
	switch {
	case errors.Is(err, errForged):
		h.forged(w, r, token)
		return
	case err != nil:
		e, ok := errs.As(err)
		if !ok {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				e = errs.Invalid("files", "are larger than %d bytes together", tooLarge.Limit-maxFormBytes)
			} else {
				e = errs.Invalid("form", "could not be read")
			}
		}
		h.refused(w, r, token, e)
		return
	}
	v, err := h.Explanations.ActByLink(r.Context(), token, f.action, f.comment, f.files, f.version)
	if err != nil {
		e, ok := errs.As(err)
		if !ok {
			h.fail(w, r, err)
			return
		}
		h.refused(w, r, token, e)
		return
	}
	notice := "Thank you: recorded."
	if explanations.IsEnded(v.Status) {
		notice = "Thank you: the request is now " + string(v.Status) + ". This link will not open it again."
		v.Actions = nil
	}
	h.page(w, r, token, v, http.StatusOK, notice, "")
}

// form is a posted form.
type form struct {
	action  explanations.Action
	comment string
	version *int
	files   []explanations.File // each Content a *attachments.Staged
}

// errForged: the form did not come from this page in this browser.
var errForged = errors.New("page: the form's CSRF value does not match")

// read reads the posted form; a multipart one's files are staged, and only
// once its csrf field (the form's first) matched nonce. What it returns,
// even with an error, the caller Discards.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, token, nonce string) (form, error) {
	var f form
	set := func(name, value string) {
		switch name {
		case "action":
			f.action = explanations.Action(value)
		case "comment":
			f.comment = value
		case "version":
			if v, err := strconv.Atoi(value); err == nil {
				f.version = &v
			}
		}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return f, err
		}
		if !hmac.Equal([]byte(mac(token, nonce)), []byte(r.PostFormValue("csrf"))) {
			return f, errForged
		}
		for _, name := range []string{"action", "comment", "version"} {
			set(name, r.PostFormValue(name))
		}
		return f, nil
	}
	// The files' bytes count against the attachments' limit (each in
	// Stage, all together here); the fields against maxFormBytes.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes+h.Explanations.Attachments.MaxBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, err
	}
	checked, fieldBytes := false, 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return f, err
		}
		name := p.FormName()
		if p.FileName() == "" && name != "files" {
			b, err := io.ReadAll(io.LimitReader(p, int64(maxFormBytes-fieldBytes+1)))
			if err != nil {
				return f, err
			}
			if fieldBytes += len(b); fieldBytes > maxFormBytes {
				return f, errs.Invalid("form", "is larger than %d bytes without its files", maxFormBytes)
			}
			if name == "csrf" {
				if !hmac.Equal([]byte(mac(token, nonce)), b) {
					return f, errForged
				}
				checked = true
			} else {
				set(name, string(b))
			}
			continue
		}
		if !checked {
			return f, errForged // files before the CSRF field: nothing is stored
		}
		if name != "files" {
			return f, errs.Invalid("form", "has an unexpected file field %q", name)
		}
		if p.FileName() == "" { // the field, with no file chosen
			continue
		}
		if len(f.files) == explanations.MaxAnswerFiles {
			return f, errs.Invalid("files", "has more than %d files; an answer carries at most %d", explanations.MaxAnswerFiles, explanations.MaxAnswerFiles)
		}
		st, err := h.Explanations.Attachments.Take(r.Context(), fmt.Sprintf("files[%d]", len(f.files)), p)
		if err != nil {
			return f, err
		}
		f.files = append(f.files, explanations.File{Content: st, Filename: p.FileName()})
	}
	if !checked {
		return f, errForged
	}
	return f, nil
}

// forged answers a form that did not come from this page in this browser
// (or expired): nothing is done.
func (h *Handler) forged(w http.ResponseWriter, r *http.Request, token string) {
	if _, err := h.Explanations.View(r.Context(), token); err != nil {
		h.fail(w, r, err)
		return
	}
	h.show(w, r, token, http.StatusForbidden, "", "The form has expired or did not come from this page. Nothing was changed: please try again.")
}

// refused shows the page again with why nothing was done.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, token string, e *errs.Error) {
	status := http.StatusBadRequest
	switch e.Code {
	case errs.NotFound, errs.Unauthenticated:
		h.fail(w, r, e)
		return
	case errs.Conflict, errs.InvalidTransition:
		status = http.StatusConflict
	case errs.Forbidden:
		status = http.StatusForbidden
	}
	msg := e.Message
	switch {
	case e.Field == "text" || e.Field == "comment":
		msg = "Your text " + msg + "."
	case strings.HasPrefix(e.Field, "files"):
		msg = "Your files: " + msg + "."
	}
	h.show(w, r, token, status, "", "Nothing was changed: "+msg)
}

// download serves a file of the request's answers to the link's holder.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, token string) {
	id, err := scalar.DecodeID(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, errs.New(errs.NotFound, "no such file"))
		return
	}
	a, err := h.Explanations.LinkAttachment(r.Context(), token, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Explanations.Attachments.Serve(w, r, a)
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

// size says n bytes for people.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// mac is the form's CSRF value for the page of token with nonce: only the
// page's own response knows both.
func mac(token, nonce string) string {
	m := hmac.New(sha256.New, []byte(link.Hash(token)))
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}
