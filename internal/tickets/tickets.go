// Package tickets holds the rules of creating, editing and deleting tickets:
// input validation, the detection templates, and the history every change
// appends in the same transaction, announced to the event broker (a
// wake-up) only once the transaction has committed. Who may do what is decided by the data
// layer's policies (package authz), not here.
package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/tag"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketlink"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/events"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

// Bounds of ticket input.
const (
	MaxTitleLength  = schematype.MaxTitleLength
	MaxBodyBytes    = 512 << 10
	MaxPeople       = 20 // assignees, approvers
	MaxTags         = 50
	MaxPolicies     = 50
	MaxCustomFields = 50
)

// Detection is the structured part of a DETECTION ticket (GraphQL Detection
// and DetectionInput).
type Detection struct {
	Template        ticket.DetectionTemplate
	FirstDetectedAt *time.Time
	LastDetectedAt  *time.Time
	SourceIP        *string
	DestinationIP   *string
	SourcePort      *int
	DestinationPort *int
	Protocol        *string
	Host            *string
	CustomFields    []schematype.CustomField
}

// CreateInput is a new ticket (GraphQL CreateTicketInput).
type CreateInput struct {
	Kind          ticket.Kind
	Title         string
	Body          *string
	BodyFormat    *ticket.BodyFormat
	Detection     *Detection
	CategoryID    int
	SiteID        int
	Priority      *ticket.Priority
	AttackVerdict *ticket.AttackVerdict
	Incident      *bool
	AssigneeIDs   []int
	ApproverIDs   []int
	TagIDs        []int
	PolicyIDs     []int
	Origin        *ticket.Origin
	DueAt         *time.Time
	// Evidence records (JSON objects) of a DETECTION ticket; see evidence.go.
	Evidence []any
}

// UpdateInput changes a ticket; nil fields stay (GraphQL UpdateTicketInput).
type UpdateInput struct {
	Title              *string
	Body               *string
	BodyFormat         *ticket.BodyFormat
	Detection          *Detection
	CategoryID         *int
	SiteID             *int
	Priority           *ticket.Priority
	AttackVerdict      *ticket.AttackVerdict
	ClearAttackVerdict *bool
	Incident           *bool
	TagIDs             []int
	PolicyIDs          []int
	DueAt              *time.Time
	ClearDueAt         *bool
}

// Service changes tickets.
type Service struct {
	Client *ent.Client
	Broker events.Broker
	// Dialect of the database; row locks are taken on PostgreSQL (SQLite
	// serializes writers itself).
	Dialect string
	// Followers, when set, run in the transaction of every change that
	// appends history, with its entries: the notifications enqueue their
	// jobs there, so a change rolled back sends nothing and a committed one
	// is never forgotten.
	Followers func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error
}

// DetectionOf returns the detection fields of t, or nil for an ANALYSIS ticket.
func DetectionOf(t *ent.Ticket) *Detection {
	if t.Kind != ticket.KindDETECTION || t.DetectionTemplate == nil {
		return nil
	}
	d := &Detection{
		Template: *t.DetectionTemplate, FirstDetectedAt: t.FirstDetectedAt, LastDetectedAt: t.LastDetectedAt,
		SourceIP: nonEmpty(t.SrcIP), DestinationIP: nonEmpty(t.DstIP), SourcePort: t.SrcPort, DestinationPort: t.DstPort,
		Protocol: nonEmpty(t.Protocol), Host: nonEmpty(t.Host), CustomFields: t.CustomFields,
	}
	if d.CustomFields == nil {
		d.CustomFields = []schematype.CustomField{}
	}
	return d
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Create opens a ticket.
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Ticket, error) {
	p, err := s.PrepareCreate(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		return s.CreateTx(ctx, tx, p)
	})
}

// Prepared is a new ticket checked by PrepareCreate, for CreateTx.
type Prepared struct {
	in      CreateInput
	cat     *ent.Category
	records []map[string]any
}

// PrepareCreate checks a new ticket (as the viewer of ctx may make it),
// before its transaction: Create's first half, for writers that open the
// ticket inside a transaction of their own (ingestion).
func (s *Service) PrepareCreate(ctx context.Context, in CreateInput) (*Prepared, error) {
	if err := s.validateCreate(ctx, &in); err != nil {
		return nil, err
	}
	records, err := validateEvidence("input.evidence", in.Kind, 0, in.Evidence)
	if err != nil {
		return nil, err
	}
	cat, err := s.Client.Category.Get(authz.System(ctx), in.CategoryID)
	if err != nil {
		return nil, err
	}
	if cat.Workflow == category.WorkflowTASK { // kind TASK ⇔ a TASK category; tasks are made by package tasks
		return nil, errs.Invalid("input.categoryID", "the category holds tasks: create tasks with createTask")
	}
	return &Prepared{in: in, cat: cat, records: records}, nil
}

// CreateTx opens the prepared ticket in tx with its CREATED history entry
// (Create's second half); the caller runs Follow with the entries.
func (s *Service) CreateTx(ctx context.Context, tx *ent.Tx, p *Prepared) (*ent.Ticket, []*ent.TicketEvent, error) {
	in, cat, records := p.in, p.cat, p.records
	c := tx.Ticket.Create().
		SetKind(in.Kind).SetTitle(strings.TrimSpace(in.Title)).
		SetCategoryID(in.CategoryID).SetSiteID(in.SiteID).
		SetNillablePriority(in.Priority).SetNillableAttackVerdict(in.AttackVerdict).
		SetNillableIncident(in.Incident).SetNillableOrigin(in.Origin).
		SetStatus(workflow.InitialStatus(cat.Workflow, len(in.AssigneeIDs) > 0)).
		AddAssigneeIDs(in.AssigneeIDs...).AddApproverIDs(in.ApproverIDs...).AddTagIDs(in.TagIDs...).
		AddPolicyIDs(in.PolicyIDs...)
	if in.Body != nil {
		c.SetBody(*in.Body)
	}
	c.SetNillableDueAt(utc(in.DueAt))
	c.SetBodyFormat(defaultFormat(in))
	if v := viewer.FromContext(ctx); v != nil {
		c.SetRegisteredByID(v.UserID)
	}
	if d := in.Detection; d != nil {
		setDetection(c.Mutation(), d)
	}
	t, err := c.Save(ctx)
	if err != nil {
		return nil, nil, err
	}
	var evidence *schematype.FieldChange
	if len(records) > 0 {
		ch, err := storeEvidence(ctx, tx, t, 0, records)
		if err != nil {
			return nil, nil, err
		}
		evidence = &ch
	}
	changes := []schematype.FieldChange{
		{Field: schematype.ChangeStatus, To: t.Status},
		{Field: schematype.ChangeTitle, To: t.Title},
		{Field: schematype.ChangeKind, To: t.Kind},
		{Field: schematype.ChangeOrigin, To: t.Origin},
		{Field: schematype.ChangeCategory, To: t.CategoryID},
		{Field: schematype.ChangeSite, To: t.SiteID},
		{Field: schematype.ChangePriority, To: t.Priority},
	}
	if t.AttackVerdict != nil {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeAttackVerdict, To: *t.AttackVerdict})
	}
	if t.Incident {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeIncident, To: true})
	}
	if len(in.AssigneeIDs) > 0 {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeAssignees, To: sorted(in.AssigneeIDs)})
	}
	if len(in.ApproverIDs) > 0 {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeApprovers, To: sorted(in.ApproverIDs)})
	}
	if len(in.TagIDs) > 0 {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeTags, To: sorted(in.TagIDs)})
	}
	if len(in.PolicyIDs) > 0 {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangePolicies, To: sorted(in.PolicyIDs)})
	}
	if t.DueAt != nil {
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeDueAt, To: t.DueAt})
	}
	if evidence != nil {
		changes = append(changes, *evidence)
	}
	ev, err := record(ctx, tx, t, ticketevent.KindCREATED, changes, "")
	return t, []*ent.TicketEvent{ev}, err
}

func defaultFormat(in CreateInput) ticket.BodyFormat {
	switch {
	case in.BodyFormat != nil:
		return *in.BodyFormat
	case in.Kind == ticket.KindDETECTION:
		return ticket.BodyFormatJSON
	}
	return ticket.BodyFormatMARKDOWN
}

func (s *Service) validateCreate(ctx context.Context, in *CreateInput) error {
	if err := validateTitle("input.title", in.Title); err != nil {
		return err
	}
	switch in.Kind {
	case ticket.KindTASK:
		return errs.Invalid("input.kind", "tasks are created with createTask")
	case ticket.KindANALYSIS:
		if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
			return errs.Invalid("input.body", "is required for ANALYSIS tickets")
		}
		if in.Detection != nil {
			return errs.Invalid("input.detection", "is only for DETECTION tickets")
		}
	case ticket.KindDETECTION:
		if in.Detection == nil {
			return errs.Invalid("input.detection", "is required for DETECTION tickets")
		}
		if err := validateDetection("input.detection", in.Detection); err != nil {
			return err
		}
	}
	if in.Body != nil {
		if err := validateBody("input.body", *in.Body, defaultFormat(*in)); err != nil {
			return err
		}
	}
	return s.validateRefs(ctx, in)
}

// validateRefs checks what a new ticket refers to: its category, site,
// people, tags and policies.
func (s *Service) validateRefs(ctx context.Context, in *CreateInput) error {
	if err := s.checkRefs(ctx, map[string][]int{"input.categoryID": {in.CategoryID}}, category.Table); err != nil {
		return err
	}
	if err := s.checkRefs(ctx, map[string][]int{"input.siteID": {in.SiteID}}, site.Table); err != nil {
		return err
	}
	var err error
	if in.AssigneeIDs, err = distinct("input.assigneeIDs", in.AssigneeIDs, MaxPeople); err != nil {
		return err
	}
	if in.ApproverIDs, err = distinct("input.approverIDs", in.ApproverIDs, MaxPeople); err != nil {
		return err
	}
	if in.TagIDs, err = distinct("input.tagIDs", in.TagIDs, MaxTags); err != nil {
		return err
	}
	if in.PolicyIDs, err = distinct("input.policyIDs", in.PolicyIDs, MaxPolicies); err != nil {
		return err
	}
	if err := s.checkRefs(ctx, map[string][]int{"input.policyIDs": in.PolicyIDs}, compliancepolicy.Table); err != nil {
		return err
	}
	if err := s.checkRefs(ctx, map[string][]int{"input.assigneeIDs": in.AssigneeIDs, "input.approverIDs": in.ApproverIDs}, user.Table); err != nil {
		return err
	}
	if err := s.checkCanSee(ctx, "input.assigneeIDs", in.AssigneeIDs, in.SiteID); err != nil {
		return err
	}
	if err := s.checkCanSee(ctx, "input.approverIDs", in.ApproverIDs, in.SiteID); err != nil {
		return err
	}
	return s.checkRefs(ctx, map[string][]int{"input.tagIDs": in.TagIDs}, tag.Table)
}

// Update edits a ticket. With expectedVersion it fails with CONFLICT when the
// ticket has changed since the client read it.
func (s *Service) Update(ctx context.Context, id int, in UpdateInput, expectedVersion *int) (*ent.Ticket, error) {
	return s.one(ctx, func(ctx context.Context, tx *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error) {
		return s.update(ctx, tx, id, in, expectedVersion)
	})
}

func (s *Service) update(ctx context.Context, tx *ent.Tx, id int, in UpdateInput, expectedVersion *int) (*ent.Ticket, []*ent.TicketEvent, error) {
	return s.change(ctx, tx, id, expectedVersion, ticketevent.KindUPDATED, "", func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
		if old.Kind == ticket.KindTASK { // an incident flag, a body format, detection fields: no task has them
			return nil, errs.Invalid("id", "a task is edited with updateTask")
		}
		return s.applyUpdate(ctx, old, in, m)
	})
}

// one runs fn, a change of one ticket, in a transaction and returns the
// ticket as it is after the commit.
func (s *Service) one(ctx context.Context, fn func(context.Context, *ent.Tx) (*ent.Ticket, []*ent.TicketEvent, error)) (*ent.Ticket, error) {
	var t *ent.Ticket
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		var (
			evs []*ent.TicketEvent
			err error
		)
		t, evs, err = fn(ctx, tx)
		return evs, err
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// change applies one change to the ticket id in tx: it locks the ticket
// (with its category, assignees and approvers), checks expectedVersion, lets
// fn set the change on the mutation and describe it, saves it and appends
// one history entry of kind. A change to nothing saves nothing.
func (s *Service) change(ctx context.Context, tx *ent.Tx, id int, expectedVersion *int, kind ticketevent.Kind, reason string,
	fn func(old *ent.Ticket, m *ent.TicketMutation) ([]schematype.FieldChange, error),
) (*ent.Ticket, []*ent.TicketEvent, error) {
	old, err := s.lock(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	if expectedVersion != nil && *expectedVersion != old.Version {
		return nil, nil, errs.New(errs.Conflict, "ticket #%d is at version %d, not %d: reload it and try again", old.Number(), old.Version, *expectedVersion)
	}
	u := tx.Ticket.UpdateOne(old).Where(ticket.Version(old.Version))
	changes, err := fn(old, u.Mutation())
	if err != nil {
		return nil, nil, err
	}
	if len(changes) == 0 {
		// Nothing to save, so no hook runs: ask the data layer's policy
		// whether the viewer may make such a change at all.
		if err := ticket.Policy.EvalMutation(ctx, u.Mutation()); err != nil {
			return nil, nil, err
		}
		return old, nil, nil
	}
	t, err := u.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, errs.New(errs.Conflict, "ticket #%d changed while being updated: try again", old.Number())
	} else if err != nil {
		return nil, nil, err
	}
	if !sameTime(old.ClosedAt, t.ClosedAt) { // the Ticket's hook moved it with the status
		changes = append(changes, schematype.FieldChange{Field: schematype.ChangeClosedAt, From: old.ClosedAt, To: t.ClosedAt})
	}
	ev, err := record(ctx, tx, t, kind, changes, reason)
	return t, []*ent.TicketEvent{ev}, err
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// applyUpdate validates in against the ticket old, sets the changes on m
// and returns them as history.
func (s *Service) applyUpdate(ctx context.Context, old *ent.Ticket, in UpdateInput, m *ent.TicketMutation) ([]schematype.FieldChange, error) {
	var ch []schematype.FieldChange
	change := func(field schematype.ChangedField, from, to any) {
		ch = append(ch, schematype.FieldChange{Field: field, From: from, To: to})
	}
	locked := old.Origin == ticket.OriginSYSTEM && old.Kind == ticket.KindDETECTION
	for field, given := range map[string]bool{"input.title": in.Title != nil, "input.body": in.Body != nil, "input.bodyFormat": in.BodyFormat != nil, "input.detection": in.Detection != nil} {
		if locked && given {
			return nil, errs.Invalid(field, "the content of a detection ticket created by the system cannot be edited")
		}
	}
	if in.Title != nil {
		if err := validateTitle("input.title", *in.Title); err != nil {
			return nil, err
		}
		if title := strings.TrimSpace(*in.Title); title != old.Title {
			m.SetTitle(title)
			change(schematype.ChangeTitle, old.Title, title)
		}
	}
	format := old.BodyFormat
	if in.BodyFormat != nil && *in.BodyFormat != old.BodyFormat {
		format = *in.BodyFormat
		m.SetBodyFormat(format)
		change(schematype.ChangeBodyFormat, old.BodyFormat, format)
	}
	if in.Body != nil || in.BodyFormat != nil {
		body := old.Body
		if in.Body != nil {
			body = *in.Body
		}
		if old.Kind == ticket.KindANALYSIS && strings.TrimSpace(body) == "" {
			return nil, errs.Invalid("input.body", "is required for ANALYSIS tickets")
		}
		if err := validateBody("input.body", body, format); err != nil {
			return nil, err
		}
		if body != old.Body {
			m.SetBody(body)
			change(schematype.ChangeBody, old.Body, body)
		}
	}
	if in.Detection != nil {
		if old.Kind != ticket.KindDETECTION {
			return nil, errs.Invalid("input.detection", "is only for DETECTION tickets")
		}
		if err := validateDetection("input.detection", in.Detection); err != nil {
			return nil, err
		}
		if before := DetectionOf(old); !sameJSON(before, in.Detection) {
			setDetection(m, in.Detection)
			change(schematype.ChangeDetection, before, in.Detection)
		}
	}
	if in.CategoryID != nil && *in.CategoryID != old.CategoryID {
		if err := s.checkRefs(ctx, map[string][]int{"input.categoryID": {*in.CategoryID}}, category.Table); err != nil {
			return nil, err
		}
		cats, err := s.Client.Category.Query().Where(category.IDIn(old.CategoryID, *in.CategoryID)).All(authz.System(ctx))
		if err != nil {
			return nil, err
		}
		if len(cats) == 2 && cats[0].Workflow != cats[1].Workflow {
			return nil, errs.Invalid("input.categoryID", "the category follows another workflow (%s, not %s)", otherWorkflow(cats, old.CategoryID), workflowOf(cats, old.CategoryID))
		}
		m.SetCategoryID(*in.CategoryID)
		change(schematype.ChangeCategory, old.CategoryID, *in.CategoryID)
	}
	if in.SiteID != nil && *in.SiteID != old.SiteID {
		if err := s.checkRefs(ctx, map[string][]int{"input.siteID": {*in.SiteID}}, site.Table); err != nil {
			return nil, err
		}
		m.SetSiteID(*in.SiteID)
		change(schematype.ChangeSite, old.SiteID, *in.SiteID)
	}
	if in.Priority != nil && *in.Priority != old.Priority {
		m.SetPriority(*in.Priority)
		change(schematype.ChangePriority, old.Priority, *in.Priority)
	}
	if in.ClearAttackVerdict != nil && *in.ClearAttackVerdict {
		if in.AttackVerdict != nil {
			return nil, errs.Invalid("input.clearAttackVerdict", "cannot be given with attackVerdict")
		}
		if old.AttackVerdict != nil {
			m.ClearAttackVerdict()
			change(schematype.ChangeAttackVerdict, *old.AttackVerdict, nil)
		}
	}
	if in.AttackVerdict != nil && (old.AttackVerdict == nil || *old.AttackVerdict != *in.AttackVerdict) {
		m.SetAttackVerdict(*in.AttackVerdict)
		var from any
		if old.AttackVerdict != nil {
			from = *old.AttackVerdict
		}
		change(schematype.ChangeAttackVerdict, from, *in.AttackVerdict)
	}
	if in.ClearDueAt != nil && *in.ClearDueAt {
		if in.DueAt != nil {
			return nil, errs.Invalid("input.clearDueAt", "cannot be given with dueAt")
		}
		if old.DueAt != nil {
			m.ClearDueAt()
			change(schematype.ChangeDueAt, *old.DueAt, nil)
		}
	}
	if due := utc(in.DueAt); due != nil && (old.DueAt == nil || !old.DueAt.Equal(*due)) {
		m.SetDueAt(*due)
		change(schematype.ChangeDueAt, old.DueAt, *due)
	}
	if in.Incident != nil && *in.Incident != old.Incident {
		m.SetIncident(*in.Incident)
		change(schematype.ChangeIncident, old.Incident, *in.Incident)
	}
	if in.TagIDs != nil {
		ids, err := distinct("input.tagIDs", in.TagIDs, MaxTags)
		if err != nil {
			return nil, err
		}
		if err := s.checkRefs(ctx, map[string][]int{"input.tagIDs": ids}, tag.Table); err != nil {
			return nil, err
		}
		before, err := old.QueryTags().IDs(ctx)
		if err != nil {
			return nil, err
		}
		slices.Sort(before)
		slices.Sort(ids)
		if !slices.Equal(before, ids) {
			m.ClearTags()
			m.AddTagIDs(ids...)
			change(schematype.ChangeTags, before, ids)
		}
	}
	if in.PolicyIDs != nil {
		ids, err := distinct("input.policyIDs", in.PolicyIDs, MaxPolicies)
		if err != nil {
			return nil, err
		}
		if err := s.checkRefs(ctx, map[string][]int{"input.policyIDs": ids}, compliancepolicy.Table); err != nil {
			return nil, err
		}
		before, err := old.QueryPolicies().IDs(authz.System(ctx))
		if err != nil {
			return nil, err
		}
		slices.Sort(before)
		slices.Sort(ids)
		if !slices.Equal(before, ids) {
			m.ClearPolicies()
			m.AddPolicyIDs(ids...)
			change(schematype.ChangePolicies, before, ids)
		}
	}
	return ch, nil
}

// ErrTaskDeleted answers any request to delete a task.
var ErrTaskDeleted = errs.New(errs.Forbidden, "tasks are never deleted")

// Delete deletes a ticket (never a task); its history stays, with a DELETED record of who
// deleted it and of the ticket as it was (see deletedChanges).
func (s *Service) Delete(ctx context.Context, id int) error {
	return s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		t, err := s.lock(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if t.Kind == ticket.KindTASK { // the data layer refuses it too (authz, and a trigger)
			return nil, ErrTaskDeleted
		}
		tags, err := t.QueryTags().IDs(ctx)
		if err != nil {
			return nil, err
		}
		policies, err := t.QueryPolicies().IDs(authz.System(ctx))
		if err != nil {
			return nil, err
		}
		watchers, err := tx.TicketWatcher.Query().Where(ticketwatcher.TicketID(t.ID)).Select(ticketwatcher.FieldUserID).Ints(authz.System(ctx))
		if err != nil {
			return nil, err
		}
		ev, err := record(ctx, tx, t, ticketevent.KindDELETED, deletedChanges(t, tags, policies, watchers), "")
		if err != nil {
			return nil, err
		}
		evs := []*ent.TicketEvent{ev}
		// Its links go with it: the tickets at their other ends record that,
		// whoever may see them (the deletion itself was the viewer's to make).
		links, err := tx.TicketLink.Query().Where(ticketlink.Or(ticketlink.FromID(t.ID), ticketlink.ToID(t.ID))).
			WithFrom().WithTo().All(authz.System(ctx))
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			other, direction := l.Edges.To, "INCOMING"
			if other.ID == t.ID {
				other, direction = l.Edges.From, "OUTGOING"
			}
			link := map[string]any{"kind": l.Kind, "ticket": t.Number(), "direction": direction, "deleted": true}
			e, err := record(authz.System(ctx), tx, other, ticketevent.KindUNLINKED, []schematype.FieldChange{{Field: schematype.ChangeLink, From: link}}, "")
			if err != nil {
				return nil, err
			}
			evs = append(evs, e)
		}
		if err := tx.Ticket.DeleteOne(t).Exec(ctx); err != nil {
			return nil, err
		}
		return evs, nil
	})
}

// lock reads a ticket for change, with its category, assignees and
// approvers, holding its row lock on PostgreSQL so that the history records
// what really was there before and concurrent changes queue.
func (s *Service) lock(ctx context.Context, tx *ent.Tx, id int) (*ent.Ticket, error) {
	q := authz.WithPeople(tx.Ticket.Query().Where(ticket.ID(id)).WithCategory())
	if s.Dialect == dialect.Postgres {
		q.ForUpdate()
	}
	t, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errs.New(errs.NotFound, "no ticket with this id")
	}
	return t, err
}

// record appends one history entry of t in the transaction.
func record(ctx context.Context, tx *ent.Tx, t *ent.Ticket, kind ticketevent.Kind, changes []schematype.FieldChange, reason string) (*ent.TicketEvent, error) {
	c := tx.TicketEvent.Create().SetKind(kind).SetTicketNumber(t.Number()).SetSiteID(t.SiteID).SetChanges(changes)
	if reason != "" {
		c.SetReason(reason)
	}
	if kind != ticketevent.KindDELETED {
		c.SetTicketID(t.ID)
	}
	if v := viewer.FromContext(ctx); v != nil {
		c.SetActorID(v.UserID)
	}
	if kind != ticketevent.KindDELETED {
		if st, ok := StatusSet(changes); ok {
			c.SetStatus(string(st))
		}
	}
	ev, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := RollUp(ctx, tx, ev.CreatedAt, Moves(t, kind, changes)); err != nil {
		return nil, err
	}
	if kind == ticketevent.KindDELETED {
		ev.TicketID = &t.ID // for subscribers; the row keeps NULL once the ticket is gone
	}
	ev.Edges.Ticket = t // the ticket as the change left it, for Followers
	return ev, err
}

// StatusSet returns the status a change set the ticket to, if it did.
func StatusSet(changes []schematype.FieldChange) (ticket.Status, bool) {
	for _, ch := range changes {
		if ch.Field != schematype.ChangeStatus {
			continue
		}
		switch to := ch.To.(type) {
		case ticket.Status:
			return to, to != ""
		case string:
			return ticket.Status(to), to != ""
		}
	}
	return "", false
}

// inTx runs fn in a transaction (see package txn) registered as a history
// writer, and wakes the live hubs up once, and only if, it has committed
// with history appended.
func (s *Service) inTx(ctx context.Context, fn func(context.Context, *ent.Tx) ([]*ent.TicketEvent, error)) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		evs, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		return s.Follow(ctx, tx, evs)
	}, s.registerWriter)
}

// Follow runs in tx what follows history appended there (Followers), and
// wakes the live hubs up once tx has committed: what every change of the
// service does with its entries, for writers outside it (tasks.Create).
func (s *Service) Follow(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
	if len(evs) == 0 {
		return nil
	}
	if s.Followers != nil {
		if err := s.Followers(ctx, tx, evs); err != nil {
			return err
		}
	}
	txn.AfterCommit(ctx, func(ctx context.Context) { events.Notify(ctx, s.Broker, events.History()) })
	return nil
}

// registerWriter registers the transaction as a history writer before it
// writes anything (see events.RegisterWriterSQL), so that live streams never
// read past it.
func (s *Service) registerWriter(ctx context.Context, tx *ent.Tx) error {
	if s.Dialect != dialect.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, events.RegisterWriterSQL)
	return err
}

// refNouns name the rows of each table checkRefs knows.
var refNouns = map[string]string{category.Table: "category", site.Table: "site", user.Table: "user", tag.Table: "tag",
	compliancepolicy.Table: "compliance policy"}

// checkRefs reports, per input field, ids that are not rows of table the
// viewer may see. A site or user outside the viewer's scope gets the answer
// a missing one gets, so that the answer does not tell it exists.
func (s *Service) checkRefs(ctx context.Context, fields map[string][]int, table string) error {
	for field, ids := range fields {
		if len(ids) == 0 {
			continue
		}
		var n int
		var err error
		switch table {
		case category.Table:
			n, err = s.Client.Category.Query().Where(category.IDIn(ids...)).Count(authz.System(ctx))
		case site.Table:
			n, err = s.Client.Site.Query().Where(site.IDIn(ids...)).Count(ctx) // the policy: the viewer's
		case user.Table:
			n, err = s.Client.User.Query().Where(user.IDIn(ids...)).Count(ctx) // the policy: the viewer's
		case tag.Table:
			n, err = s.Client.Tag.Query().Where(tag.IDIn(ids...)).Count(authz.System(ctx))
		case compliancepolicy.Table:
			n, err = s.Client.CompliancePolicy.Query().Where(compliancepolicy.IDIn(ids...)).Count(authz.System(ctx))
		default:
			return fmt.Errorf("checkRefs: unknown table %s", table)
		}
		if err != nil {
			return err
		}
		if n != len(ids) {
			return errs.Invalid(field, "refers to no %s the viewer can see", refNouns[table])
		}
	}
	return nil
}

// distinct returns ids without repeats, in their first order.
func distinct(field string, ids []int, max int) ([]int, error) {
	seen := make(map[int]bool, len(ids))
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > max {
		return nil, errs.Invalid(field, "at most %d", max)
	}
	return out, nil
}

func validateTitle(field, title string) error {
	t := strings.TrimSpace(title)
	switch n := utf8.RuneCountInString(t); {
	case n == 0:
		return errs.Invalid(field, "is required")
	case n > MaxTitleLength:
		return errs.Invalid(field, "must be at most %d characters, not %d", MaxTitleLength, n)
	}
	return nil
}

func validateBody(field, body string, format ticket.BodyFormat) error {
	if len(body) > MaxBodyBytes {
		return errs.Invalid(field, "must be at most %d bytes", MaxBodyBytes)
	}
	if !utf8.ValidString(body) {
		return errs.Invalid(field, "must be valid UTF-8")
	}
	if format == ticket.BodyFormatJSON && strings.TrimSpace(body) != "" && !json.Valid([]byte(body)) {
		return errs.Invalid(field, "is not valid JSON (bodyFormat is JSON)")
	}
	return nil
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func workflowOf(cats []*ent.Category, id int) category.Workflow {
	for _, c := range cats {
		if c.ID == id {
			return c.Workflow
		}
	}
	return ""
}

func otherWorkflow(cats []*ent.Category, id int) category.Workflow {
	for _, c := range cats {
		if c.ID != id {
			return c.Workflow
		}
	}
	return ""
}
