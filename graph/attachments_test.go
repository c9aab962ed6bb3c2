package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
)

// pngBytes is the start of a PNG file: what the sniffer recognizes.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"), bytes.Repeat([]byte{7}, 4000)...)

type attFix struct {
	site, other, cat  int
	editor, viewOnly  string
	editor2, outsider string
	editorU           *ent.User
	ticket            string // GraphQL id
	ticketID          int
}

func attSetup(e *env) attFix {
	f := attFix{site: e.site("HQ"), other: e.site("Branch"), cat: e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)}
	edit := []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}
	f.editor, f.editorU = e.user("ana", user.RoleANALYST, edit, f.site)
	f.editor2, _ = e.user("bob", user.RoleANALYST, edit, f.site)
	f.viewOnly, _ = e.user("vic", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, f.site)
	f.outsider, _ = e.user("olga", user.RoleANALYST, edit, f.other)
	f.ticket = e.liveCreate(f.editor, f.site, f.cat, "Beaconing from WS-0042")
	f.ticketID, _ = scalar.DecodeID(f.ticket)
	return f
}

// part is one file of a multipart request.
type part struct {
	name, filename, contentType string
	body                        []byte
}

// multipartBody writes the GraphQL multipart request of query with vars,
// the files mapped by fileMap.
func multipartBody(t *testing.T, query string, vars map[string]any, fileMap map[string][]string, files ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	_ = w.WriteField("operations", string(ops))
	m, _ := json.Marshal(fileMap)
	_ = w.WriteField("map", string(m))
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.name, f.filename))
		h.Set("Content-Type", f.contentType)
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(f.body)
	}
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

const uploadMutation = `mutation($t: ID!, $m: ID, $f: Upload!) { uploadAttachment(ticketID: $t, memoID: $m, file: $f) { id filename contentType size sha256 downloadURL memo { id } uploadedBy { login } } }`

type attOut struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
	DownloadURL string `json:"downloadURL"`
	Memo        *struct {
		ID string `json:"id"`
	} `json:"memo"`
	UploadedBy struct {
		Login string `json:"login"`
	} `json:"uploadedBy"`
}

// postMultipart posts a multipart request with token and extra headers.
func (e *env) postMultipart(token, ctype string, body []byte, headers map[string]string) *result {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/graphql-response+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

var preflight = map[string]string{"GraphQL-Require-Preflight": "1"}

// upload attaches content as filename, claimed as text/plain, to ticket
// (and memo, if not "").
func (e *env) upload(token, ticket, memo, filename string, content []byte) *result {
	e.t.Helper()
	vars := map[string]any{"t": ticket, "f": nil}
	if memo != "" {
		vars["m"] = memo
	}
	ct, body := multipartBody(e.t, uploadMutation, vars, map[string][]string{"0": {"variables.f"}},
		part{name: "0", filename: filename, contentType: "text/plain", body: content})
	return e.postMultipart(token, ct, body, preflight)
}

func (e *env) uploaded(token, ticket, memo, filename string, content []byte) attOut {
	e.t.Helper()
	var out struct {
		UploadAttachment attOut `json:"uploadAttachment"`
	}
	e.upload(token, ticket, memo, filename, content).ok().into(&out)
	return out.UploadAttachment
}

// objects lists the bucket's keys under prefix.
func (e *env) objects(prefix string) []string {
	e.t.Helper()
	var keys []string
	it := e.app.Attachments.Bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return keys
		}
		if err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
}

// nothingStored fails unless the bucket holds no object and no
// attachment exists.
func (e *env) nothingStored(t *testing.T) {
	t.Helper()
	if keys := e.objects(""); len(keys) > 0 {
		t.Fatalf("objects left in the blob store: %v", keys)
	}
	if n := e.client.Attachment.Query().CountX(sys()); n != 0 {
		t.Fatalf("%d attachments", n)
	}
}

func (e *env) eventKinds(ticketID int, kinds ...ticketevent.Kind) []*ent.TicketEvent {
	e.t.Helper()
	return e.client.TicketEvent.Query().Where(ticketevent.TicketID(ticketID), ticketevent.KindIn(kinds...)).
		Order(ticketevent.ByID()).AllX(sys())
}

func (e *env) get(path, token string, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func downloadPath(id string) string { return "/attachments/" + id }

// TestAttachmentUploadAndDownload: an editor attaches a file through a real
// multipart request; its type is sniffed from the bytes (the client's
// text/plain is ignored); the same bytes attached again to a memo are
// stored once; both are in the history; the download carries the safe
// headers, the hash as ETag (304 on If-None-Match) and serves ranges, and
// is scoped like the ticket.
func TestAttachmentUploadAndDownload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := attSetup(e)
		a := e.uploaded(f.editor, f.ticket, "", "rapport é.png", pngBytes)
		sum := sha256.Sum256(pngBytes)
		if a.ContentType != "image/png" || a.Size != len(pngBytes) || a.SHA256 != hex.EncodeToString(sum[:]) ||
			a.Filename != "rapport é.png" || a.UploadedBy.Login != "ana" || a.Memo != nil {
			t.Fatalf("attachment: %+v", a)
		}
		var memo struct {
			AddMemo struct {
				ID string `json:"id"`
			} `json:"addMemo"`
		}
		e.do(f.editor, `mutation($t: ID!) { addMemo(ticketID: $t, body: "capture") { id } }`, map[string]any{"t": f.ticket}).ok().into(&memo)
		b := e.uploaded(f.editor2, f.ticket, memo.AddMemo.ID, `C:\captures\same.bin`, pngBytes)
		if b.ID == a.ID || b.SHA256 != a.SHA256 || b.Memo == nil || b.Memo.ID != memo.AddMemo.ID || b.Filename != "same.bin" {
			t.Fatalf("second attachment: %+v", b)
		}
		if keys := e.objects("sha256/"); len(keys) != 1 {
			t.Fatalf("stored objects: %v, want one", keys)
		}
		if keys := e.objects("staging/"); len(keys) != 0 {
			t.Fatalf("staged objects left: %v", keys)
		}
		if n := e.client.Blob.Query().CountX(sys()); n != 1 {
			t.Fatalf("%d blob rows", n)
		}
		if evs := e.eventKinds(f.ticketID, ticketevent.KindATTACHMENT_ADDED); len(evs) != 2 {
			t.Fatalf("history: %d ATTACHMENT_ADDED entries", len(evs))
		}

		resp, body := e.get(downloadPath(a.ID), f.editor, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngBytes) {
			t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
		}
		etag := `"` + a.SHA256 + `"`
		for k, want := range map[string]string{
			"Content-Type":            "image/png",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; sandbox",
			"Content-Disposition":     `attachment; filename="rapport _.png"; filename*=UTF-8''rapport%20%C3%A9.png`,
			"ETag":                    etag,
			"Accept-Ranges":           "bytes",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		resp, body = e.get(downloadPath(a.ID), f.editor, map[string]string{"Range": "bytes=1-3"})
		if resp.StatusCode != http.StatusPartialContent || string(body) != "PNG" ||
			resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1-3/%d", len(pngBytes)) {
			t.Fatalf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
		}
		if resp, _ = e.get(downloadPath(a.ID), f.editor, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", resp.StatusCode)
		}
		if resp, _ = e.get(downloadPath(a.ID), "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without a token: %d", resp.StatusCode)
		}
		// Another site's analyst, and an id that is no attachment: the same 404.
		for _, p := range []string{downloadPath(a.ID), downloadPath(gid(999999)), "/attachments/nonsense"} {
			tok := f.outsider
			if resp, _ = e.get(p, tok, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("%s as an outsider: %d", p, resp.StatusCode)
			}
		}
	})
}

// TestAttachmentSignedURL: downloadURL works without a header for a short
// time, for that attachment only, as the user who asked for it: tampered,
// expired or moved signatures are refused (403) and a user who lost the
// ticket's site gets 404.
func TestAttachmentSignedURL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := attSetup(e)
		a := e.uploaded(f.editor, f.ticket, "", "log.txt", []byte("2026-12-02 beacon to 203.0.113.9\n"))
		other := e.uploaded(f.editor, f.ticket, "", "other.txt", []byte("another file\n"))
		u, err := url.Parse(a.DownloadURL)
		if err != nil || u.Path != downloadPath(a.ID) {
			t.Fatalf("downloadURL %q", a.DownloadURL)
		}
		signed := u.RequestURI()
		resp, body := e.get(signed, "", nil)
		if resp.StatusCode != http.StatusOK || string(body) != "2026-12-02 beacon to 203.0.113.9\n" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("signed download: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
		q := u.Query()
		tampered := func(k, v string) string {
			q2 := url.Values{}
			for kk, vv := range q {
				q2[kk] = vv
			}
			q2.Set(k, v)
			return u.Path + "?" + q2.Encode()
		}
		sig := q.Get("sig")
		flipped := string(rune(sig[0]^1)) + sig[1:]
		for what, p := range map[string]string{
			"tampered signature": tampered("sig", flipped),
			"another user":       tampered("user", fmt.Sprint(f.editorU.ID+1)),
			"later expiry":       tampered("expires", fmt.Sprint(time.Now().Add(4*time.Minute).Unix())),
			"another attachment": downloadPath(other.ID) + "?" + u.RawQuery,
			"missing attachment": downloadPath(gid(999999)) + "?" + u.RawQuery,
		} {
			if resp, _ := e.get(p, "", nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", what, resp.StatusCode)
			}
		}
		e.app.Attachments.Signer.Now = func() time.Time { return time.Now().Add(6 * time.Minute) }
		if resp, _ := e.get(signed, "", nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("expired: %d", resp.StatusCode)
		}
		e.app.Attachments.Signer.Now = time.Now
		e.client.User.UpdateOne(f.editorU).ClearSites().AddSiteIDs(f.other).ExecX(sys())
		if resp, _ := e.get(signed, "", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("after losing the site: %d", resp.StatusCode)
		}
	})
}

// TestAttachmentDelete: its uploader and another editor may delete an
// attachment, a view-only user may not; each deletion is in the history;
// the content goes only with its last attachment.
func TestAttachmentDelete(t *testing.T) {
	cfg := config.Default()
	cfg.AuthCache = 0 // the uploader's lost permission counts at once
	cfg.JobPoll = 50 * time.Millisecond
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) { testAttachmentDelete(t, newEnvWith(t, backend, cfg)) })
	}
}

func testAttachmentDelete(t *testing.T, e *env) {
	{
		f := attSetup(e)
		content := []byte("%PDF-1.4\n% evidence\n")
		a := e.uploaded(f.editor, f.ticket, "", "a.pdf", content)
		b := e.uploaded(f.editor2, f.ticket, "", "b.pdf", content)
		c := e.uploaded(f.editor, f.ticket, "", "c.txt", []byte("third\n"))
		if a.ContentType != "application/pdf" {
			t.Fatalf("sniffed %q", a.ContentType)
		}
		del := `mutation($id: ID!) { deleteAttachment(id: $id) }`
		e.do(f.viewOnly, del, map[string]any{"id": a.ID}).wantCode("FORBIDDEN")
		e.do(f.outsider, del, map[string]any{"id": a.ID}).wantCode("NOT_FOUND", "id")
		if n := e.client.Attachment.Query().CountX(sys()); n != 3 {
			t.Fatalf("%d attachments after refused deletions", n)
		}
		var out struct {
			DeleteAttachment string `json:"deleteAttachment"`
		}
		e.do(f.editor, del, map[string]any{"id": a.ID}).ok().into(&out) // its uploader
		if out.DeleteAttachment != a.ID {
			t.Fatalf("deleted %q", out.DeleteAttachment)
		}
		e.eventually(t, "a's collection job done", func() bool { return e.collectsLeft() == 0 })
		if ok, err := e.app.Attachments.Stored(sys(), b.SHA256); err != nil || !ok {
			t.Fatalf("content gone while b refers to it: %v %v", ok, err)
		}
		if resp, body := e.get(downloadPath(b.ID), f.editor, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
			t.Fatalf("b after a's deletion: %d %q", resp.StatusCode, body)
		}
		e.do(f.editor, del, map[string]any{"id": b.ID}).ok() // an editor, not its uploader
		eventually(t, 10*time.Second, "the content collected", func() bool {
			ok, err := e.app.Attachments.Stored(sys(), b.SHA256)
			return err == nil && !ok && len(e.objects("sha256/"+b.SHA256)) == 0
		})
		// An uploader who can no longer edit still deletes their own.
		e.client.User.UpdateOne(f.editorU).SetPermissions([]schematype.Permission{schematype.PermissionTicketView}).ExecX(sys())
		e.do(f.editor, del, map[string]any{"id": c.ID}).ok()
		if resp, _ := e.get(downloadPath(a.ID), f.editor2, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("deleted attachment downloads: %d", resp.StatusCode)
		}
		evs := e.eventKinds(f.ticketID, ticketevent.KindATTACHMENT_DELETED)
		if len(evs) != 3 {
			t.Fatalf("%d ATTACHMENT_DELETED entries", len(evs))
		}
		if ch := evs[0].Changes; len(ch) != 1 || ch[0].Field != schematype.ChangeAttachment ||
			!strings.Contains(fmt.Sprint(ch[0].From), "a.pdf") || ch[0].To != nil {
			t.Fatalf("entry: %+v", ch)
		}
		e.eventually(t, "every collection job done", func() bool { return e.collectsLeft() == 0 })
		if e.client.Attachment.Query().Where(attachment.TicketID(f.ticketID)).CountX(sys()) != 0 {
			t.Fatal("attachments left")
		}
	}
}

// collectsLeft counts the unfinished collection jobs.
func (e *env) collectsLeft() int {
	e.t.Helper()
	var n int
	q := `SELECT count(*) FROM river_job WHERE kind = 'attachments.collect' AND state NOT IN ('completed', 'discarded', 'cancelled')`
	if err := e.st.DB.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, 10*time.Second, what, cond)
}

// TestAttachmentCrossSiteFormRefused: what a page of another site can
// post (a plain multipart/form-data form, no preflight header) is refused,
// nothing stored, even with a valid token.
func TestAttachmentCrossSiteFormRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := attSetup(e)
		ct, body := multipartBody(t, uploadMutation, map[string]any{"t": f.ticket, "f": nil}, map[string][]string{"0": {"variables.f"}},
			part{name: "0", filename: "x.html", contentType: "text/html", body: []byte("<script>alert(1)</script>")})
		r := e.postMultipart(f.editor, ct, body, map[string]string{"Origin": "https://evil.example"})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("status %d", r.Status)
		}
		r.wantCode("BAD_USER_INPUT")
		if !strings.Contains(r.Errors[0].Message, "GraphQL-Require-Preflight") {
			t.Fatalf("message %q", r.Errors[0].Message)
		}
		e.nothingStored(t)
	})
}

// TestAttachmentBadInputs: each bad upload is refused with a code and the
// field at fault, and leaves nothing behind.
func TestAttachmentBadInputs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := attSetup(e)
		otherTicket := e.liveCreate(f.outsider, f.other, f.cat, "Elsewhere")
		var memo struct {
			AddMemo struct {
				ID string `json:"id"`
			} `json:"addMemo"`
		}
		mine := e.liveCreate(f.editor, f.site, f.cat, "Another of mine")
		e.do(f.editor, `mutation($t: ID!) { addMemo(ticketID: $t, body: "x") { id } }`, map[string]any{"t": mine}).ok().into(&memo)
		file := part{name: "0", filename: "a.txt", contentType: "text/plain", body: []byte("hello")}
		vars := func(t string) map[string]any { return map[string]any{"t": t, "f": nil} }
		one := map[string][]string{"0": {"variables.f"}}
		many := map[string][]string{}
		var files []part
		for i := range 11 {
			n := fmt.Sprint(i)
			many[n] = []string{"variables.f"}
			files = append(files, part{name: n, filename: n, contentType: "text/plain", body: []byte(n)})
		}
		cases := []struct {
			name        string
			token       string
			vars        map[string]any
			fileMap     map[string][]string
			files       []part
			code, field string
		}{
			{"no file", f.editor, vars(f.ticket), one, nil, "BAD_USER_INPUT", "f"},
			{"too many files", f.editor, vars(f.ticket), many, files, "BAD_USER_INPUT", "map"},
			{"unknown ticket", f.editor, vars(gid(999999)), one, []part{file}, "NOT_FOUND", "ticketID"},
			{"ticket of another site", f.editor, vars(otherTicket), one, []part{file}, "NOT_FOUND", "ticketID"},
			{"memo of another ticket", f.editor, map[string]any{"t": f.ticket, "m": memo.AddMemo.ID, "f": nil}, one, []part{file}, "BAD_USER_INPUT", "memoID"},
			{"view-only user", f.viewOnly, vars(f.ticket), one, []part{file}, "FORBIDDEN", ""},
			{"map into nothing", f.editor, vars(f.ticket), map[string][]string{"0": {"variables.nope"}}, []part{file}, "BAD_USER_INPUT", "map"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ct, body := multipartBody(t, uploadMutation, c.vars, c.fileMap, c.files...)
				r := e.postMultipart(c.token, ct, body, preflight)
				if c.field != "" {
					r.wantCode(c.code, c.field)
				} else {
					r.wantCode(c.code)
				}
				e.nothingStored(t)
				if evs := e.eventKinds(f.ticketID, ticketevent.KindATTACHMENT_ADDED); len(evs) != 0 {
					t.Fatalf("history: %d entries", len(evs))
				}
			})
		}
	})
}

// TestAttachmentHugeUploadRefused: a 1 GiB file streamed in chunks with no
// Content-Length is cut at the upload limit while it streams: the server
// answers 413 long before the client has sent it all, its heap does not
// grow with the upload, and nothing is left in the blob store. A declared
// Content-Length of 1 GiB is refused before any of the body is sent.
func TestAttachmentHugeUploadRefused(t *testing.T) {
	// The limit is large enough that a transport holding the allowed part
	// in memory (as a stock ParseMultipartForm does, up to 32 MiB) shows:
	// the heap may grow by a quarter of it at most.
	const limit, huge = 32 << 20, 1 << 30
	cfg := config.Default()
	cfg.MaxUploadBytes = limit
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			e := newEnvWith(t, b, cfg)
			f := attSetup(e)
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			var written atomic.Int64
			go func() {
				ops, _ := json.Marshal(map[string]any{"query": uploadMutation, "variables": map[string]any{"t": f.ticket, "f": nil}})
				_ = mw.WriteField("operations", string(ops))
				_ = mw.WriteField("map", `{"0": ["variables.f"]}`)
				fw, _ := mw.CreateFormFile("0", "huge.bin")
				chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
				for n := 0; n < huge; n += len(chunk) {
					k, err := fw.Write(chunk)
					written.Add(int64(k))
					if err != nil {
						return
					}
				}
				_ = mw.Close()
				_ = pw.Close()
			}()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var peak atomic.Uint64
			stop := make(chan struct{})
			var sampled sync.WaitGroup
			sampled.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			})
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", pr)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+f.editor)
			req.Header.Set("GraphQL-Require-Preflight", "1")
			resp, err := e.srv.Client().Do(req)
			sent := written.Load()
			_ = pr.CloseWithError(io.ErrClosedPipe) // the writer stops
			close(stop)
			sampled.Wait()
			if err != nil {
				t.Fatalf("upload: %v (after %d bytes)", err, sent)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			growth := int64(peak.Load()) - int64(base)
			t.Logf("server answered %d after the client sent %.1f MiB of 1 GiB; heap in use grew by at most %.1f MiB",
				resp.StatusCode, float64(sent)/(1<<20), float64(growth)/(1<<20))
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "BAD_USER_INPUT") {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if sent >= huge/4 {
				t.Fatalf("the server read %d bytes before refusing", sent)
			}
			if growth > limit/4 {
				t.Fatalf("heap grew by %d bytes during the upload", growth)
			}
			e.nothingStored(t)

			// Declared: refused on the headers alone.
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nGraphQL-Require-Preflight: 1\r\n"+
				"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n", f.editor, huge)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			r2, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("declared 1 GiB: no answer before the body: %v", err)
			}
			r2.Body.Close()
			if r2.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("declared 1 GiB: %d", r2.StatusCode)
			}
			e.nothingStored(t)
		})
	}
}
