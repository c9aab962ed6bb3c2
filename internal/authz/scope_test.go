package authz_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/viewer"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

// TestScopeHalvesAgree: for random viewers and rows, the site rule's SQL
// half (what the policies add to queries) selects exactly the rows its
// memory half (what the live hub, the trend and the ticket service use)
// accepts, for sites, tickets, history entries and users, on both databases;
// and a query through the policies gives the same.
func TestScopeHalvesAgree(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			client := testdb.Open(t, backend, testdb.Options{}).Client
			rng := rand.New(rand.NewPCG(9, uint64(len(backend))))
			ctx := sys()

			var sites []int
			for i := range 5 {
				sites = append(sites, client.Site.Create().SetName(string(rune('A'+i))).SaveX(ctx).ID)
			}
			some := func() []int { // a random subset, maybe empty
				var out []int
				for _, s := range sites {
					if rng.IntN(3) == 0 {
						out = append(out, s)
					}
				}
				return out
			}
			cat := client.Category.Create().SetName("c").SetWorkflow(category.WorkflowAPPROVAL).SaveX(ctx).ID
			var users []*ent.User
			for i := range 30 {
				role := user.RoleANALYST
				if rng.IntN(6) == 0 {
					role = user.RoleADMIN
				}
				users = append(users, client.User.Create().SetLogin("u"+string(rune('a'+i%26))+string(rune('0'+i/26))).
					SetDisplayName("u").SetRole(role).AddSiteIDs(some()...).SaveX(ctx))
			}
			someone := func() int { return users[rng.IntN(len(users))].ID }
			var tickets []*ent.Ticket
			for range 40 {
				c := client.Ticket.Create().SetTitle("t").SetKind(ticket.KindANALYSIS).SetBody("b").
					SetCategoryID(cat).SetSiteID(sites[rng.IntN(len(sites))])
				if rng.IntN(4) == 0 {
					c.SetRegisteredByID(someone())
				}
				tickets = append(tickets, c.SaveX(ctx))
			}
			// The people of tickets, each in one way: the user rule's parts.
			someTicket := func() *ent.Ticket { return tickets[rng.IntN(len(tickets))] }
			type pair struct{ a, b int }
			seen := map[string]map[pair]bool{}
			fresh := func(kind string, a, b int) bool {
				if seen[kind] == nil {
					seen[kind] = map[pair]bool{}
				}
				if seen[kind][pair{a, b}] {
					return false
				}
				seen[kind][pair{a, b}] = true
				return true
			}
			for range 12 {
				if tk, u := someTicket().ID, someone(); fresh("assignee", tk, u) {
					client.TicketAssignee.Create().SetTicketID(tk).SetUserID(u).ExecX(ctx)
				}
				if tk, u := someTicket().ID, someone(); fresh("approver", tk, u) {
					client.TicketApprover.Create().SetTicketID(tk).SetUserID(u).ExecX(ctx)
				}
				if tk, u := someTicket().ID, someone(); fresh("watcher", tk, u) {
					client.TicketWatcher.Create().SetTicketID(tk).SetUserID(u).ExecX(ctx)
				}
				if from, to := someTicket().ID, someTicket().ID; from != to && fresh("link", from, to) {
					client.TicketLink.Create().SetFromID(from).SetToID(to).SetKind("RELATED").SetCreatedByID(someone()).ExecX(ctx)
				}
				client.Memo.Create().SetTicketID(someTicket().ID).SetBody("m").SetAuthorID(someone()).ExecX(ctx)
				client.Attachment.Create().SetTicketID(someTicket().ID).SetFilename("f").SetSize(1).SetSha256("x").
					SetUploadedByID(someone()).ExecX(ctx)
			}
			// History: of live tickets, written on their site or an earlier
			// one (a move), and of deleted tickets (no ticket any more).
			for range 80 {
				c := client.TicketEvent.Create().SetKind("UPDATED").SetSiteID(sites[rng.IntN(len(sites))])
				if rng.IntN(2) == 0 {
					c.SetActorID(someone())
				}
				if rng.IntN(3) > 0 {
					tk := tickets[rng.IntN(len(tickets))]
					c.SetTicketID(tk.ID).SetTicketNumber(tk.Number())
				} else {
					c.SetTicketNumber(1000 + rng.IntN(100))
				}
				c.SaveX(ctx)
			}
			allSites := client.Site.Query().AllX(ctx)
			allTickets := client.Ticket.Query().AllX(ctx)
			allEntries := client.TicketEvent.Query().AllX(ctx)
			allUsers := client.User.Query().WithSites().AllX(ctx)
			siteOf := map[int]int{}
			for _, tk := range allTickets {
				siteOf[tk.ID] = tk.SiteID
			}
			// parts: where each user takes part, by the sites of the
			// tickets each part is seen with (authz.Part), read row by row.
			parts := map[int][]authz.Part{}
			on := func(u int, tickets ...int) {
				var p authz.Part
				for _, tk := range tickets {
					p = append(p, siteOf[tk])
				}
				parts[u] = append(parts[u], p)
			}
			for _, tk := range allTickets {
				if tk.RegisteredByID != nil {
					on(*tk.RegisteredByID, tk.ID)
				}
			}
			for _, a := range client.TicketAssignee.Query().AllX(ctx) {
				on(a.UserID, a.TicketID)
			}
			for _, a := range client.TicketApprover.Query().AllX(ctx) {
				on(a.UserID, a.TicketID)
			}
			for _, w := range client.TicketWatcher.Query().AllX(ctx) {
				on(w.UserID, w.TicketID)
			}
			for _, l := range client.TicketLink.Query().AllX(ctx) {
				on(*l.CreatedByID, l.FromID, l.ToID)
			}
			for _, m := range client.Memo.Query().AllX(ctx) {
				on(*m.AuthorID, m.TicketID)
			}
			for _, a := range client.Attachment.Query().AllX(ctx) {
				on(*a.UploadedByID, a.TicketID)
			}
			for _, ev := range client.TicketEvent.Query().Where(ticketevent.ActorIDNotNil()).AllX(ctx) {
				if ev.TicketID != nil { // SeesEntry: through the ticket while it exists
					on(*ev.ActorID, *ev.TicketID)
				} else {
					parts[*ev.ActorID] = append(parts[*ev.ActorID], authz.Part{ev.SiteID})
				}
			}

			perms := [][]schematype.Permission{nil, {schematype.PermissionTicketView}, {schematype.PermissionTicketEdit}}
			viewers := []*viewer.Viewer{nil, {UserID: users[0].ID, Role: viewer.RoleAdmin}}
			for i := range 40 {
				u := users[rng.IntN(len(users))]
				v := authz.AsViewer(client.User.Query().Where(user.ID(u.ID)).WithSites().OnlyX(ctx))
				v.Role = viewer.RoleAnalyst
				v.Permissions = perms[i%3]
				if i%5 == 0 {
					v.SiteIDs = some() // the token's view may differ from the row's
				}
				viewers = append(viewers, v)
			}

			throughParts := 0 // users seen only for what they take part in
			for _, v := range viewers {
				s := authz.ScopeOf(v)
				vctx := viewer.NewContext(context.Background(), v)
				readsTickets := v.Has(schematype.PermissionTicketView)
				// agree compares the SQL half's ids, the memory half's and,
				// unless the policy denies, those read through the policy.
				agree := func(kind string, sqlIDs, memIDs []int, viaPolicy func() ([]int, error), denied bool) {
					t.Helper()
					slices.Sort(sqlIDs)
					slices.Sort(memIDs)
					if !slices.Equal(sqlIDs, memIDs) {
						t.Fatalf("%s of %+v: SQL %v, memory %v", kind, v, sqlIDs, memIDs)
					}
					if v == nil {
						return // no viewer: the policies deny outright
					}
					got, err := viaPolicy()
					if denied {
						if err == nil {
							t.Fatalf("%s of %+v: the policy let a viewer without TICKET_VIEW read %v", kind, v, got)
						}
						return
					}
					if err != nil {
						t.Fatalf("%s of %+v: %v", kind, v, err)
					}
					slices.Sort(got)
					if !slices.Equal(got, memIDs) {
						t.Fatalf("%s of %+v: through the policy %v, rule %v", kind, v, got, memIDs)
					}
				}

				var mem []int
				for _, st := range allSites {
					if s.SeesSite(st.ID) {
						mem = append(mem, st.ID)
					}
				}
				agree("sites", client.Site.Query().Where(s.SiteWhere()).IDsX(ctx), mem,
					func() ([]int, error) { return client.Site.Query().IDs(vctx) }, false)

				mem = nil
				for _, tk := range allTickets {
					if s.SeesTicket(tk.SiteID) {
						mem = append(mem, tk.ID)
					}
				}
				agree("tickets", client.Ticket.Query().Where(s.TicketWhere()).IDsX(ctx), mem,
					func() ([]int, error) { return client.Ticket.Query().IDs(vctx) }, !readsTickets)

				mem = nil
				for _, ev := range allEntries {
					var now *int
					if ev.TicketID != nil {
						st := siteOf[*ev.TicketID]
						now = &st
					}
					if s.SeesEntry(now, ev.SiteID) {
						mem = append(mem, ev.ID)
					}
				}
				agree("history", client.TicketEvent.Query().Where(s.EntryWhere()).IDsX(ctx), mem,
					func() ([]int, error) { return client.TicketEvent.Query().IDs(vctx) }, !readsTickets)

				mem = nil
				for _, u := range allUsers {
					r := authz.UserRefOf(u)
					alone := s.SeesUser(r)
					r.Parts = parts[u.ID]
					if s.SeesUser(r) {
						if !alone {
							throughParts++
						}
						mem = append(mem, u.ID)
					}
				}
				agree("users", client.User.Query().Where(s.UserWhere()).IDsX(ctx), mem,
					func() ([]int, error) { return client.User.Query().IDs(vctx) }, false)
			}
			if throughParts == 0 {
				t.Fatal("no user was seen only for what they take part in: the data does not try that half of the rule")
			}
		})
	}
}
