package trend

import (
	"context"
	"slices"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/tickets"
	"socdesk/internal/viewer"
	"socdesk/internal/workflow"
)

// TestRollupsFollowTheService: changes made through the ticket service keep
// the rollups exact (a move to another site and a deletion included), the
// rollups give the same series as the history scan, and rebuilding them
// from the history gives the same rows.
func TestRollupsFollowTheService(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			st := testdb.Open(t, b, testdb.Options{})
			client := st.Client
			sys := authz.System(context.Background())
			s1 := client.Site.Create().SetName("s1").SaveX(sys).ID
			s2 := client.Site.Create().SetName("s2").SaveX(sys).ID
			cat := client.Category.Create().SetName("Incidents").SetWorkflow(category.WorkflowINCIDENT_RESPONSE).SaveX(sys).ID
			u := client.User.Create().SetLogin("root").SetDisplayName("root").SetRole(user.RoleADMIN).SaveX(sys)
			ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Login: "root", Role: viewer.RoleAdmin})
			svc := &tickets.Service{Client: client, Dialect: st.Dialect}
			body := "b"
			create := func(site int) *ent.Ticket {
				tk, err := svc.Create(ctx, tickets.CreateInput{Kind: ticket.KindANALYSIS, Title: "t", Body: &body, CategoryID: cat, SiteID: site})
				if err != nil {
					t.Fatal(err)
				}
				return tk
			}
			t1, t2, t3 := create(s1), create(s1), create(s2)
			analysis := ticket.StatusANALYSIS
			if _, err := svc.Transition(ctx, t1.ID, tickets.TransitionInput{Action: workflow.Move, ToStatus: &analysis}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Update(ctx, t2.ID, tickets.UpdateInput{SiteID: &s2}, nil); err != nil {
				t.Fatal(err)
			}
			if err := svc.Delete(ctx, t3.ID); err != nil {
				t.Fatal(err)
			}

			today := civil(time.Now().UTC())
			yesterday := today.AddDate(0, 0, -1)
			const TRIAGE, ANALYSIS = ticket.StatusTRIAGE, ticket.StatusANALYSIS
			for _, c := range []struct {
				name string
				f    *tickets.Filter
				want bars
			}{
				{"all sites", nil, bars{{}, {TRIAGE: 1, ANALYSIS: 1}}},
				{"s1", &tickets.Filter{Sites: []int{s1}}, bars{{}, {ANALYSIS: 1}}},
				{"s2", &tickets.Filter{Sites: []int{s2}}, bars{{}, {TRIAGE: 1}}},
				// Another filter takes the history scan: the same series.
				{"scan", &tickets.Filter{Priorities: []ticket.Priority{ticket.PriorityLOW, ticket.PriorityMEDIUM, ticket.PriorityHIGH}}, bars{{}, {TRIAGE: 1, ANALYSIS: 1}}},
			} {
				t.Run(c.name, func(t *testing.T) {
					s, err := Compute(ctx, client, c.f, yesterday, today, "UTC")
					check(t, s, err, "UTC", yesterday, Statuses, c.want)
				})
			}

			type row struct {
				site   int
				bucket time.Time
				status string
				delta  int
			}
			rows := func() []row {
				var out []row
				for _, r := range client.StatusDay.Query().AllX(sys) {
					out = append(out, row{r.SiteID, r.Bucket.UTC(), "day " + r.Status, r.Delta})
				}
				for _, r := range client.StatusHour.Query().AllX(sys) {
					out = append(out, row{r.SiteID, r.Bucket.UTC(), "hour " + r.Status, r.Delta})
				}
				out = slices.DeleteFunc(out, func(r row) bool { return r.delta == 0 })
				slices.SortFunc(out, func(a, b row) int {
					if c := a.bucket.Compare(b.bucket); c != 0 {
						return c
					}
					if a.site != b.site {
						return a.site - b.site
					}
					if a.status < b.status {
						return -1
					}
					if a.status > b.status {
						return 1
					}
					return 0
				})
				return out
			}
			live := rows()
			if err := Rebuild(context.Background(), client, st.Dialect); err != nil {
				t.Fatal(err)
			}
			if rebuilt := rows(); !slices.Equal(live, rebuilt) {
				t.Fatalf("rollups written by the service:\n%v\nrebuilt from the history:\n%v", live, rebuilt)
			}
		})
	}
}

// TestPastDaysCache: the sums of past days are kept between requests, and a
// rebuild of the rollups (a seed rewriting history) is noticed.
func TestPastDaysCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client *ent.Client) {
		w := newWorld(t, client)
		s, err := Compute(admin(), client, nil, march9, march9, "UTC")
		check(t, s, err, "UTC", march9, Statuses, bars{{ticket.StatusNEW: 4, ticket.StatusASSIGNED: 1}})
		f := &fixture{t: t, client: client, cat: client.Category.Query().FirstIDX(authz.System(context.Background()))}
		f.ticket(w.site2, step{utc(3, 2, 0, 0, 0, 0), ticket.StatusNEW})
		f.rebuild()
		s, err = Compute(admin(), client, nil, march9, march9, "UTC")
		check(t, s, err, "UTC", march9, Statuses, bars{{ticket.StatusNEW: 5, ticket.StatusASSIGNED: 1}})
		// The same series for a site-scoped viewer is cached apart.
		s, err = Compute(analyst(w.site2), client, nil, march9, march9, "UTC")
		check(t, s, err, "UTC", march9, Statuses, bars{{ticket.StatusNEW: 3}})
	})
}
