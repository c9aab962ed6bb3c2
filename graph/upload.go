package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"socdesk/internal/attachments"
	"socdesk/internal/errs"
	"socdesk/internal/explanations/link"
	"socdesk/internal/reqlog"
	"socdesk/internal/viewer"
)

// The GraphQL multipart request spec
// (github.com/jaydenseric/graphql-multipart-request-spec), in place of
// gqlgen's transport.MultipartForm, which parses the whole form first
// (ParseMultipartForm: memory, then temporary files). This one streams: it
// reads the operations part, the map part, then each file straight into
// attachments.Stage (blob storage, hashed and counted as it goes, cut at
// the upload limit), and hands the resolvers a graphql.Upload whose File is
// the *attachments.Staged.
//
// A browser sends multipart/form-data cross-site without a preflight (a
// plain HTML form can): such a request must carry one of PreflightHeaders,
// which no form can set, so a page of another site cannot post one (CSRF).

// PreflightHeaders are the headers of which a multipart request must carry
// one (any non-empty value): GraphQL-Require-Preflight (the GraphQL over
// HTTP community's name) or Apollo-Require-Preflight (what Apollo's and
// most upload clients send).
var PreflightHeaders = []string{"GraphQL-Require-Preflight", "Apollo-Require-Preflight"}

// Bounds of a multipart request besides its files'.
const (
	MaxUploadFiles     = 10
	maxOperationsBytes = 1 << 20
	maxMapBytes        = 64 << 10
	maxMapPaths        = 100
	// uploadReadTimeout replaces the server's read timeout for an upload,
	// which a large file on a slow link outlasts.
	uploadReadTimeout = 15 * time.Minute
)

// IsMultipart is whether r is a multipart/form-data request.
func IsMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// multipartUpload serves multipart POST requests.
type multipartUpload struct {
	s *attachments.Service
	// links checks a personal link token before any file is read: a
	// request that carries one has no viewer the authentication checked.
	links interface {
		Opens(ctx context.Context, raw string) error
	}
}

func (multipartUpload) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodPost && IsMultipart(r)
}

func preflighted(r *http.Request) bool {
	for _, h := range PreflightHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

func (t multipartUpload) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(w, r)
	ctx := r.Context()
	start := graphql.Now()
	fail := func(status int, e *errs.Error) { refuse(w, ctx, exec, media, status, e) }
	if !preflighted(r) {
		fail(http.StatusBadRequest, errs.New(errs.BadUserInput,
			"a multipart request must carry a GraphQL-Require-Preflight (or Apollo-Require-Preflight) header: a cross-site form cannot send one"))
		return
	}
	if raw, ok := link.TokenFrom(ctx); ok && viewer.FromContext(ctx) == nil {
		// Authentication let the token through unchecked (a link's
		// operations answer for it): check it before storing anything.
		var err error = errs.New(errs.Unauthenticated, "personal links take no files here")
		if t.links != nil {
			err = t.links.Opens(ctx, raw)
		}
		if err != nil {
			e, ok := errs.As(err)
			if !ok {
				e = errs.New(errs.Internal, "internal error")
			}
			status := http.StatusNotFound
			if e.Code == errs.Internal {
				status = http.StatusInternalServerError
			}
			fail(status, e)
			return
		}
	}
	_, mp, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mp["boundary"] == "" {
		fail(http.StatusBadRequest, errs.New(errs.BadUserInput, "the multipart Content-Type has no boundary"))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTimeout))
	mr := multipart.NewReader(r.Body, mp["boundary"])
	// broken says what is wrong with a multipart body that stopped parsing.
	broken := func(err error) {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			fail(http.StatusRequestEntityTooLarge, errs.New(errs.BadUserInput, "request body too large"))
			return
		}
		fail(http.StatusBadRequest, errs.New(errs.BadUserInput, "the multipart body is malformed or ends early"))
	}
	small := func(name string, max int64) ([]byte, bool) {
		p, err := mr.NextPart()
		if err != nil && err != io.EOF {
			broken(err)
			return nil, false
		}
		if err == io.EOF || p.FormName() != name {
			fail(http.StatusBadRequest, errs.Invalid(name, "must be the %s part of the multipart request (operations, map, then the files)", ordinal(name)))
			return nil, false
		}
		b, err := io.ReadAll(io.LimitReader(p, max+1))
		if err != nil {
			broken(err)
			return nil, false
		}
		if int64(len(b)) > max {
			fail(http.StatusRequestEntityTooLarge, errs.Invalid(name, "must be at most %d bytes", max))
			return nil, false
		}
		return b, true
	}
	ops, ok := small("operations", maxOperationsBytes)
	if !ok {
		return
	}
	params := &graphql.RawParams{Headers: r.Header}
	if e := decodeBody(ops, params); e != nil {
		e.Field, e.Message = strings.TrimSuffix("operations."+e.Field, "."), strings.ReplaceAll(e.Message, "the request body", "it")
		fail(http.StatusBadRequest, e)
		return
	}
	mb, ok := small("map", maxMapBytes)
	if !ok {
		return
	}
	var files map[string][]string
	if json.Unmarshal(mb, &files) != nil || files == nil {
		fail(http.StatusBadRequest, errs.Invalid("map", `must be a JSON object of the files' part names to their variables' paths, such as {"0": ["variables.file"]}`))
		return
	}
	if len(files) > MaxUploadFiles {
		fail(http.StatusBadRequest, errs.Invalid("map", "at most %d files per request, not %d", MaxUploadFiles, len(files)))
		return
	}
	paths := 0
	for name, ps := range files {
		paths += len(ps)
		if len(ps) == 0 || paths > maxMapPaths {
			fail(http.StatusBadRequest, errs.Invalid("map", "file %q must go to between 1 and %d variables", name, maxMapPaths))
			return
		}
		for _, p := range ps {
			if !strings.HasPrefix(p, "variables.") {
				fail(http.StatusBadRequest, errs.Invalid("map", "path %q must lead into variables", p))
				return
			}
		}
	}
	staged := map[string]*attachments.Staged{}
	defer func() {
		for _, st := range staged {
			t.s.Discard(ctx, st)
		}
	}()
	for len(staged) < len(files) {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			broken(err)
			return
		}
		name := p.FormName()
		ps, ok := files[name]
		if !ok || staged[name] != nil {
			fail(http.StatusBadRequest, errs.Invalid("map", "names no part %q (or names it twice)", name))
			return
		}
		field := strings.TrimPrefix(ps[0], "variables.")
		st, err := t.s.Stage(ctx, p)
		if err != nil {
			var re *attachments.ReadError
			switch {
			case errors.Is(err, attachments.ErrTooLarge):
				fail(http.StatusRequestEntityTooLarge, errs.Invalid(field, "is larger than %d bytes", t.s.MaxBytes))
			case errors.As(err, &re):
				broken(re.Err)
			case reqlog.ClientGone(ctx):
				fail(http.StatusBadRequest, errs.New(errs.Cancelled, "request cancelled"))
			default:
				reqlog.From(ctx, t.s.Log).Error("staging an upload", "err", err)
				fail(http.StatusInternalServerError, errs.New(errs.Internal, "internal error"))
			}
			return
		}
		staged[name] = st
		up := graphql.Upload{File: st, Filename: p.FileName(), Size: st.Size, ContentType: st.ContentType}
		for _, path := range ps {
			if !setVariable(params.Variables, strings.Split(strings.TrimPrefix(path, "variables."), "."), up) {
				fail(http.StatusBadRequest, errs.Invalid("map", "path %q leads to no variable of the operation", path))
				return
			}
		}
	}
	for name, ps := range files {
		if staged[name] == nil {
			fail(http.StatusBadRequest, errs.Invalid(strings.TrimPrefix(ps[0], "variables."), "no file was sent for it (part %q)", name))
			return
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	run(w, ctx, exec, media, params, false)
}

func ordinal(part string) string {
	if part == "operations" {
		return "first"
	}
	return "second"
}

// setVariable puts up at path in vars, where the operations part left a
// null (an object member or an array element).
func setVariable(vars map[string]any, path []string, up graphql.Upload) bool {
	var cur any = vars
	for i, seg := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return false
			}
			if last {
				if v != nil {
					return false
				}
				c[seg] = up
				return true
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return false
			}
			if last {
				if c[n] != nil {
					return false
				}
				c[n] = up
				return true
			}
			cur = c[n]
		default:
			return false
		}
	}
	return false
}
