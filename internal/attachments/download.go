package attachments

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/site"
	"socdesk/ent/user"
	"socdesk/graph/scalar"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/reqlog"
	"socdesk/internal/viewer"
)

// Path is the download path of attachment id.
func Path(id int) string { return "/attachments/" + scalar.EncodeID(id) }

// ServeHTTP serves GET /attachments/{id} to the viewer in the request's
// context: the attachment is read with it, so a missing one and one of a
// ticket the viewer may not see are both 404. The file is served as a
// download that a browser neither renders nor sniffs, with its hash as
// ETag (If-None-Match: 304) and range requests (206).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	notFound := func() {
		errs.WriteHTTP(w, r, http.StatusNotFound, errs.New(errs.NotFound, "no attachment with this id"))
	}
	id, err := scalar.DecodeID(r.PathValue("id"))
	if err != nil {
		notFound()
		return
	}
	a, err := s.Client.Attachment.Query().Where(attachment.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		notFound()
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.Serve(w, r, a)
}

// Serve serves attachment a, which the caller may show to the request's
// sender, as ServeHTTP does: a download a browser neither renders nor
// sniffs, with ETag and ranges.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, a *ent.Attachment) {
	obj, err := s.Bucket.NewReader(r.Context(), contentKey(a.Sha256), nil)
	if err != nil {
		s.internal(w, r, fmt.Errorf("opening the content of attachment %d: %w", a.ID, err))
		return
	}
	defer obj.Close()
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Disposition", Disposition(a.Filename))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Referrer-Policy", "no-referrer") // a signed URL is a credential
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+a.Sha256+`"`)
	http.ServeContent(w, r, "", a.CreatedAt, obj) // blob.Reader seeks: ranges, If-None-Match, If-Range
}

func (s *Service) internal(w http.ResponseWriter, r *http.Request, err error) {
	if reqlog.ClientGone(r.Context()) {
		return
	}
	reqlog.From(r.Context(), s.log()).Error("serving an attachment", "err", err)
	errs.WriteHTTP(w, r, http.StatusInternalServerError, errs.New(errs.Internal, "internal error"))
}

// ServeSigned serves a download by signed URL (see SignedURL): a valid,
// unexpired signature for this attachment lets its signer's user download
// it while they still see its ticket, with no Authorization header.
// Anything else is 403, whether or not the attachment exists.
func (s *Service) ServeSigned(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, err1 := scalar.DecodeID(r.PathValue("id"))
	uid, err2 := strconv.Atoi(q.Get("user"))
	exp, err3 := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || !s.Signer.Verify(id, uid, exp, q.Get("sig")) {
		errs.WriteHTTP(w, r, http.StatusForbidden, errs.New(errs.Forbidden, "the download link is invalid or has expired"))
		return
	}
	u, err := s.Client.User.Query().Where(user.ID(uid)).
		WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }).Only(authz.System(r.Context()))
	if ent.IsNotFound(err) {
		errs.WriteHTTP(w, r, http.StatusForbidden, errs.New(errs.Forbidden, "the download link is invalid or has expired"))
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), authz.AsViewer(u))))
}

// SignedURL is a URL downloading attachment a as the viewer without an
// Authorization header, for the Signer's TTL.
func (s *Service) SignedURL(ctx context.Context, base string, a *ent.Attachment) (string, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return "", errs.New(errs.Unauthenticated, "signing a download URL needs a viewer")
	}
	exp, sig := s.Signer.Sign(a.ID, v.UserID)
	q := url.Values{"user": {strconv.Itoa(v.UserID)}, "expires": {strconv.FormatInt(exp, 10)}, "sig": {sig}}
	return strings.TrimRight(base, "/") + Path(a.ID) + "?" + q.Encode(), nil
}

// Signer signs download URLs: HMAC-SHA256 over the attachment, the user
// and the expiry.
type Signer struct {
	key []byte
	TTL time.Duration
	Now func() time.Time
}

// NewSigner signs with key; an empty key is a random one of this process
// (URLs then work only on the replica that signed them).
func NewSigner(key string, ttl time.Duration) *Signer {
	k := []byte(key)
	if key == "" {
		k = make([]byte, 32)
		_, _ = rand.Read(k)
	}
	return &Signer{key: k, TTL: ttl, Now: time.Now}
}

func (g *Signer) mac(id, uid int, exp int64) []byte {
	m := hmac.New(sha256.New, g.key)
	fmt.Fprintf(m, "socdesk-attachment\x00%d\x00%d\x00%d", id, uid, exp)
	return m.Sum(nil)
}

// Sign returns the expiry (Unix seconds) and signature of a download of
// attachment id by user uid.
func (g *Signer) Sign(id, uid int) (int64, string) {
	exp := g.Now().Add(g.TTL).Unix()
	return exp, base64.RawURLEncoding.EncodeToString(g.mac(id, uid, exp))
}

// Verify is whether sig signs attachment id for user uid until exp, and
// exp has not passed (nor lies further ahead than a TTL).
func (g *Signer) Verify(id, uid int, exp int64, sig string) bool {
	got, err := base64.RawURLEncoding.DecodeString(sig)
	now := g.Now().Unix()
	if err != nil || exp <= now || exp > now+int64(g.TTL/time.Second)+1 {
		return false
	}
	return hmac.Equal(got, g.mac(id, uid, exp))
}

// Disposition is the Content-Disposition of a download of a file called
// name (RFC 6266): an ASCII fallback and the UTF-8 name (RFC 5987).
func Disposition(name string) string {
	var ascii, ext strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '%' || r == ';':
			ascii.WriteByte('_')
		default:
			ascii.WriteRune(r)
		}
	}
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			ext.WriteByte(b)
		} else {
			fmt.Fprintf(&ext, "%%%02X", b)
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}

// isAttrChar: RFC 5987's attr-char, what a filename* carries unescaped.
func isAttrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}
