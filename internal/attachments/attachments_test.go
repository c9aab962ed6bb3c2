package attachments_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/internal/attachments"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/jobs"
	"socdesk/internal/txn"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

// bucket is a real file:// blob store in the test's directory.
func bucket(t *testing.T) *blob.Bucket {
	t.Helper()
	b, err := attachments.OpenBucket(context.Background(), "file://"+t.TempDir()+"?no_tmp_dir=1&metadata=skip")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func keys(t *testing.T, b *blob.Bucket, prefix string) []string {
	t.Helper()
	var out []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Key)
	}
}

// TestStage: content is hashed, counted and sniffed as it streams; past
// the limit nothing is left behind; the staged content reads back.
func TestStage(t *testing.T) {
	s := &attachments.Service{Bucket: bucket(t), MaxBytes: 4096}
	content := []byte("<!DOCTYPE html><html><body>phishing page</body></html>")
	st, err := s.Stage(context.Background(), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if st.SHA256 != hex.EncodeToString(sum[:]) || st.Size != int64(len(content)) || !strings.HasPrefix(st.ContentType, "text/html") {
		t.Fatalf("staged %+v", st)
	}
	back, err := io.ReadAll(st)
	if err != nil || !bytes.Equal(back, content) {
		t.Fatalf("read back %q %v", back, err)
	}
	s.Discard(context.Background(), st)
	s.Discard(context.Background(), st) // idempotent
	if k := keys(t, s.Bucket, ""); len(k) != 0 {
		t.Fatalf("left after Discard: %v", k)
	}
	if _, err := s.Stage(context.Background(), bytes.NewReader(make([]byte, 4097))); !errors.Is(err, attachments.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	broken := io.MultiReader(bytes.NewReader(make([]byte, 100)), errReader{})
	var re *attachments.ReadError
	if _, err := s.Stage(context.Background(), broken); !errors.As(err, &re) {
		t.Fatalf("a broken reader: %v", err)
	}
	if k := keys(t, s.Bucket, ""); len(k) != 0 {
		t.Fatalf("left after refused uploads: %v", k)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestAttachAndCollectRace: an upload of a content and the collection of
// that same content, run at once again and again, never leave an
// attachment whose content is gone, and the content goes with the last
// attachment.
func TestAttachAndCollectRace(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			eng, err := jobs.New(jobs.Options{Dialect: st.Dialect, DB: st.DB}) // inserts only
			if err != nil {
				t.Fatal(err)
			}
			s := &attachments.Service{Client: st.Client, Dialect: st.Dialect, Bucket: bucket(t), Jobs: eng, MaxBytes: 1 << 20}
			ctx := sys()
			site := st.Client.Site.Create().SetName("s").SaveX(ctx)
			cat := st.Client.Category.Create().SetName("c").SaveX(ctx)
			tk := st.Client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
			content := []byte("the same evidence, uploaded and collected at once")
			for i := range 15 {
				staged, err := s.Stage(ctx, bytes.NewReader(content))
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				var a *ent.Attachment
				var attachErr, collectErr error
				wg.Go(func() {
					attachErr = txn.Run(ctx, st.Client, func(ctx context.Context, tx *ent.Tx) error {
						a, err = s.Attach(ctx, tx, staged, attachments.Target{TicketID: tk.ID, Filename: "e.txt"})
						return err
					})
				})
				wg.Go(func() { collectErr = s.Collect(ctx, staged.SHA256) })
				wg.Wait()
				s.Discard(ctx, staged)
				if attachErr != nil || collectErr != nil {
					t.Fatalf("round %d: attach %v, collect %v", i, attachErr, collectErr)
				}
				if ok, err := s.Stored(ctx, staged.SHA256); err != nil || !ok {
					t.Fatalf("round %d: attachment %d refers to a content that is gone (%v)", i, a.ID, err)
				}
				if err := s.Collect(ctx, staged.SHA256); err != nil { // still referred to: kept
					t.Fatal(err)
				}
				if ok, _ := s.Stored(ctx, staged.SHA256); !ok {
					t.Fatalf("round %d: collected while referred to", i)
				}
				st.Client.Attachment.DeleteOneID(a.ID).ExecX(ctx)
				if err := s.Collect(ctx, staged.SHA256); err != nil {
					t.Fatal(err)
				}
				if ok, _ := s.Stored(ctx, staged.SHA256); ok {
					t.Fatalf("round %d: not collected after the last attachment went", i)
				}
			}
			if k := keys(t, s.Bucket, ""); len(k) != 0 {
				t.Fatalf("left: %v", k)
			}
		})
	}
}

// TestSigner: a signature holds for its attachment, user and expiry only,
// and not past the expiry.
func TestSigner(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := attachments.NewSigner("", 5*time.Minute)
	g.Now = func() time.Time { return now }
	exp, sig := g.Sign(7, 3)
	if !g.Verify(7, 3, exp, sig) {
		t.Fatal("own signature refused")
	}
	for _, c := range []struct {
		id, uid int
		exp     int64
	}{{8, 3, exp}, {7, 4, exp}, {7, 3, exp + 1}} {
		if g.Verify(c.id, c.uid, c.exp, sig) {
			t.Errorf("accepted for %+v", c)
		}
	}
	if attachments.NewSigner("", 5*time.Minute).Verify(7, 3, exp, sig) {
		t.Error("another process's random key accepted it")
	}
	now = now.Add(5*time.Minute + time.Second)
	if g.Verify(7, 3, exp, sig) {
		t.Error("accepted after expiry")
	}
}

func TestCleanFilenameAndDisposition(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\Users\ana\report.pdf`: "report.pdf", "a\x00b\nc.txt": "abc.txt",
		"": "attachment", "..": "attachment", strings.Repeat("é", 300): strings.Repeat("é", 255),
	} {
		if got := attachments.CleanFilename(in); got != want {
			t.Errorf("CleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := attachments.Disposition(`naïve "x";.txt`), `attachment; filename="na_ve _x__.txt"; filename*=UTF-8''na%C3%AFve%20%22x%22%3B.txt`; got != want {
		t.Errorf("Disposition: %s, want %s", got, want)
	}
}

// TestCollectUnreferenced: the contents of a deleted ticket's attachments
// (deleted by the database, no job enqueued) go with the periodic sweep;
// those still referred to stay.
func TestCollectUnreferenced(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			eng, err := jobs.New(jobs.Options{Dialect: st.Dialect, DB: st.DB})
			if err != nil {
				t.Fatal(err)
			}
			s := &attachments.Service{Client: st.Client, Dialect: st.Dialect, Bucket: bucket(t), Jobs: eng, MaxBytes: 1 << 20}
			ctx := sys()
			site := st.Client.Site.Create().SetName("s").SaveX(ctx)
			cat := st.Client.Category.Create().SetName("c").SaveX(ctx)
			attach := func(tk *ent.Ticket, content string) string {
				staged, err := s.Stage(ctx, strings.NewReader(content))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Discard(ctx, staged)
				if err := txn.Run(ctx, st.Client, func(ctx context.Context, tx *ent.Tx) error {
					_, err := s.Attach(ctx, tx, staged, attachments.Target{TicketID: tk.ID, Filename: "f"})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return staged.SHA256
			}
			gone := st.Client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
			kept := st.Client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetSite(site).SetCategory(cat).SaveX(ctx)
			only := attach(gone, "only on the deleted ticket")
			shared := attach(gone, "on both")
			attach(kept, "on both")
			st.Client.Ticket.DeleteOne(gone).ExecX(ctx)
			if err := s.CollectUnreferenced(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.Stored(ctx, only); ok {
				t.Error("the deleted ticket's content is still stored")
			}
			if ok, _ := s.Stored(ctx, shared); !ok {
				t.Error("a content still referred to was collected")
			}
		})
	}
}
