package attachments

import (
	"context"
	"io"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"socdesk/ent"
	"socdesk/ent/attachment"
	entblob "socdesk/ent/blob"
	"socdesk/ent/memo"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// Upload attaches content r to ticket ticketID (or its memo memoID) as the
// viewer, recorded in the ticket's history. r is a *Staged when the
// multipart transport staged it already; anything else is staged here.
func (s *Service) Upload(ctx context.Context, ticketID int, memoID *int, r io.Reader, filename string) (*ent.Attachment, error) {
	st, err := s.Take(ctx, "file", r)
	if err != nil {
		return nil, err
	}
	defer s.Discard(ctx, st)
	var a *ent.Attachment
	err = s.Tickets.Annotate(ctx, "ticketID", ticketID, func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		if memoID != nil {
			ok, err := tx.Memo.Query().Where(memo.ID(*memoID), memo.TicketID(t.ID)).Exist(ctx)
			if err != nil {
				return "", nil, err
			}
			if !ok {
				return "", nil, errs.Invalid("memoID", "is not a memo of this ticket")
			}
		}
		to := Target{TicketID: t.ID, MemoID: memoID, Filename: filename}
		if v := viewer.FromContext(ctx); v != nil {
			to.UploaderUserID = &v.UserID
		}
		var err error
		if a, err = s.Attach(ctx, tx, st, to); err != nil {
			return "", nil, err
		}
		return ticketevent.KindATTACHMENT_ADDED, []schematype.FieldChange{{Field: schematype.ChangeAttachment, To: change(a, memoID)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return a.Unwrap(), nil
}

// Take is r staged: r itself when the multipart transport staged it
// already, else r streamed into staging here (too large: an error naming
// field). The caller Discards it.
func (s *Service) Take(ctx context.Context, field string, r io.Reader) (*Staged, error) {
	if st, ok := r.(*Staged); ok && st.s == s {
		return st, nil
	}
	st, err := s.Stage(ctx, r)
	if err == ErrTooLarge {
		return nil, errs.Invalid(field, "is larger than %d bytes", s.MaxBytes)
	}
	return st, err
}

// Change is what the history keeps of attachment a.
func Change(a *ent.Attachment) map[string]any {
	return change(a, nil)
}

// change is what the history keeps of an attachment.
func change(a *ent.Attachment, memoID *int) map[string]any {
	c := map[string]any{"id": a.ID, "filename": a.Filename, "size": a.Size, "sha256": a.Sha256}
	if memoID != nil {
		c["memo"] = *memoID
	}
	return c
}

// Delete deletes attachment id as the viewer (its uploader or an editor of
// its ticket: the policy), recorded in the ticket's history; its content
// is collected once nothing refers to it any more.
func (s *Service) Delete(ctx context.Context, id int) error {
	a, err := s.Client.Attachment.Query().Where(attachment.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return &errs.Error{Code: errs.NotFound, Field: "id", Message: "no attachment with this id"}
	} else if err != nil {
		return err
	}
	return s.Tickets.Annotate(ctx, "id", a.TicketID, func(ctx context.Context, tx *ent.Tx, _ *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		old, err := tx.Attachment.Query().Where(attachment.ID(id)).WithMemo(func(q *ent.MemoQuery) { q.Select(memo.FieldID) }).Only(ctx)
		if ent.IsNotFound(err) { // deleted meanwhile
			return "", nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: "no attachment with this id"}
		} else if err != nil {
			return "", nil, err
		}
		if err := tx.Attachment.DeleteOne(old).Exec(ctx); err != nil {
			if ent.IsNotFound(err) { // the policy's filter left no row: not the viewer's to delete
				return "", nil, errs.New(errs.Forbidden, "only its uploader or an editor of the ticket may delete an attachment")
			}
			return "", nil, err
		}
		if err := s.collectLater(ctx, old.Sha256); err != nil {
			return "", nil, err
		}
		var memoID *int
		if old.Edges.Memo != nil {
			memoID = &old.Edges.Memo.ID
		}
		return ticketevent.KindATTACHMENT_DELETED, []schematype.FieldChange{{Field: schematype.ChangeAttachment, From: change(old, memoID)}}, nil
	})
}

// CollectArgs is the job that removes content SHA256 once no attachment
// refers to it.
type CollectArgs struct {
	SHA256 string `json:"sha256"`
}

// Kind implements river.JobArgs.
func (CollectArgs) Kind() string { return "attachments.collect" }

// collectLater enqueues the collection of content sum, in ctx's
// transaction when it has one (it is enqueued only if that commits).
func (s *Service) collectLater(ctx context.Context, sum string) error {
	_, err := s.Jobs.Insert(ctx, CollectArgs{SHA256: sum}, nil)
	return err
}

type collectWorker struct {
	river.WorkerDefaults[CollectArgs]
	s *Service
}

func (w *collectWorker) Work(ctx context.Context, job *river.Job[CollectArgs]) error {
	return w.s.Collect(authz.System(ctx), job.Args.SHA256)
}

// Collect removes content sum (its object and its Blob row) unless an
// attachment refers to it, holding the Blob row's lock so that an upload
// of the same content waits and then stores it again.
func (s *Service) Collect(ctx context.Context, sum string) error {
	ctx = authz.System(ctx)
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		// The row is inserted if missing (a content whose attaching
		// transaction rolled back): the insert waits for an upload inserting
		// it, whose attachment the count then sees.
		b, err := s.lockBlob(ctx, tx, sum, 0, "")
		if err != nil {
			return err
		}
		n, err := tx.Attachment.Query().Where(attachment.Sha256(sum)).Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		if err := s.Bucket.Delete(ctx, contentKey(sum)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return tx.Blob.DeleteOne(b).Exec(ctx)
	})
}

// SweepArgs is the periodic job that deletes staged objects left behind.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "attachments.sweep" }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	if err := w.s.SweepStaging(ctx, time.Now().Add(-staleStaging)); err != nil {
		return err
	}
	return w.s.CollectUnreferenced(authz.System(ctx))
}

// CollectUnreferenced collects contents no attachment refers to that no
// deletion enqueued a job for: those of deleted tickets, whose attachments
// the database deleted with them (ON DELETE CASCADE).
func (s *Service) CollectUnreferenced(ctx context.Context) error {
	sums, err := s.Client.Blob.Query().Where(func(sel *sql.Selector) {
		t := sql.Table(attachment.Table)
		sel.Where(sql.Not(sql.Exists(sql.Select(t.C(attachment.FieldSha256)).From(t).
			Where(sql.ColumnsEQ(t.C(attachment.FieldSha256), sel.C(entblob.FieldSha256))))))
	}).Limit(maxSwept).Select(entblob.FieldSha256).Strings(authz.System(ctx))
	if err != nil {
		return err
	}
	for _, sum := range sums {
		if err := s.Collect(ctx, sum); err != nil {
			return err
		}
	}
	return nil
}

// maxSwept bounds one sweep.
const maxSwept = 1000

// SweepStaging deletes staged objects last modified before before (an
// upload cut short by a crash between Stage and Discard).
func (s *Service) SweepStaging(ctx context.Context, before time.Time) error {
	it := s.Bucket.List(&blob.ListOptions{Prefix: stagingPrefix})
	for range maxSwept {
		o, err := it.Next(ctx)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !o.IsDir && o.ModTime.Before(before) {
			s.deleteObject(ctx, o.Key)
		}
	}
	return nil
}

// Register adds the collection and sweep workers to the job engine.
func (s *Service) Register() {
	river.AddWorker(s.Jobs.Workers(), &collectWorker{s: s})
	jobs.Every(s.Jobs, staleStaging/4, river.Worker[SweepArgs](&sweepWorker{s: s}))
}

// Stored is whether content sum is in the bucket (and its Blob row kept).
func (s *Service) Stored(ctx context.Context, sum string) (bool, error) {
	ok, err := s.Bucket.Exists(ctx, contentKey(sum))
	if err != nil || !ok {
		return false, err
	}
	return s.Client.Blob.Query().Where(entblob.Sha256(sum)).Exist(authz.System(ctx))
}
