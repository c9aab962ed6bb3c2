package graph_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent/attachment"
	"socdesk/ent/explanationlink"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
)

// formPart is one part of a page's multipart form, in the order given.
type formPart struct {
	name, filename, value string
}

// postMultipart posts the parts to the page as a browser's multipart form.
func (b *browser) postMultipart(parts ...formPart) page {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" && p.name != "files" {
			_ = w.WriteField(p.name, p.value)
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
		h.Set("Content-Type", "text/plain") // what a client claims: not trusted
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write([]byte(p.value))
	}
	_ = w.Close()
	return b.read(b.c.Post(b.url, w.FormDataContentType(), &buf))
}

// answerWithFiles loads the page and posts its form with the files, the
// action last as a browser puts the submit button after the file field.
func (b *browser) answerWithFiles(action, comment string, files ...formPart) page {
	b.t.Helper()
	p := b.get()
	if p.status != http.StatusOK || p.csrf == "" {
		b.t.Fatalf("page %d without a form: %s", p.status, p.body)
	}
	parts := []formPart{{name: "csrf", value: p.csrf}, {name: "version", value: p.version}, {name: "comment", value: comment}}
	parts = append(parts, files...)
	return b.postMultipart(append(parts, formPart{name: "action", value: action})...)
}

// download gets a file by the path of its URL, as the page links it.
func (b *browser) download(fileURL string, hdr map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	u, err := url.Parse(fileURL)
	if err != nil {
		b.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+u.Path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

const linkViewFiles = `query { explanationLink { status steps { action attachments { filename contentType size sha256 downloadURL } } } }`

type linkFile struct {
	Filename, ContentType, Sha256, DownloadURL string
	Size                                       int64
}

// linkFiles reads the request's answers' files as the holder of token
// sees them over GraphQL, by step.
func (w *expWorld) linkFiles(token string) [][]linkFile {
	w.e.t.Helper()
	var d struct {
		ExplanationLink struct {
			Steps []struct {
				Action      string
				Attachments []linkFile
			}
		}
	}
	w.e.do(token, linkViewFiles, nil).ok().into(&d)
	var out [][]linkFile
	for _, s := range d.ExplanationLink.Steps {
		if s.Action == "SUBMIT" {
			out = append(out, s.Attachments)
		}
	}
	return out
}

// stored is what the blob store holds: contents and staged objects.
func (e *env) stored() (contents, staged []string) {
	for _, k := range e.objects("") {
		if strings.HasPrefix(k, "staging/") {
			staged = append(staged, k)
		} else {
			contents = append(contents, k)
		}
	}
	return contents, staged
}

// TestExplanationAnswerFiles: a violator's answer carries files, through
// the personal page (a multipart form) and through GraphQL (the multipart
// request spec): they are attached to the answer's step with the violator
// as uploader, in the ticket's history, listed for the manager's review
// and downloadable through the holder's link only (headers, ranges), by
// the ticket's editors as attachments; the same file twice is stored once;
// every refusal (files on a review, files before the CSRF field, a forged
// form, too many, too large, a step the table refuses) keeps no file.
func TestExplanationAnswerFiles(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			cfg := config.Default()
			cfg.MaxUploadBytes = 32 << 10
			e := newEnvWith(t, backend, cfg)
			w := newExpWorld(e)
			r := w.create(nil)
			vioTok := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)
			mgrTok := w.link(r.ID, w.manager, explanationlink.RoleMANAGER)
			vio, mgr := e.browser(t, vioTok), e.browser(t, mgrTok)
			nothingNew := func(t *testing.T, what string, attachments int, contents []string) {
				t.Helper()
				if n := e.client.Attachment.Query().CountX(sys()); n != attachments {
					t.Fatalf("%s: %d attachments, want %d", what, n, attachments)
				}
				c, s := e.stored()
				if !slices.Equal(c, contents) || len(s) > 0 {
					t.Fatalf("%s: the store holds %v and staged %v, want %v", what, c, s, contents)
				}
			}

			// The violator's form takes files.
			p := vio.get()
			wantPage(t, p, http.StatusOK, `enctype="multipart/form-data"`, `type="file" id="files" name="files" multiple`, "at most 10, 32 KiB each")

			// Refusals before any answer: nothing is stored.
			t.Run("files before the CSRF field", func(t *testing.T) {
				p := vio.get()
				wantPage(t, vio.postMultipart(formPart{name: "files", filename: "a.txt", value: "early"},
					formPart{name: "csrf", value: p.csrf}, formPart{name: "action", value: "SUBMIT"}), http.StatusForbidden, "Nothing was changed")
				nothingNew(t, "files before the CSRF field", 0, nil)
			})
			t.Run("forged form", func(t *testing.T) {
				vio.get()
				wantPage(t, vio.postMultipart(formPart{name: "csrf", value: strings.Repeat("0", 64)},
					formPart{name: "files", filename: "a.txt", value: "x"}, formPart{name: "action", value: "SUBMIT"}), http.StatusForbidden)
				nothingNew(t, "a forged form", 0, nil)
			})
			t.Run("too many files", func(t *testing.T) {
				var files []formPart
				for i := range 11 {
					files = append(files, formPart{name: "files", filename: fmt.Sprintf("f%d.txt", i), value: fmt.Sprint("file ", i)})
				}
				wantPage(t, vio.answerWithFiles("SUBMIT", "eleven", files...), http.StatusBadRequest, "Your files: has more than 10 files")
				nothingNew(t, "eleven files", 0, nil)
			})
			t.Run("a file too large", func(t *testing.T) {
				wantPage(t, vio.answerWithFiles("SUBMIT", "big", formPart{name: "files", filename: "ok.txt", value: "small"},
					formPart{name: "files", filename: "big.bin", value: strings.Repeat("b", 33<<10)}),
					http.StatusBadRequest, "Your files: is larger than 32768 bytes")
				nothingNew(t, "a file too large", 0, nil)
			})
			if got := w.get(r.ID); got.Status != "NEW" {
				t.Fatalf("after the refusals the request is %s", got.Status)
			}

			// The answer through the page, with a PNG claimed as text and a
			// text file; a field with no file chosen is skipped.
			p = vio.answerWithFiles("SUBMIT", "It was a test.", formPart{name: "files", filename: `C:\Users\vic\shot.png`, value: string(pngBytes)},
				formPart{name: "files", filename: "notes.txt", value: "the notes"}, formPart{name: "files", filename: ""})
			wantPage(t, p, http.StatusOK, "Thank you: recorded.", ">shot.png</a>", ">notes.txt</a>", "image/png")
			files := w.linkFiles(mgrTok)
			if len(files) != 1 || len(files[0]) != 2 || files[0][0].Filename != "shot.png" || files[0][0].ContentType != "image/png" ||
				files[0][0].Size != int64(len(pngBytes)) || files[0][1].Filename != "notes.txt" || !strings.HasPrefix(files[0][1].ContentType, "text/plain") {
				t.Fatalf("the manager sees %+v", files)
			}
			contents, _ := e.stored()
			if len(contents) != 2 {
				t.Fatalf("stored %v", contents)
			}
			t.Run("files on a review", func(t *testing.T) {
				p := mgr.get()
				if !strings.Contains(p.body, `value="RETURN"`) || strings.Contains(p.body, `type="file"`) {
					t.Fatalf("the manager's form: %s", p.body)
				}
				wantPage(t, mgr.postMultipart(formPart{name: "csrf", value: p.csrf}, formPart{name: "comment", value: "no"},
					formPart{name: "files", filename: "m.txt", value: "manager's"}, formPart{name: "action", value: "RETURN"}),
					http.StatusBadRequest, "only an answer (SUBMIT) carries files")
				nothingNew(t, "files on a review", 2, contents)
			})

			// The manager downloads through their own link: the page's
			// headers, a range, the ETag.
			shot := files[0][0]
			if !strings.Contains(shot.DownloadURL, "/explain/"+mgrTok+"/attachments/") {
				t.Fatalf("downloadURL %s", shot.DownloadURL)
			}
			resp, body := mgr.download(shot.DownloadURL, nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngBytes) || resp.Header.Get("Content-Type") != "image/png" ||
				!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
				resp.Header.Get("ETag") != `"`+shot.Sha256+`"` {
				t.Fatalf("download: %d %v %q", resp.StatusCode, resp.Header, body)
			}
			if resp, body := mgr.download(shot.DownloadURL, map[string]string{"Range": "bytes=0-3"}); resp.StatusCode != http.StatusPartialContent || string(body) != "\x89PNG" {
				t.Fatalf("range: %d %q", resp.StatusCode, body)
			}
			if resp, _ := mgr.download(shot.DownloadURL, map[string]string{"If-None-Match": `"` + shot.Sha256 + `"`}); resp.StatusCode != http.StatusNotModified {
				t.Fatalf("If-None-Match: %d", resp.StatusCode)
			}

			// The editors see them as the ticket's attachments, uploaded by
			// the violator, on the answer's step, and in the history.
			var d struct {
				Node struct {
					Steps []struct {
						Action      string
						Attachments []struct {
							ID, Filename       string
							UploadedByEmployee *struct{ Name string }
							UploadedBy         *struct{ Login string }
						}
					}
				}
			}
			e.do(w.editor, `query($id: ID!) { node(id: $id) { ... on ExplanationRequest { steps { action attachments { id filename uploadedByEmployee { name } uploadedBy { login } } } } } }`,
				map[string]any{"id": r.ID}).ok().into(&d)
			last := d.Node.Steps[len(d.Node.Steps)-1]
			if last.Action != "SUBMIT" || len(last.Attachments) != 2 || last.Attachments[0].UploadedByEmployee == nil ||
				last.Attachments[0].UploadedByEmployee.Name != "Vic Violator" || last.Attachments[0].UploadedBy != nil {
				t.Fatalf("the answer's step as the editor sees it: %+v", d.Node.Steps)
			}
			dl, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/attachments/"+last.Attachments[1].ID, nil)
			dl.Header.Set("Authorization", "Bearer "+w.editor)
			if resp, err := http.DefaultClient.Do(dl); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the editor's download: %v %v", resp, err)
			}
			h := w.history()
			ch, _ := h[len(h)-1].Changes[0].To.(map[string]any)
			if att, _ := ch["attachments"].([]any); ch["action"] != "SUBMIT" || len(att) != 2 {
				t.Fatalf("the answer's history entry: %v", ch)
			}

			// A link downloads only files of its own request.
			r2 := w.create(nil)
			other := w.link(r2.ID, w.violator, explanationlink.RoleVIOLATOR)
			ct, mbody := multipartBody(t, `mutation($t: String!, $f: [Upload!]) { answerExplanation(text: $t, files: $f) { status steps { attachments { filename downloadURL } } } }`,
				map[string]any{"t": "Other answer", "f": []any{nil}}, map[string][]string{"0": {"variables.f.0"}},
				part{name: "0", filename: "other.txt", contentType: "text/plain", body: []byte("the other request's")})
			var o struct {
				AnswerExplanation struct {
					Status string
					Steps  []struct {
						Attachments []struct{ Filename, DownloadURL string }
					}
				}
			}
			e.postMultipart(other, ct, mbody, preflight).ok().into(&o)
			otherFile := o.AnswerExplanation.Steps[len(o.AnswerExplanation.Steps)-1].Attachments[0]
			otherID := otherFile.DownloadURL[strings.LastIndex(otherFile.DownloadURL, "/")+1:]
			for name, path := range map[string]string{
				"another request's file":  "/explain/" + mgrTok + "/attachments/" + otherID,
				"an unknown token":        "/explain/sdx_" + strings.Repeat("A", 43) + "/attachments/" + otherID,
				"a malformed id":          "/explain/" + mgrTok + "/attachments/x",
				"a file by another route": "/explain/" + other + "/attachments/" + last.Attachments[0].ID,
			} {
				if resp, _ := mgr.download("http://x"+path, nil); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("%s: %d", name, resp.StatusCode)
				}
			}

			// The manager returns; the answer again over GraphQL with the
			// same PNG: stored once.
			wantPage(t, mgr.act("RETURN", "Say more."), http.StatusOK)
			ct, mbody = multipartBody(t, `mutation($t: String!, $f: [Upload!]) { answerExplanation(text: $t, files: $f) { status } }`,
				map[string]any{"t": "More.", "f": []any{nil}}, map[string][]string{"0": {"variables.f.0"}},
				part{name: "0", filename: "again.png", contentType: "application/octet-stream", body: pngBytes})
			var a struct{ AnswerExplanation struct{ Status string } }
			e.postMultipart(vioTok, ct, mbody, preflight).ok().into(&a)
			if a.AnswerExplanation.Status != "SUBMITTED" {
				t.Fatalf("answered: %+v", a)
			}
			files = w.linkFiles(mgrTok)
			if len(files) != 2 || len(files[1]) != 1 || files[1][0].Sha256 != shot.Sha256 {
				t.Fatalf("the second answer's files: %+v", files)
			}
			contents, _ = e.stored()
			if len(contents) != 3 { // the PNG, the notes, the other request's
				t.Fatalf("stored %v", contents)
			}
			n := e.client.Attachment.Query().Where(attachment.ExplanationStepIDNotNil()).CountX(sys())

			// The table refuses a second answer now: its file is not kept.
			ct, mbody = multipartBody(t, `mutation($t: String!, $f: [Upload!]) { answerExplanation(text: $t, files: $f) { status } }`,
				map[string]any{"t": "Again", "f": []any{nil}}, map[string][]string{"0": {"variables.f.0"}},
				part{name: "0", filename: "late.txt", contentType: "text/plain", body: []byte("a late file")})
			e.postMultipart(vioTok, ct, mbody, preflight).wantCode("INVALID_TRANSITION")
			nothingNew(t, "an answer the table refuses", n, contents)

			// Once the request ends, its link downloads nothing.
			wantPage(t, mgr.act("ACCEPT", ""), http.StatusOK, "CLOSED")
			if resp, _ := mgr.download(shot.DownloadURL, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("after the end: %d", resp.StatusCode)
			}
		})
	}
}

// TestExplanationLinkUploadNeedsALiveLink: a multipart request with a
// personal link token that opens nothing (made up, or of an ended request)
// is answered before its files are read, and nothing is stored: the body
// is still being sent when the answer comes.
func TestExplanationLinkUploadNeedsALiveLink(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		r := w.create(nil)
		ended := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)
		e.do(w.editor, `mutation($id: ID!) { withdrawExplanation(id: $id, reason: "done") { status } }`, map[string]any{"id": r.ID}).ok()
		for name, tok := range map[string]string{"made up": "sdx_" + strings.Repeat("x", 43), "ended": ended} {
			t.Run(name, func(t *testing.T) {
				pr, pw := io.Pipe()
				mw := multipart.NewWriter(pw)
				answered := make(chan struct{})
				timedOut := make(chan bool, 1)
				go func() {
					_ = mw.WriteField("operations", `{"query":"mutation($f: [Upload!]) { answerExplanation(text: \"x\", files: $f) { status } }","variables":{"f":[null]}}`)
					_ = mw.WriteField("map", `{"0": ["variables.f.0"]}`)
					fw, _ := mw.CreateFormFile("0", "big.bin")
					_, _ = fw.Write(bytes.Repeat([]byte("z"), 1<<20))
					select { // hold the rest of the body until the answer comes
					case <-answered:
						timedOut <- false
					case <-time.After(10 * time.Second):
						timedOut <- true
					}
					_ = pw.CloseWithError(io.ErrClosedPipe)
				}()
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", pr)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("GraphQL-Require-Preflight", "1")
				res := e.send(req)
				close(answered)
				if <-timedOut {
					t.Fatal("the server waited for the whole body before answering")
				}
				if res.Status != http.StatusNotFound {
					t.Fatalf("status %d, want 404", res.Status)
				}
				res.wantCode("NOT_FOUND")
				if _, staged := e.stored(); len(staged) > 0 {
					t.Fatalf("staged %v", staged)
				}
			})
		}
	})
}

// TestExplanationPageFormChecks: a NUL in the form's text is refused on
// the page (400, nothing changed), as GraphQL refuses it; a file
// downloaded through the page keeps its ranges and ETag (never compressed).
func TestExplanationPageFormChecks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		w := newExpWorld(e)
		r := w.create(nil)
		tok := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)
		vio := e.browser(t, tok)
		wantPage(t, vio.act("SUBMIT", "a\x00b"), http.StatusBadRequest, "Nothing was changed", "NUL character")
		if got := w.get(r.ID); got.Status != "NEW" {
			t.Fatalf("after a NUL the request is %s", got.Status)
		}
		text := strings.Repeat("compressible text ", 500)
		wantPage(t, vio.answerWithFiles("SUBMIT", "see the file", formPart{name: "files", filename: "notes.txt", value: text}), http.StatusOK)
		f := w.linkFiles(w.link(r.ID, w.manager, explanationlink.RoleMANAGER))[0][0]
		resp, body := vio.download(f.DownloadURL, map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != http.StatusOK || string(body) != text || resp.Header.Get("Content-Encoding") != "" ||
			resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("ETag") != `"`+f.Sha256+`"` {
			t.Fatalf("download: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
		}
	})
}
