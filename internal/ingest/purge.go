package ingest

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"socdesk/internal/jobs"
)

// PurgeEvery is how often expired idempotency keys are deleted.
const PurgeEvery = time.Hour

// PurgeArgs is the periodic job that deletes expired idempotency keys.
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return "ingest.purge_keys" }

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	s *Service
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, err := w.s.PurgeKeys(ctx)
	return err
}

// Register adds the purge of idempotency keys to the job engine: hourly, so
// that a key lives between KeyRetention and an hour more.
func (s *Service) Register(e *jobs.Engine) {
	jobs.Every(e, PurgeEvery, river.Worker[PurgeArgs](&purgeWorker{s: s}))
}
