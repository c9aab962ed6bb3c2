package jobs_test

import (
	"context"
	"log"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"socdesk/internal/devtools/testdb"
	"socdesk/internal/jobs"
	"socdesk/internal/store"
)

// The child process of TestKilledWorker: an engine whose worker never ends.
const childEnv = "SOCDESK_JOBS_TEST_CHILD_DB"

// hang is a worker that works until its process is killed.
type hang struct{ river.WorkerDefaults[Args] }

func (hang) Work(ctx context.Context, _ *river.Job[Args]) error { select {} }

// killedWorkerChild is the replica TestKilledWorker kills: run by TestMain
// in a child process of the test binary, it takes a job and hangs in it.
func killedWorkerChild(url string) {
	st, err := store.Open(context.Background(), store.Options{DatabaseURL: url})
	if err != nil {
		log.Fatal(err)
	}
	e, err := jobs.New(jobs.Options{Dialect: st.Dialect, DB: st.DB, Workers: 1, PollInterval: 50 * time.Millisecond,
		JobTimeout: time.Hour, RescueAfter: 2 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	river.AddWorker(e.Workers(), river.Worker[Args](hang{}))
	if err := e.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	select {}
}

// TestKilledWorker: a replica killed (SIGKILL) in the middle of a job
// leaves it running; another replica rescues it once RescueAfter has passed
// and works it again, with the same key — at least once.
func TestKilledWorker(t *testing.T) {
	st := testdb.Postgres(t, testdb.Options{})
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+testdb.PostgresURL(t))
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	ins, err := jobs.New(jobs.Options{Dialect: st.Dialect, DB: st.DB})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ins.Insert(context.Background(), Args{Key: "delivery-42"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to take the job", func() bool { return job(t, ins, res.Job.ID).State == rivertype.JobStateRunning })
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	// The killed replica led (it started first): its lease must lapse
	// before this one leads and runs the rescuer.
	w := newRecorder(t, 0)
	engine(t, st, w, jobs.Options{JobTimeout: time.Second, RescueAfter: 2 * time.Second})
	deadline := time.Now().Add(90 * time.Second)
	for job(t, ins, res.Job.ID).State != rivertype.JobStateCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("the killed worker's job was never worked again: %+v", job(t, ins, res.Job.ID))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(w.attempts("delivery-42")); n != 1 {
		t.Errorf("worked %d times here, want 1", n)
	}
	if j := job(t, ins, res.Job.ID); j.Attempt != 2 {
		t.Errorf("attempt %d, want 2 (the killed one, then this)", j.Attempt)
	}
}
