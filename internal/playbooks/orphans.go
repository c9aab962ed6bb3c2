package playbooks

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent/playbookrun"
	"socdesk/internal/authz"
	"socdesk/internal/jobs"
)

// OrphansArgs is the periodic job that keeps as FAILED the runs left
// QUEUED or RUNNING with no job to finish them (a replica killed during a
// run's last attempt: River's rescuer discards its job with no worker to
// record the outcome).
type OrphansArgs struct{}

// Kind implements river.JobArgs.
func (OrphansArgs) Kind() string { return "playbook.orphans" }

// Orphan sweeps run every OrphansEvery over runs untouched for longer than
// OrphanAge (longer than a run may take).
const (
	OrphansEvery = time.Minute
	OrphanAge    = 2*MaxTimeout + time.Minute
	maxOrphans   = 500
)

type orphansWorker struct {
	river.WorkerDefaults[OrphansArgs]
	s *Service
}

func (w *orphansWorker) Work(ctx context.Context, _ *river.Job[OrphansArgs]) error {
	return w.s.FailOrphans(authz.System(ctx), time.Now().Add(-OrphanAge))
}

func (s *Service) registerOrphans() {
	jobs.Every(s.Jobs, OrphansEvery, river.Worker[OrphansArgs](&orphansWorker{s: s}))
}

// FailOrphans keeps as FAILED, with the reason, the unfinished runs last
// touched before before whose job has ended (the periodic job's work).
func (s *Service) FailOrphans(ctx context.Context, before time.Time) error {
	runs, err := s.Client.PlaybookRun.Query().
		Where(playbookrun.StatusIn(playbookrun.StatusQUEUED, playbookrun.StatusRUNNING), playbookrun.UpdatedAtLT(before)).
		WithPlaybook().Order(playbookrun.ByID()).Limit(maxOrphans).All(ctx)
	if err != nil || len(runs) == 0 {
		return err
	}
	ids := make([]int, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	live, err := s.Jobs.Unfinished(ctx, RunArgs{}.Kind(), "run_id", ids)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if live[r.ID] {
			continue
		}
		if err := s.finish(ctx, r, playbookrun.StatusFAILED, r.Attempts, nil,
			errors.New("its job ended without an outcome (the replica running it stopped during its last attempt); retry it")); err != nil {
			return err
		}
	}
	return nil
}
