package playbooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/playbookrun"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/outbound"
	"socdesk/internal/runes"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// MaxTickets bounds the tickets of one run request (the bulk action's).
const MaxTickets = 1000

// Outcome is what running a playbook on one ticket did: the queued run, or
// why none was queued.
type Outcome struct {
	TicketID int
	Run      *ent.PlaybookRun
	Err      error
}

// Result is the outcome of a run request: one Outcome per ticket, in the
// order given.
type Result struct {
	Queued, Failed int
	Results        []Outcome
}

// Run queues a run of playbook id on each ticket (editors of the ticket's
// site, by the runs' policy), each in a transaction of its own that also
// appends PLAYBOOK_RUN to the ticket's history: one ticket's failure leaves
// the others queued.
func (s *Service) Run(ctx context.Context, id int, ticketIDs []int) (*Result, error) {
	switch {
	case len(ticketIDs) == 0:
		return nil, errs.Invalid("ticketIDs", "give at least one ticket")
	case len(ticketIDs) > MaxTickets:
		return nil, errs.Invalid("ticketIDs", "at most %d tickets per call, not %d", MaxTickets, len(ticketIDs))
	}
	pb, err := s.Client.Playbook.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: "no playbook with this id"}
	} else if err != nil {
		return nil, err
	}
	if !pb.Enabled {
		return nil, errs.Invalid("id", "the playbook %s is disabled", pb.Name)
	}
	seen := map[int]bool{}
	out := make([]Outcome, len(ticketIDs))
	for i, tid := range ticketIDs {
		out[i].TicketID = tid
		if seen[tid] {
			out[i].Err = errs.Invalid("ticketIDs", "ticket listed twice")
			continue
		}
		seen[tid] = true
		out[i].Run, out[i].Err = s.queue(ctx, pb, tid)
	}
	r := &Result{Results: out}
	for _, o := range out {
		if o.Err != nil {
			r.Failed++
		} else {
			r.Queued++
		}
	}
	return r, nil
}

func (s *Service) queue(ctx context.Context, pb *ent.Playbook, ticketID int) (*ent.PlaybookRun, error) {
	var run *ent.PlaybookRun
	err := s.Tickets.Annotate(ctx, "ticketIDs", ticketID, func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		c := tx.PlaybookRun.Create().SetPlaybookID(pb.ID).SetTicketID(t.ID).SetTicketNumber(t.Number()).SetSiteID(t.SiteID)
		if v := viewer.FromContext(ctx); v != nil {
			c.SetRequestedByID(v.UserID)
		}
		var err error
		if run, err = c.Save(ctx); err != nil {
			return "", nil, err
		}
		if _, err := s.Jobs.Insert(ctx, RunArgs{RunID: run.ID}, &river.InsertOpts{MaxAttempts: MaxAttempts}); err != nil {
			return "", nil, err
		}
		return ticketevent.KindPLAYBOOK_RUN, []schematype.FieldChange{{Field: schematype.ChangePlaybookRun,
			To: map[string]any{"id": run.ID, "playbook": pb.Name, "status": run.Status}}}, nil
	})
	if err != nil {
		return nil, err
	}
	return run.Unwrap(), nil // out of the committed tx, so its edges resolve
}

// Retry queues a FAILED run again (admins, by the runs' policy).
func (s *Service) Retry(ctx context.Context, id int) (*ent.PlaybookRun, error) {
	var run *ent.PlaybookRun
	err := txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		old, err := tx.PlaybookRun.Get(ctx, id)
		if err != nil {
			return err
		}
		if old.Status != playbookrun.StatusFAILED {
			return errs.Invalid("id", "only a FAILED run is retried; this one is %s", old.Status)
		}
		if run, err = tx.PlaybookRun.UpdateOne(old).SetStatus(playbookrun.StatusQUEUED).Save(ctx); err != nil {
			return err
		}
		_, err = s.Jobs.Insert(ctx, RunArgs{RunID: id}, &river.InsertOpts{MaxAttempts: MaxAttempts})
		return err
	})
	if err != nil {
		return nil, err
	}
	return run.Unwrap(), nil
}

// RunArgs is the job of one playbook run.
type RunArgs struct {
	RunID int `json:"run_id"`
}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return "playbook.run" }

type runWorker struct {
	river.WorkerDefaults[RunArgs]
	s *Service
}

// Register adds the playbook worker to the job engine.
func (s *Service) Register() {
	river.AddWorker(s.Jobs.Workers(), &runWorker{s: s})
	s.registerOrphans()
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	return w.s.work(authz.System(ctx), job.Args.RunID, job.Attempt, job.MaxAttempts)
}

// recordTimeout bounds the recording of a run's step once the job's own
// time is up: the outcome is kept whatever the request took.
const recordTimeout = 15 * time.Second

// work runs one run: RUNNING, the request, then SUCCEEDED or FAILED (or
// QUEUED again for a retry), each step recorded in the ticket's history.
func (s *Service) work(ctx context.Context, id, attempt, max int) error {
	run, err := s.Client.PlaybookRun.Query().Where(playbookrun.ID(id)).WithPlaybook().Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if run.Status == playbookrun.StatusSUCCEEDED || run.Status == playbookrun.StatusFAILED {
		return nil
	}
	pb := run.Edges.Playbook
	if !pb.Enabled { // disabled after the run was queued: an admin stopped it
		return s.finish(ctx, run, playbookrun.StatusFAILED, attempt, nil, fmt.Errorf("the playbook %s is disabled", pb.Name))
	}
	if run.TicketID == nil {
		return s.finish(ctx, run, playbookrun.StatusFAILED, attempt, nil, errors.New("the ticket was deleted"))
	}
	t, err := s.Client.Ticket.Query().Where(ticket.ID(*run.TicketID)).WithSite().WithCategory().WithAssignees().WithTags().Only(ctx)
	if ent.IsNotFound(err) {
		return s.finish(ctx, run, playbookrun.StatusFAILED, attempt, nil, errors.New("the ticket was deleted"))
	} else if err != nil {
		return err
	}
	if err := s.progress(ctx, run, func(u *ent.PlaybookRunUpdateOne) {
		u.SetStatus(playbookrun.StatusRUNNING).SetAttempts(attempt).SetStartedAt(time.Now().UTC())
	}, map[string]any{"id": run.ID, "playbook": pb.Name, "status": playbookrun.StatusRUNNING}); err != nil {
		return err
	}
	payload, err := Render(pb.PayloadTemplate, s.fields(t, run, pb))
	if err != nil {
		return s.finish(ctx, run, playbookrun.StatusFAILED, attempt, nil, fmt.Errorf("rendering the payload: %w", err))
	}
	res, sendErr := s.send(ctx, pb, payload, fmt.Sprintf("socdesk-playbook-run-%d", run.ID))
	switch {
	case sendErr == nil && res.Status >= 200 && res.Status < 300:
		return s.finish(ctx, run, playbookrun.StatusSUCCEEDED, attempt, res, nil)
	case sendErr == nil:
		sendErr = fmt.Errorf("the endpoint answered %d", res.Status)
	}
	retry := attempt < max && transient(res, sendErr)
	status := playbookrun.StatusFAILED
	if retry {
		status = playbookrun.StatusQUEUED
	}
	if err := s.finish(ctx, run, status, attempt, res, sendErr); err != nil {
		return err
	}
	if retry {
		return sendErr
	}
	return river.JobCancel(sendErr) // kept as FAILED with its reason
}

// transient reports whether trying again may help: no answer, a timeout,
// a 5xx, 408, 425 or 429.
func transient(res *outbound.Response, err error) bool {
	if res == nil {
		return !errors.Is(err, outbound.ErrRefused)
	}
	return res.Status >= 500 || res.Status == 408 || res.Status == 425 || res.Status == 429
}

func (s *Service) send(ctx context.Context, pb *ent.Playbook, payload []byte, key string) (*outbound.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(pb.TimeoutMs)*time.Millisecond)
	defer cancel()
	var body io.Reader
	if pb.Method != http.MethodGet {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, pb.Method, pb.URL, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", defaultContentType)
	}
	for k, v := range pb.Headers {
		req.Header.Set(k, v)
	}
	for k, v := range pb.SecretHeaders {
		req.Header.Set(k, v)
	}
	req.Header.Set("Idempotency-Key", key)
	res, err := s.HTTP.Do(ctx, req)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out: no answer within %d ms (%w)", pb.TimeoutMs, err)
	}
	if err != nil {
		return nil, scrub(err, pb)
	}
	return res, nil
}

// redact hides pb's secret header values in s, an endpoint's answer or an
// error's text, both kept where site viewers read them (Ticket.playbookRuns)
// and an endpoint may echo the request (a 401 quoting Authorization).
// start: s is the start of a longer answer (outbound's cut).
func redact(s string, pb *ent.Playbook, start bool) string {
	if pb == nil || len(pb.SecretHeaders) == 0 {
		return s
	}
	secrets := make([]string, 0, len(pb.SecretHeaders))
	for _, v := range pb.SecretHeaders {
		secrets = append(secrets, v)
	}
	if start {
		return outbound.RedactStart(s, secrets...)
	}
	return outbound.Redact(s, secrets...)
}

// scrub hides pb's secret header values in err's text (it goes to the job
// engine's records too); errors.Is and As still see the cause.
func scrub(err error, pb *ent.Playbook) error {
	if msg := redact(err.Error(), pb, false); msg != err.Error() {
		return &scrubbed{err, msg}
	}
	return err
}

type scrubbed struct {
	err error
	msg string
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// finish records a run's outcome (or its failed attempt, QUEUED again).
func (s *Service) finish(ctx context.Context, run *ent.PlaybookRun, status playbookrun.Status, attempt int, res *outbound.Response, runErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	to := map[string]any{"id": run.ID, "status": status}
	if run.Edges.Playbook != nil {
		to["playbook"] = run.Edges.Playbook.Name
	}
	var msg string
	if res != nil {
		to["httpStatus"] = res.Status
	}
	if runErr != nil {
		msg = runes.Cut(redact(runErr.Error(), run.Edges.Playbook, false), maxErrorRunes) // before the cut, which could split a secret
		to["error"] = msg
	}
	return s.progress(ctx, run, func(u *ent.PlaybookRunUpdateOne) {
		u.SetStatus(status).SetAttempts(attempt)
		if status != playbookrun.StatusQUEUED {
			u.SetFinishedAt(time.Now().UTC())
		}
		if res != nil {
			u.SetHTTPStatus(res.Status).SetDurationMs(int(res.Duration.Milliseconds())).SetResponse(kept([]byte(redact(string(res.Body), run.Edges.Playbook, res.Truncated))))
		}
		if runErr != nil {
			u.SetError(msg)
		} else {
			u.ClearError()
		}
	}, to)
}

// progress updates a run and appends PLAYBOOK_RUN_UPDATED to its ticket's
// history in one transaction (the update alone once the ticket is gone).
func (s *Service) progress(ctx context.Context, run *ent.PlaybookRun, set func(*ent.PlaybookRunUpdateOne), to map[string]any) error {
	err := s.Tickets.Progress(ctx, run.TicketID, func(ctx context.Context, tx *ent.Tx) error {
		// Never past an end: the orphan sweep must not undo a run that
		// finished while it looked at the jobs.
		u := tx.PlaybookRun.UpdateOneID(run.ID).Where(playbookrun.StatusIn(playbookrun.StatusQUEUED, playbookrun.StatusRUNNING))
		set(u)
		if err := u.Exec(ctx); ent.IsNotFound(err) {
			return errFinished
		} else if err != nil {
			return err
		}
		return nil
	}, ticketevent.KindPLAYBOOK_RUN_UPDATED, schematype.FieldChange{Field: schematype.ChangePlaybookRun, To: to})
	if errors.Is(err, errFinished) {
		return nil // finished meanwhile: nothing to record
	}
	return err
}

// errFinished: the run had ended when a step was to be recorded.
var errFinished = errors.New("playbooks: the run finished meanwhile")

// fields are the template's view of t.
func (s *Service) fields(t *ent.Ticket, run *ent.PlaybookRun, pb *ent.Playbook) Fields {
	f := Fields{ID: t.ID, Number: t.Number(), Title: t.Title, Body: t.Body, Kind: string(t.Kind), Status: string(t.Status),
		Priority: string(t.Priority), Incident: t.Incident, SourceIP: t.SrcIP, DestinationIP: t.DstIP, Host: t.Host,
		Link: strings.TrimRight(s.PublicURL, "/") + fmt.Sprintf("/tickets/%d", t.Number()), CreatedAt: t.CreatedAt, DueAt: t.DueAt,
		RunID: run.ID, Playbook: pb.Name, Assignees: []string{}, Tags: []string{}}
	if t.AttackVerdict != nil {
		f.AttackVerdict = string(*t.AttackVerdict)
	}
	if t.Edges.Site != nil {
		f.Site = t.Edges.Site.Name
	}
	if t.Edges.Category != nil {
		f.Category = t.Edges.Category.Name
	}
	for _, u := range t.Edges.Assignees {
		f.Assignees = append(f.Assignees, u.Login)
	}
	for _, tg := range t.Edges.Tags {
		f.Tags = append(f.Tags, tg.Name)
	}
	return f
}
