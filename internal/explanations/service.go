package explanations

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/employee"
	"socdesk/ent/evidence"
	"socdesk/ent/explanationcategory"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/schematype"
	"socdesk/ent/ticketevent"
	"socdesk/internal/attachments"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/jobs"
	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
)

// Bounds of a request and its steps.
const (
	MaxMessageRunes  = 10000
	MaxCommentRunes  = 10000
	MaxReasonRunes   = 2000 // the schema's bound of withdraw_reason
	MaxEvidence      = 100
	MaxEvidenceBytes = 256 << 10 // all records together, as JSON
	MaxDeadline      = 366 * 24 * time.Hour
	// MaxPerTicket bounds Ticket.explanations.
	MaxPerTicket = 100
	// MaxAnswerFiles bounds the files one answer carries (each bounded by
	// the attachments' size limit, all together by one request's).
	MaxAnswerFiles = 10
)

// File is a file an answer carries: its content (staged already by the
// upload's transport or the page, or streamed here) and the client's name.
type File struct {
	Content  io.Reader
	Filename string
}

// Service takes the steps of explanation requests.
type Service struct {
	Client  *ent.Client
	Tickets *tickets.Service
	// Jobs, when set, carries the messages to the people concerned (see
	// notify.go); Dialect says whether rows are locked (PostgreSQL).
	Jobs    *jobs.Engine
	Dialect string
	// PublicURL is socdesk's public base URL, which personal links start with.
	PublicURL string
	// RemindBefore is how long before the deadline the violator is reminded.
	RemindBefore time.Duration
	// Now is the clock of deadlines, overdue and reminders (nil: time.Now).
	Now func() time.Time
	// Attachments stores the files of answers.
	Attachments *attachments.Service
}

// NowUTC is the service's clock.
func (s *Service) NowUTC() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// IsOverdue is Overdue for r at the service's clock.
func (s *Service) IsOverdue(r *ent.ExplanationRequest) bool {
	return Overdue(r.Status, r.Deadline, s.NowUTC())
}

// RequestInput is a new request (GraphQL RequestExplanationInput).
type RequestInput struct {
	TicketID   int
	Priority   *explanationrequest.Priority
	ViolatorID int
	// ManagerID defaults to the manager of the violator's department.
	ManagerID  *int
	AuditorID  *int
	CategoryID int
	Deadline   time.Time
	Message    *string
	// Evidence, when given, replaces the ticket's evidence records (each a
	// JSON object); nil copies the ticket's.
	Evidence []any
}

// Actor is who takes a step: an editor (the viewer) or an employee through
// their link in role.
type Actor struct {
	Role       Role
	EmployeeID int
}

// Create asks for an explanation on a ticket: its editors may (the data
// layer decides); a ticket the viewer cannot see is NOT_FOUND.
func (s *Service) Create(ctx context.Context, in RequestInput) (*ent.ExplanationRequest, error) {
	now := s.NowUTC()
	message := ""
	if in.Message != nil {
		message = strings.TrimSpace(*in.Message)
	}
	if err := bounded("input.message", message, MaxMessageRunes); err != nil {
		return nil, err
	}
	deadline := in.Deadline.UTC()
	switch {
	case !deadline.After(now):
		return nil, errs.Invalid("input.deadline", "must be in the future")
	case deadline.Sub(now) > MaxDeadline:
		return nil, errs.Invalid("input.deadline", "must be at most %d days ahead", int(MaxDeadline/(24*time.Hour)))
	}
	records, err := evidenceRecords(in.Evidence)
	if err != nil {
		return nil, err
	}
	violator, err := s.activeEmployee(ctx, "input.violatorID", in.ViolatorID)
	if err != nil {
		return nil, err
	}
	managerID, err := s.managerOf(ctx, violator, in.ManagerID)
	if err != nil {
		return nil, err
	}
	if in.AuditorID != nil {
		switch *in.AuditorID {
		case violator.ID:
			return nil, errs.Invalid("input.auditorID", "the violator cannot audit their own explanation")
		case managerID:
			return nil, errs.Invalid("input.auditorID", "must differ from the manager: the auditor is a second reviewer")
		}
		if _, err := s.activeEmployee(ctx, "input.auditorID", *in.AuditorID); err != nil {
			return nil, err
		}
	}
	if n, err := s.Client.ExplanationCategory.Query().Where(explanationcategory.ID(in.CategoryID), explanationcategory.Active(true)).Count(ctx); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, errs.Invalid("input.categoryID", "refers to no active explanation category")
	}
	var r *ent.ExplanationRequest
	_, err = s.Tickets.Explain(ctx, "input.ticketID", in.TicketID, ticketevent.KindEXPLANATION_REQUESTED, func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (tickets.ExplanationStep, error) {
		if records == nil {
			if records, err = ticketEvidence(ctx, tx, t.ID); err != nil {
				return tickets.ExplanationStep{}, err
			}
		}
		c := tx.ExplanationRequest.Create().SetTicketID(t.ID).SetNillablePriority(in.Priority).
			SetViolatorID(violator.ID).SetManagerID(managerID).SetNillableAuditorID(in.AuditorID).
			SetCategoryID(in.CategoryID).SetNillableDepartmentID(violator.DepartmentID).
			SetDeadline(deadline).SetMessage(message).SetEvidence(records).
			SetStatus(schematype.ExplanationNew)
		if v := viewer.FromContext(ctx); v != nil {
			c.SetRequestedByID(v.UserID)
		}
		if r, err = c.Save(ctx); err != nil {
			return tickets.ExplanationStep{}, err
		}
		return s.taken(ctx, tx, r, nil, Request, Actor{Role: Editor}, "", nil, nil)
	})
	if err != nil {
		return nil, err
	}
	return r.Unwrap(), nil
}

// Withdraw closes a request that has not ended, as its ticket's editors
// may, with a reason.
func (s *Service) Withdraw(ctx context.Context, id int, reason string, expectedVersion *int) (*ent.ExplanationRequest, error) {
	return s.Act(ctx, id, Withdraw, Actor{Role: Editor}, reason, nil, expectedVersion)
}

// Act takes action on request id as actor, with comment (an answer's text,
// a reason) and, for an answer (SUBMIT), files: attached to the answer's
// step in the step's transaction, so a refused step keeps none of them. An
// employee acting through their link acts in the system context (see
// Link); an editor in the viewer's.
func (s *Service) Act(ctx context.Context, id int, action Action, actor Actor, comment string, files []File, expectedVersion *int) (*ent.ExplanationRequest, error) {
	field, limit := "comment", MaxCommentRunes
	switch action {
	case Withdraw:
		field, limit = "reason", MaxReasonRunes
	case Submit:
		field = "text"
	}
	comment = strings.TrimSpace(comment)
	if err := bounded(field, comment, limit); err != nil {
		return nil, err
	}
	staged, err := s.stage(ctx, action, files)
	defer func() {
		for _, st := range staged {
			s.Attachments.Discard(ctx, st)
		}
	}()
	if err != nil {
		return nil, err
	}
	cur, err := s.Client.ExplanationRequest.Query().Where(explanationrequest.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: "no explanation request with this id"}
	} else if err != nil {
		return nil, err
	}
	var r *ent.ExplanationRequest
	_, err = s.Tickets.Explain(ctx, "id", cur.TicketID, ticketevent.KindEXPLANATION_UPDATED, func(ctx context.Context, tx *ent.Tx, _ *ent.Ticket) (tickets.ExplanationStep, error) {
		old, err := s.locked(ctx, tx, id)
		if err != nil {
			return tickets.ExplanationStep{}, err
		}
		if expectedVersion != nil && *expectedVersion != old.Version {
			return tickets.ExplanationStep{}, errs.New(errs.Conflict, "the explanation request is at version %d, not %d: reload it and try again", old.Version, *expectedVersion)
		}
		if actor.Role != Editor && !holds(old, actor) {
			return tickets.ExplanationStep{}, errs.New(errs.Forbidden, "the link is not for this request")
		}
		to, err := Decide(old.Status, old.AuditorID != nil, action, actor.Role, comment, field)
		if err != nil {
			return tickets.ExplanationStep{}, err
		}
		now := s.NowUTC()
		u := tx.ExplanationRequest.UpdateOne(old).Where(explanationrequest.Version(old.Version)).
			SetStatus(to).AddVersion(1)
		switch {
		case action == Submit:
			u.SetSubmittedAt(now)
		case action == Withdraw:
			u.SetWithdrawn(true).SetWithdrawReason(comment)
		}
		if IsEnded(to) {
			u.SetEndedAt(now)
		}
		if slices.Contains(Waiting, to) {
			u.ClearRemindedAt() // a new waiting period gets its own reminder
		}
		if r, err = u.Save(ctx); ent.IsNotFound(err) {
			return tickets.ExplanationStep{}, errs.New(errs.Conflict, "the explanation request changed while being updated: try again")
		} else if err != nil {
			return tickets.ExplanationStep{}, err
		}
		from := old.Status
		return s.taken(ctx, tx, r, &from, action, actor, comment, staged, files)
	})
	if err != nil {
		return nil, err
	}
	return r.Unwrap(), nil
}

// stage stages an answer's files, refusing files on any other action and
// more than MaxAnswerFiles. What it returns, even with an error, the
// caller Discards.
func (s *Service) stage(ctx context.Context, action Action, files []File) ([]*attachments.Staged, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if action != Submit {
		return nil, errs.Invalid("files", "only an answer (SUBMIT) carries files")
	}
	if len(files) > MaxAnswerFiles {
		return nil, errs.Invalid("files", "has %d files; an answer carries at most %d", len(files), MaxAnswerFiles)
	}
	if s.Attachments == nil {
		return nil, errs.New(errs.Internal, "explanations: no attachment store")
	}
	var staged []*attachments.Staged
	for i, f := range files {
		st, err := s.Attachments.Take(ctx, fmt.Sprintf("files[%d]", i), f.Content)
		if err != nil {
			return staged, err
		}
		staged = append(staged, st)
	}
	return staged, nil
}

// locked reads request id in tx, its row locked on PostgreSQL until tx
// ends, so that steps on one request queue.
func (s *Service) locked(ctx context.Context, tx *ent.Tx, id int) (*ent.ExplanationRequest, error) {
	q := tx.ExplanationRequest.Query().Where(explanationrequest.ID(id))
	if s.Dialect == dialect.Postgres {
		q.ForUpdate()
	}
	return q.Only(ctx)
}

// holds reports whether actor is the request's person in their role.
func holds(r *ent.ExplanationRequest, a Actor) bool {
	switch a.Role {
	case Violator:
		return r.ViolatorID == a.EmployeeID
	case Manager:
		return r.ManagerID == a.EmployeeID
	case Auditor:
		return r.AuditorID != nil && *r.AuditorID == a.EmployeeID
	case System:
		return true
	}
	return false
}

// taken records the step action that moved r (now as saved) from from:
// its ExplanationStep, the messages to the people concerned, and the
// ticket's side (history, explanation status when r is its latest request).
func (s *Service) taken(ctx context.Context, tx *ent.Tx, r *ent.ExplanationRequest, from *Status, action Action, actor Actor, comment string, staged []*attachments.Staged, files []File) (tickets.ExplanationStep, error) {
	c := tx.ExplanationStep.Create().SetRequestID(r.ID).SetTicketID(r.TicketID).SetAction(action).
		SetRole(actor.Role).SetNillableFromStatus(from).SetToStatus(r.Status).SetComment(comment).SetCreatedAt(s.NowUTC())
	to := attachments.Target{TicketID: r.TicketID}
	if actor.Role == Editor {
		if v := viewer.FromContext(ctx); v != nil {
			c.SetActorID(v.UserID)
			to.UploaderUserID = &v.UserID
		}
	} else if actor.EmployeeID != 0 {
		c.SetActorEmployeeID(actor.EmployeeID)
		to.UploaderEmployeeID = &actor.EmployeeID
	}
	saved, err := c.Save(ctx)
	if err != nil {
		return tickets.ExplanationStep{}, err
	}
	var attached []map[string]any
	for i, st := range staged {
		to.StepID, to.Filename = &saved.ID, files[i].Filename
		a, err := s.Attachments.Attach(ctx, tx, st, to)
		if err != nil {
			return tickets.ExplanationStep{}, err
		}
		attached = append(attached, attachments.Change(a))
	}
	if err := s.tell(ctx, tx, r, action); err != nil {
		return tickets.ExplanationStep{}, err
	}
	change := map[string]any{"id": r.ID, "action": action, "to": r.Status, "role": actor.Role}
	if from != nil {
		change["from"] = *from
	}
	if attached != nil {
		change["attachments"] = attached
	}
	step := tickets.ExplanationStep{Change: change}
	latest, err := tx.ExplanationRequest.Query().Where(explanationrequest.TicketID(r.TicketID)).
		Order(ent.Desc(explanationrequest.FieldID)).FirstID(authz.System(ctx))
	if err != nil {
		return step, err
	}
	if latest == r.ID {
		st := r.Status
		step.Status = &st
	}
	return step, nil
}

// activeEmployee reads an active employee, or an error naming field.
func (s *Service) activeEmployee(ctx context.Context, field string, id int) (*ent.Employee, error) {
	e, err := s.Client.Employee.Query().Where(employee.ID(id), employee.Active(true)).WithDepartment().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errs.Invalid(field, "refers to no active employee")
	}
	return e, err
}

// managerOf is the request's manager: the one given, or the manager of the
// violator's department.
func (s *Service) managerOf(ctx context.Context, violator *ent.Employee, given *int) (int, error) {
	if given != nil {
		if *given == violator.ID {
			return 0, errs.Invalid("input.managerID", "the violator cannot review their own explanation")
		}
		if _, err := s.activeEmployee(ctx, "input.managerID", *given); err != nil {
			return 0, err
		}
		return *given, nil
	}
	d := violator.Edges.Department
	if d == nil || d.ManagerID == nil {
		return 0, errs.Invalid("input.managerID", "is required: the violator's department has no manager")
	}
	if *d.ManagerID == violator.ID {
		return 0, errs.Invalid("input.managerID", "is required: the violator manages their own department")
	}
	if _, err := s.activeEmployee(ctx, "input.managerID", *d.ManagerID); err != nil {
		return 0, errs.Invalid("input.managerID", "is required: the manager of the violator's department is not active")
	}
	return *d.ManagerID, nil
}

// evidenceRecords checks records given as input (nil: none given).
func evidenceRecords(in []any) ([]map[string]any, error) {
	if in == nil {
		return nil, nil
	}
	if len(in) > MaxEvidence {
		return nil, errs.Invalid("input.evidence", "at most %d records", MaxEvidence)
	}
	out := make([]map[string]any, 0, len(in))
	size := 0
	for i, rec := range in {
		m, ok := rec.(map[string]any)
		if !ok {
			return nil, errs.Invalid("input.evidence", "record %d is not a JSON object", i)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, errs.Invalid("input.evidence", "record %d: %v", i, err)
		}
		if size += len(b); size > MaxEvidenceBytes {
			return nil, errs.Invalid("input.evidence", "the records must be at most %d bytes together", MaxEvidenceBytes)
		}
		out = append(out, m)
	}
	return out, nil
}

// ticketEvidence is the ticket's evidence records, the first MaxEvidence
// within MaxEvidenceBytes.
func ticketEvidence(ctx context.Context, tx *ent.Tx, ticketID int) ([]map[string]any, error) {
	evs, err := tx.Evidence.Query().Where(evidence.TicketID(ticketID)).Order(ent.Asc(evidence.FieldID)).Limit(MaxEvidence).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(evs))
	size := 0
	for _, e := range evs {
		b, _ := json.Marshal(e.Record)
		if size += len(b); size > MaxEvidenceBytes {
			break
		}
		out = append(out, e.Record)
	}
	return out, nil
}

func bounded(field, s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return errs.Invalid(field, "must be valid UTF-8")
	case errs.HasNUL(s): // the personal page's form (GraphQL refuses it before)
		return errs.Invalid(field, errs.NoNULMessage)
	case utf8.RuneCountInString(s) > max:
		return errs.Invalid(field, "must be at most %d characters", max)
	}
	return nil
}
