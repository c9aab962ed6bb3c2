package tasks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
	"socdesk/internal/store"
	"socdesk/internal/tasks"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
)

func TestMain(m *testing.M) { testdb.Main(m) }

type fixture struct {
	st       *store.Store
	svc      *tickets.Service
	site     int
	owner    int
	schedule int
	ctx      context.Context
	followed int
	mu       sync.Mutex
}

func setup(t *testing.T, backend string) *fixture {
	t.Helper()
	st := testdb.Open(t, backend, testdb.Options{})
	f := &fixture{st: st}
	f.svc = &tickets.Service{Client: st.Client, Dialect: st.Dialect,
		Followers: func(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
			f.mu.Lock()
			f.followed += len(evs)
			f.mu.Unlock()
			return nil
		}}
	sys := authz.System(context.Background())
	f.ctx = tickets.NewContext(sys, f.svc)
	c := st.Client
	f.site = c.Site.Create().SetName("HQ").SaveX(sys).ID
	f.owner = c.User.Create().SetLogin("owner").SetDisplayName("Owner").SetRole(user.RoleANALYST).
		SetPermissions([]schematype.Permission{schematype.PermissionTicketView}).AddSiteIDs(f.site).SaveX(sys).ID
	f.schedule = c.TaskSchedule.Create().SetName("weekly").SetSiteID(f.site).SetRecurrence("FREQ=WEEKLY").
		SetStartsAt(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)).SaveX(sys).ID
	return f
}

func (f *fixture) create(n tasks.New) (*ent.Ticket, bool, error) {
	var (
		t    *ent.Ticket
		made bool
	)
	err := txn.Run(f.ctx, f.st.Client, func(ctx context.Context, tx *ent.Tx) error {
		var err error
		t, made, err = tasks.Create(ctx, tx, n)
		return err
	}, f.svc.RegisterWriter)
	return t, made, err
}

// TestCreate: a task is a TASK ticket, OPEN, in the default task category
// (made once), owned by its assignee, with its watchers, due date and query,
// and one CREATED history entry the followers are given.
func TestCreate(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			f := setup(t, b)
			due := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
			search := "event_id:4720"
			task, made, err := f.create(tasks.New{Title: " Review new accounts ", Description: "# Check", SiteID: f.site,
				OwnerID: &f.owner, DueAt: &due, QuerySearch: &search,
				Watchers: []tasks.Watcher{{UserID: f.owner, Notify: ticketwatcher.NotifyOPEN_CLOSE}}})
			if err != nil || !made {
				t.Fatalf("create: %v %v", made, err)
			}
			sys := authz.System(context.Background())
			got := f.st.Client.Ticket.Query().Where(ticket.ID(task.ID)).WithCategory().WithAssignees().WithWatchers().OnlyX(sys)
			if got.Kind != ticket.KindTASK || got.Status != ticket.StatusOPEN || got.Origin != ticket.OriginUSER ||
				got.Title != "Review new accounts" || got.Body != "# Check" || got.BodyFormat != ticket.BodyFormatMARKDOWN {
				t.Errorf("task %+v", got)
			}
			if got.Edges.Category.Workflow != category.WorkflowTASK || got.Edges.Category.Name != tasks.DefaultCategoryName {
				t.Errorf("category %+v", got.Edges.Category)
			}
			if len(got.Edges.Assignees) != 1 || got.Edges.Assignees[0].ID != f.owner {
				t.Errorf("assignees %v", got.Edges.Assignees)
			}
			if len(got.Edges.Watchers) != 1 || got.Edges.Watchers[0].Notify != ticketwatcher.NotifyOPEN_CLOSE {
				t.Errorf("watchers %v", got.Edges.Watchers)
			}
			if got.DueAt == nil || !got.DueAt.Equal(due) || got.QuerySearch == nil || *got.QuerySearch != search {
				t.Errorf("due %v search %v", got.DueAt, got.QuerySearch)
			}
			evs := f.st.Client.TicketEvent.Query().Where(ticketevent.TicketID(task.ID)).AllX(sys)
			if len(evs) != 1 || evs[0].Kind != ticketevent.KindCREATED || f.followed != 1 {
				t.Errorf("history %v, followed %d", evs, f.followed)
			}
			// A second task finds the category made.
			if _, _, err := f.create(tasks.New{Title: "again", SiteID: f.site}); err != nil {
				t.Fatal(err)
			}
			if n := f.st.Client.Category.Query().CountX(sys); n != 1 {
				t.Errorf("%d categories, want 1", n)
			}
		})
	}
}

// TestCreateRefuses: bad input names its field and makes nothing.
func TestCreateRefuses(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			f := setup(t, b)
			sys := authz.System(context.Background())
			approval := f.st.Client.Category.Create().SetName("Ops").SetWorkflow(category.WorkflowAPPROVAL).SaveX(sys).ID
			blind := f.st.Client.User.Create().SetLogin("blind").SetDisplayName("Blind").SaveX(sys).ID
			other := f.st.Client.Site.Create().SetName("Branch").SaveX(sys).ID
			for field, n := range map[string]tasks.New{
				"input.title":      {Title: " ", SiteID: f.site},
				"input.categoryID": {Title: "x", SiteID: f.site, CategoryID: &approval},
				"input.ownerID":    {Title: "x", SiteID: f.site, OwnerID: &blind},
				"input.watchers":   {Title: "x", SiteID: other, Watchers: []tasks.Watcher{{UserID: f.owner}}},
				"input.tagIDs":     {Title: "x", SiteID: f.site, TagIDs: []int{999}},
			} {
				_, _, err := f.create(n)
				if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != field {
					t.Errorf("%s: %v", field, err)
				}
			}
			if n := f.st.Client.Ticket.Query().CountX(sys); n != 0 {
				t.Errorf("%d tickets made", n)
			}
			if _, _, err := tasks.Create(sys, nil, tasks.New{}); !errors.Is(err, tasks.ErrNoService) {
				t.Errorf("without a service: %v", err)
			}
		})
	}
}

// TestCreateOncePerOccurrence: a schedule's second attempt at an occurrence
// is a no-op that leaves the caller's transaction usable, also when two
// writers race (PostgreSQL: the second waits on the unique index).
func TestCreateOncePerOccurrence(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			f := setup(t, b)
			sys := authz.System(context.Background())
			at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
			n := tasks.New{Title: "weekly review", SiteID: f.site, ScheduleID: &f.schedule, OccurrenceAt: &at}
			task, made, err := f.create(n)
			if err != nil || !made || task.Origin != ticket.OriginSYSTEM {
				t.Fatalf("first: %v %v", made, err)
			}
			// Again, then a write in the same transaction, which commits.
			err = txn.Run(f.ctx, f.st.Client, func(ctx context.Context, tx *ent.Tx) error {
				got, made, err := tasks.Create(ctx, tx, n)
				if err != nil || made || got != nil {
					t.Errorf("second: %v %v %v", got, made, err)
				}
				return tx.Tag.Create().SetName("after").Exec(ctx)
			}, f.svc.RegisterWriter)
			if err != nil {
				t.Fatal(err)
			}
			if n := f.st.Client.Tag.Query().CountX(sys); n != 1 {
				t.Errorf("the caller's write after the no-op: %d tags", n)
			}
			// Racing writers on another occurrence.
			at2 := at.AddDate(0, 0, 7)
			n.OccurrenceAt = &at2
			racers := 2
			if b == dialect.SQLite {
				racers = 1 // SQLite serialises writers: no race to have
			}
			var wg sync.WaitGroup
			results := make(chan bool, racers*2)
			start := make(chan struct{})
			for range racers * 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, made, err := f.create(n)
					if err != nil {
						t.Error(err)
					}
					results <- made
				}()
			}
			close(start)
			wg.Wait()
			close(results)
			madeCount := 0
			for m := range results {
				if m {
					madeCount++
				}
			}
			if madeCount != 1 {
				t.Errorf("%d writers made the task, want 1", madeCount)
			}
			if n := f.st.Client.Ticket.Query().Where(ticket.ScheduleID(f.schedule)).CountX(sys); n != 2 {
				t.Errorf("%d tasks of the schedule, want 2", n)
			}
		})
	}
}
