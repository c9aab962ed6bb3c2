package admin_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/apitoken"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/internal/admin"
	"socdesk/internal/auth"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/events"
	"socdesk/internal/txn"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

// TestWatchRights: the writes that change who may see what wake up the
// users they affect, once committed; other writes, and rolled-back ones,
// wake nobody.
func TestWatchRights(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) {
			client := testdb.Open(t, b, testdb.Options{}).Client
			broker := events.NewLocal()
			admin.WatchRights(client, broker)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wakes, _ := broker.Subscribe(ctx)
			// expect checks the next wake-up names users (nil: none came).
			expect := func(what string, users ...int) {
				t.Helper()
				_ = broker.Publish(ctx, events.History()) // the marker of "nothing else"
				var got []int
				for w := range wakes {
					if w.Topic == events.TopicHistory {
						break
					}
					got = append(got, w.UserIDs...)
				}
				slices.Sort(got)
				if !slices.Equal(got, users) {
					t.Fatalf("%s: woke up %v, want %v", what, got, users)
				}
			}
			s1 := client.Site.Create().SetName("one").SaveX(sys()).ID
			s2 := client.Site.Create().SetName("two").SaveX(sys()).ID
			u1 := client.User.Create().SetLogin("u1").SetDisplayName("u1").AddSiteIDs(s1).SaveX(sys()).ID
			u2 := client.User.Create().SetLogin("u2").SetDisplayName("u2").AddSiteIDs(s1, s2).SaveX(sys()).ID
			u3 := client.User.Create().SetLogin("u3").SetDisplayName("u3").AddSiteIDs(s2).SaveX(sys()).ID
			if _, err := auth.Issue(sys(), client, "u3", "test"); err != nil {
				t.Fatal(err)
			}
			expect("creations")

			client.User.UpdateOneID(u1).SetDisplayName("U1").ExecX(sys())
			client.APIToken.Update().SetLastUsedAt(time.Now()).ExecX(sys())
			expect("a name, a token's last use")

			client.User.UpdateOneID(u1).SetPermissions([]schematype.Permission{schematype.PermissionTicketView}).ExecX(sys())
			expect("permissions", u1)
			client.User.Update().Where().RemoveSiteIDs(s2).ExecX(sys())
			expect("a site taken from everyone", u1, u2, u3)

			boom := errors.New("boom")
			err := txn.Run(sys(), client, func(ctx context.Context, tx *ent.Tx) error {
				tx.User.UpdateOneID(u1).AddSiteIDs(s2).ExecX(ctx)
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			expect("a rolled-back change")

			client.User.UpdateOneID(u2).AddSiteIDs(s2).ExecX(sys())
			expect("a site given", u2)
			err = txn.Run(sys(), client, func(ctx context.Context, tx *ent.Tx) error {
				if err := tx.Site.DeleteOneID(s1).Exec(ctx); err != nil {
					return err
				}
				select {
				case w := <-wakes:
					t.Errorf("woke up %+v before the commit", w)
				case <-time.After(50 * time.Millisecond):
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if client.Site.Query().Where(site.ID(s1)).ExistX(sys()) {
				t.Fatal("site not deleted")
			}
			expect("a site deleted", u1, u2)

			client.APIToken.Delete().Where(apitoken.HasUserWith()).ExecX(sys())
			expect("a token revoked", u3)
			client.User.DeleteOneID(u3).ExecX(sys())
			expect("a user deleted", u3)
		})
	}
}
