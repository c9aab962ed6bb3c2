package notify

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent/delivery"
	"socdesk/internal/authz"
)

// OrphansArgs is the periodic job that keeps as FAILED the deliveries left
// PENDING with no job to send them: a replica killed during a delivery's
// last attempt leaves its job to River's rescuer, which discards it with
// no worker to record the outcome.
type OrphansArgs struct{}

// Kind implements river.JobArgs.
func (OrphansArgs) Kind() string { return "notify.orphans" }

// Orphan sweeps run every OrphansEvery over deliveries PENDING for longer
// than OrphanAge (younger ones may be in a worker's hands).
const (
	OrphansEvery = time.Minute
	OrphanAge    = 2 * time.Minute
	maxOrphans   = 500
)

type orphansWorker struct {
	river.WorkerDefaults[OrphansArgs]
	s *Service
}

func (w *orphansWorker) Work(ctx context.Context, _ *river.Job[OrphansArgs]) error {
	return w.s.FailOrphans(authz.System(ctx), time.Now().Add(-OrphanAge))
}

// FailOrphans keeps as FAILED, with the reason, the PENDING deliveries last
// touched before before whose job has ended (the periodic job's work).
func (s *Service) FailOrphans(ctx context.Context, before time.Time) error {
	ds, err := s.Client.Delivery.Query().Where(delivery.StatusEQ(delivery.StatusPENDING), delivery.UpdatedAtLT(before)).
		Order(delivery.ByID()).Limit(maxOrphans).All(ctx)
	if err != nil || len(ds) == 0 {
		return err
	}
	ids := make([]int, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	live, err := s.Jobs.Unfinished(ctx, DeliverArgs{}.Kind(), "delivery_id", ids)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if live[d.ID] {
			continue
		}
		if err := s.record(ctx, d, delivery.StatusFAILED, d.Attempts,
			permanent("its job ended without an outcome (the replica sending it stopped during its last attempt); retry it")); err != nil && !errors.Is(err, errSettled) {
			return err
		}
	}
	return nil
}
