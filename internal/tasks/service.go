package tasks

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"entgo.io/contrib/entgql"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
	"socdesk/internal/workflow"
)

// Service is what the API does with tasks; their history, memos, watchers
// and stream are the ticket service's.
type Service struct {
	Tickets *tickets.Service
	// Now is the request's time (overdue); time.Now when nil.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Filter holds the filters of the task list (GraphQL TaskFilter): each
// given must hold; a list holds when any of its values does. They are rows
// of the ticket filter (tickets.Filter), so the live stream matches them too.
type Filter struct {
	States    []ticket.Status
	Owners    []int
	Watchers  []int
	DueFrom   *time.Time
	DueTo     *time.Time
	Overdue   *bool
	Tags      []int
	Policies  []int
	Schedules []int
	Sites     []int
	Keyword   *string
}

// Tickets is f as the ticket filter selecting tasks alone, overdue as of at.
func (f *Filter) Tickets(at time.Time) *tickets.Filter {
	if f == nil {
		return tickets.OnlyTasks(nil)
	}
	g := &tickets.Filter{Statuses: f.States, Assignees: f.Owners, Watchers: f.Watchers, DueFrom: f.DueFrom, DueTo: f.DueTo,
		Tags: f.Tags, Policies: f.Policies, Schedules: f.Schedules, Sites: f.Sites, Keyword: f.Keyword}
	if f.Overdue != nil {
		g.Overdue = &tickets.Overdue{Is: *f.Overdue, At: at}
	}
	return tickets.OnlyTasks(g)
}

// ticketNames are the task filter's fields the ticket filter names
// otherwise.
var ticketNames = map[string]string{"filter.statuses": "filter.states", "filter.assignees": "filter.owners"}

// Filter is f as the ticket filter, overdue as of now.
func (s *Service) Filter(f *Filter) *tickets.Filter { return f.Tickets(s.now()) }

// Checked is f as the ticket filter, refused as the task filter when it
// does not hold (the live stream's filter).
func (s *Service) Checked(f *Filter) (*tickets.Filter, error) {
	g := s.Filter(f)
	if _, err := g.Predicates(); err != nil {
		return nil, errs.Renamed(err, ticketNames)
	}
	return g, nil
}

// CreateInput is a new task from the API (GraphQL CreateTaskInput).
type CreateInput struct {
	Title        string
	Description  *string
	SiteID       int
	CategoryID   *int
	OwnerID      *int
	DueAt        *time.Time
	Watchers     []Watcher
	TagIDs       []int
	PolicyIDs    []int
	LinkTicketID *int
}

// Create makes a task in its own transaction (see Create).
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Ticket, error) {
	n := New{Title: in.Title, SiteID: in.SiteID, CategoryID: in.CategoryID, OwnerID: in.OwnerID, DueAt: in.DueAt,
		Watchers: in.Watchers, TagIDs: in.TagIDs, PolicyIDs: in.PolicyIDs, LinkTicketID: in.LinkTicketID}
	if in.Description != nil {
		n.Description = *in.Description
	}
	var t *ent.Ticket
	err := txn.Run(tickets.NewContext(ctx, s.Tickets), s.Tickets.Client, func(ctx context.Context, tx *ent.Tx) error {
		var err error
		t, _, err = Create(ctx, tx, n)
		return err
	}, s.Tickets.RegisterWriter)
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// Update edits a task's fields.
func (s *Service) Update(ctx context.Context, id int, in tickets.TaskUpdate, expectedVersion *int) (*ent.Ticket, error) {
	return s.Tickets.UpdateTask(ctx, id, in, expectedVersion)
}

// Close closes a task with the note of the findings (its resolution).
func (s *Service) Close(ctx context.Context, id int, note string, expectedVersion *int) (*ent.Ticket, error) {
	t, err := s.transition(ctx, id, workflow.Close, &note, expectedVersion)
	if err != nil {
		return nil, errs.Renamed(err, closeNames)
	}
	return t, nil
}

// closeNames: closeTask calls the transition's reason the note.
var closeNames = map[string]string{"reason": "note"}

// Invalidate marks a task INVALID with the reason (its resolution).
func (s *Service) Invalidate(ctx context.Context, id int, reason string, expectedVersion *int) (*ent.Ticket, error) {
	return s.transition(ctx, id, workflow.Invalidate, &reason, expectedVersion)
}

// Reopen opens a closed or invalid task again, clearing its resolution
// (the history keeps it).
func (s *Service) Reopen(ctx context.Context, id int, expectedVersion *int) (*ent.Ticket, error) {
	return s.transition(ctx, id, workflow.Reopen, nil, expectedVersion)
}

func (s *Service) transition(ctx context.Context, id int, a workflow.Action, reason *string, expectedVersion *int) (*ent.Ticket, error) {
	kind, err := s.Tickets.Client.Ticket.Query().Where(ticket.ID(id)).Select(ticket.FieldKind).String(ctx)
	if ent.IsNotFound(err) || err == nil && kind != string(ticket.KindTASK) {
		return nil, errs.New(errs.NotFound, "no task with this id")
	} else if err != nil {
		return nil, err
	}
	return s.Tickets.Transition(ctx, id, tickets.TransitionInput{Action: a, Reason: reason, ExpectedVersion: expectedVersion})
}

// OrderField orders the task list.
type OrderField string

// The task list's orders.
const (
	OrderDueAt     OrderField = "DUE_AT"
	OrderNumber    OrderField = "NUMBER"
	OrderCreatedAt OrderField = "CREATED_AT"
)

// Order is the task list's order (GraphQL TaskOrder).
type Order struct {
	Direction entgql.OrderDirection
	Field     OrderField
}

// MaxPage bounds a page of the list (the ticket list's bound).
const MaxPage = tickets.MaxPage

// List is the task list: the tasks matching f the viewer sees (the data
// layer's policy), by due date (tasks without one last, ascending; first,
// descending) or as tickets order, with stable cursors (id breaks ties).
func (s *Service) List(ctx context.Context, f *Filter, o *Order, after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.TicketConnection, error) {
	ps, err := s.Filter(f).Predicates()
	if err != nil {
		return nil, errs.Renamed(err, ticketNames)
	}
	if o == nil {
		o = &Order{Direction: entgql.OrderDirectionAsc, Field: OrderDueAt}
	}
	q := s.Tickets.Client.Ticket.Query().Where(ps...)
	switch o.Field {
	case OrderNumber:
		return q.Paginate(ctx, after, first, before, last, ent.WithTicketOrder(&ent.TicketOrder{Direction: o.Direction, Field: ent.TicketOrderFieldID}))
	case OrderCreatedAt:
		return q.Paginate(ctx, after, first, before, last, ent.WithTicketOrder(&ent.TicketOrder{Direction: o.Direction, Field: ent.TicketOrderFieldCreatedAt}))
	}
	return tickets.PageByDue(ctx, q, o.Direction == entgql.OrderDirectionDesc, after, first, before, last)
}

// MarshalGQL implements graphql.Marshaler.
func (f OrderField) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (f *OrderField) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch o := OrderField(s); o {
	case OrderDueAt, OrderNumber, OrderCreatedAt:
		*f = o
		return nil
	}
	return fmt.Errorf("%v is not a valid TaskOrderField", v)
}

// Overdue reports whether t is open past its due date now.
func (s *Service) Overdue(t *ent.Ticket) bool { return tickets.IsOverdue(t.Status, t.DueAt, s.now()) }

// Owner is a task's owner (its assignee), nil for none or one the viewer
// may not see.
func (s *Service) Owner(ctx context.Context, t *ent.Ticket) (*ent.User, error) {
	if t.Kind != ticket.KindTASK {
		return nil, nil
	}
	u, err := t.QueryAssignees().First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// QueryFilter is a task's saved ticket filter as given, nil for none.
func QueryFilter(t *ent.Ticket) any {
	if len(t.QueryFilter) == 0 {
		return nil
	}
	return t.QueryFilter
}
