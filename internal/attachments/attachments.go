// Package attachments stores and serves files attached to tickets, memos
// and explanation answers.
//
// Contents live in blob storage (gocloud.dev/blob: a file:// directory by
// default, s3:// or gs:// so that replicas share it) under their SHA-256,
// so the same file attached twice is stored once; Attachment rows keep the
// metadata (name, size, hash, the content type sniffed from the bytes, the
// uploader, the time). A Blob row per content is the lock that serializes
// storing a content and collecting it: whoever holds it (FOR UPDATE on
// PostgreSQL; SQLite's write transactions are serialized anyway) decides
// whether the content's object exists and is still referred to.
//
// Storing is two steps, for callers that attach inside their own
// transaction (an explanation answer carries its files):
//
//	st, err := svc.Stage(ctx, r) // streams r into a temporary object, hashing, counting and sniffing
//	defer svc.Discard(ctx, st)   // drops what the transaction did not keep (idempotent)
//	err = txn.Run(ctx, client, func(ctx context.Context, tx *ent.Tx) error {
//		a, err := svc.Attach(ctx, tx, st, attachments.Target{TicketID: id, Filename: name, ...})
//		...
//	})
//
// Stage never holds the whole upload in memory nor on local disk, and stops
// reading past MaxBytes (ErrTooLarge, the temporary object deleted). Attach
// creates the Attachment row with the caller's context (the policy decides
// who may), then, under the Blob row's lock, copies the temporary object to
// the content's key unless it is there already; the temporary object goes
// once the transaction commits. Upload and Delete are the GraphQL
// mutations' services, each recorded in the ticket's history
// (ATTACHMENT_ADDED, ATTACHMENT_DELETED) in the change's own transaction;
// a deletion enqueues a collection job (River, so it survives a crash),
// which removes the content once no attachment refers to it any more.
//
// Downloads (ServeHTTP, GET /attachments/{id}) are read with the viewer's
// context, so they are scoped like the ticket; SignedURL gives a
// short-lived URL bound to the attachment and the user, for browsers that
// cannot send an Authorization header, and its download acts as that user.
package attachments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"github.com/gabriel-vasile/mimetype"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// (the default, under the data directory)
	_ "gocloud.dev/blob/gcsblob"  // gs://, shared by replicas
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob" // s3://, shared by replicas
	"gocloud.dev/gcerrors"

	"socdesk/ent"
	entblob "socdesk/ent/blob"
	"socdesk/internal/authz"
	"socdesk/internal/jobs"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
)

// Service stores, serves and collects attachments.
type Service struct {
	Client  *ent.Client
	Dialect string
	Bucket  *blob.Bucket
	Tickets *tickets.Service
	Jobs    *jobs.Engine
	// MaxBytes bounds one file.
	MaxBytes int64
	// Signer signs download URLs.
	Signer *Signer
	Log    *slog.Logger
}

// MaxFilenameRunes bounds a kept file name (the schema's bound).
const MaxFilenameRunes = 255

// Key prefixes in the bucket: contents by hash, uploads being staged.
const (
	contentPrefix = "sha256/"
	stagingPrefix = "staging/"
)

func contentKey(sum string) string { return contentPrefix + sum }

// OpenBucket opens the blob storage at url (file://, s3://, gs://, mem://).
func OpenBucket(ctx context.Context, url string) (*blob.Bucket, error) {
	if url == "mem://" {
		return memblob.OpenBucket(nil), nil
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("opening the attachments' blob storage: %w", err)
	}
	return b, nil
}

// ErrTooLarge is Stage's error for content over MaxBytes.
var ErrTooLarge = errors.New("attachments: content too large")

// ReadError is Stage's error when its reader failed (the client's upload
// broke off or was cut at the request's limit), not the storage.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "attachments: reading the content: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Staged is content streamed into a temporary object by Stage, described
// by what was read: its hash, size and sniffed type. As an io.ReadSeeker it
// reads that content back (a graphql.Upload's File).
type Staged struct {
	SHA256      string
	Size        int64
	ContentType string

	s   *Service
	key string

	mu        sync.Mutex
	copied    bool // its content was copied to the content's key by Attach
	committed bool
	done      bool
	r         *blob.Reader
}

// sniffBytes is how much of the start of a content mimetype looks at.
const sniffBytes = 3072

// Stage streams r into a temporary object, hashing and counting it and
// sniffing its content type from its first bytes. Past MaxBytes it stops
// reading, deletes the object and returns ErrTooLarge; an error reading r
// deletes it too. The caller Discards what it staged.
func (s *Service) Stage(ctx context.Context, r io.Reader) (*Staged, error) {
	var name [16]byte
	_, _ = rand.Read(name[:])
	key := stagingPrefix + hex.EncodeToString(name[:])
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream", DisableContentTypeDetection: true,
	})
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	head := make([]byte, 0, sniffBytes)
	buf := make([]byte, 32<<10)
	var n int64
	abort := func(err error) (*Staged, error) {
		cancel() // a cancelled writer writes nothing
		_ = w.Close()
		s.deleteObject(context.WithoutCancel(ctx), key)
		return nil, err
	}
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > s.MaxBytes {
				return abort(ErrTooLarge)
			}
			chunk := buf[:k]
			if room := sniffBytes - len(head); room > 0 {
				head = append(head, chunk[:min(room, k)]...)
			}
			h.Write(chunk)
			if _, err := w.Write(chunk); err != nil {
				return abort(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return abort(&ReadError{rerr})
		}
	}
	if err := w.Close(); err != nil {
		s.deleteObject(context.WithoutCancel(ctx), key)
		return nil, err
	}
	return &Staged{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, ContentType: mimetype.Detect(head).String(), s: s, key: key}, nil
}

// Read reads the staged content.
func (st *Staged) Read(p []byte) (int, error) {
	if err := st.open(); err != nil {
		return 0, err
	}
	return st.r.Read(p)
}

// Seek moves within the staged content.
func (st *Staged) Seek(offset int64, whence int) (int64, error) {
	if err := st.open(); err != nil {
		return 0, err
	}
	return st.r.Seek(offset, whence)
}

func (st *Staged) open() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return errors.New("attachments: staged content discarded")
	}
	if st.r != nil {
		return nil
	}
	r, err := st.s.Bucket.NewReader(context.Background(), st.key, nil)
	st.r = r
	return err
}

// Discard deletes the staged object; content Attach copied in a
// transaction that did not commit is handed to the collector. It may be
// called more than once, and after a commit (which discards it already).
func (s *Service) Discard(ctx context.Context, st *Staged) {
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return
	}
	st.done = true
	if st.r != nil {
		_ = st.r.Close()
	}
	orphan := st.copied && !st.committed
	st.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	s.deleteObject(ctx, st.key)
	if orphan {
		if err := s.collectLater(ctx, st.SHA256); err != nil {
			s.log().Error("scheduling the collection of an attachment's content", "err", err)
		}
	}
}

func (s *Service) deleteObject(ctx context.Context, key string) {
	if err := s.Bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		s.log().Error("deleting a blob object", "key", key, "err", err)
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Target is what an attachment is attached to, and by whom.
type Target struct {
	TicketID int
	// MemoID, StepID: a memo's or an explanation answer's attachment; the
	// caller checks that they belong to the ticket.
	MemoID, StepID *int
	// UploaderUserID, UploaderEmployeeID: a socdesk user, or an employee
	// answering through their personal link.
	UploaderUserID, UploaderEmployeeID *int
	// Filename is the client's name for the file, cleaned (CleanFilename).
	Filename string
}

// Attach creates the Attachment row of staged content st in tx, with ctx's
// viewer (the policy: editors of the ticket, or the system context), and
// stores the content under its hash unless it is stored already. The
// staged object is deleted once tx commits.
func (s *Service) Attach(ctx context.Context, tx *ent.Tx, st *Staged, to Target) (*ent.Attachment, error) {
	st.mu.Lock()
	done := st.done
	st.mu.Unlock()
	if done || st.s != s {
		return nil, errors.New("attachments: Attach of content not staged by this service, or discarded")
	}
	c := tx.Attachment.Create().SetTicketID(to.TicketID).SetFilename(CleanFilename(to.Filename)).
		SetContentType(st.ContentType).SetSize(st.Size).SetSha256(st.SHA256).
		SetNillableMemoID(to.MemoID).SetNillableExplanationStepID(to.StepID).
		SetNillableUploadedByID(to.UploaderUserID).SetNillableUploadedByEmployeeID(to.UploaderEmployeeID)
	a, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.lockBlob(ctx, tx, st.SHA256, st.Size, st.ContentType); err != nil {
		return nil, err
	}
	key := contentKey(st.SHA256)
	ok, err := s.Bucket.Exists(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := s.Bucket.Copy(ctx, key, st.key, nil); err != nil {
			return nil, err
		}
		st.mu.Lock()
		st.copied = true
		st.mu.Unlock()
	}
	txn.AfterCommit(ctx, func(ctx context.Context) {
		st.mu.Lock()
		st.committed = true
		st.mu.Unlock()
		s.Discard(ctx, st)
	})
	return a, nil
}

// lockBlob makes sure content sum has its Blob row and holds the row's
// lock until tx ends. Inserting waits for a transaction inserting the same
// row to end; a collector holding the lock deletes the row: then the row is
// inserted again.
func (s *Service) lockBlob(ctx context.Context, tx *ent.Tx, sum string, size int64, contentType string) (*ent.Blob, error) {
	ctx = authz.System(ctx)
	for range 5 {
		err := tx.Blob.Create().SetSha256(sum).SetSize(size).SetContentType(contentType).
			OnConflictColumns(entblob.FieldSha256).DoNothing().Exec(ctx)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if b, err := s.lockedBlob(ctx, tx, sum); err == nil {
			return b, nil
		} else if !ent.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, errors.New("attachments: the content's blob row kept disappearing")
}

// lockedBlob reads content sum's Blob row, locked on PostgreSQL.
func (s *Service) lockedBlob(ctx context.Context, tx *ent.Tx, sum string) (*ent.Blob, error) {
	q := tx.Blob.Query().Where(entblob.Sha256(sum))
	if s.Dialect == dialect.Postgres {
		q.ForUpdate()
	}
	return q.Only(authz.System(ctx))
}

// CleanFilename is the name kept for a client's file name: its last path
// element, without control characters, at most MaxFilenameRunes runes;
// "attachment" when nothing is left.
func CleanFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == "/" || name == ".." || name == "" {
		return "attachment"
	}
	if utf8.RuneCountInString(name) > MaxFilenameRunes {
		r := []rune(name)
		name = string(r[:MaxFilenameRunes])
	}
	return name
}

// staleStaging is how old a staged object left behind (a crash between
// Stage and Discard) must be before the sweep deletes it.
const staleStaging = time.Hour
