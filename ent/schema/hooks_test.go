package schema_test

// Tests of the schema's hooks written straight through ent, as any code
// could, on both databases: closedAt follows the status, logins are folded.

import (
	"context"
	"errors"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func sys() context.Context { return authz.System(context.Background()) }

func forEachBackend(t *testing.T, fn func(t *testing.T, c *ent.Client)) {
	for _, b := range testdb.Backends {
		t.Run(b, func(t *testing.T) { fn(t, testdb.Open(t, b, testdb.Options{}).Client) })
	}
}

// TestClosedAtFollowsStatus: whoever writes a ticket's status, closedAt is
// set on entering CLOSED, kept while it stays CLOSED, cleared on leaving it,
// and never written on its own (issue 9, point 2).
func TestClosedAtFollowsStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *ent.Client) {
		ctx := sys()
		cat := c.Category.Create().SetName("C").SetWorkflow(category.WorkflowAPPROVAL).SaveX(ctx)
		st := c.Site.Create().SetName("S").SaveX(ctx)
		create := func(s ticket.Status) *ent.TicketCreate {
			return c.Ticket.Create().SetKind(ticket.KindANALYSIS).SetTitle("t").SetBody("b").
				SetCategoryID(cat.ID).SetSiteID(st.ID).SetStatus(s)
		}
		closedAt := func(id int) *time.Time { return c.Ticket.GetX(ctx, id).ClosedAt }
		recent := func(what string, at *time.Time) {
			t.Helper()
			if at == nil || time.Since(*at) > time.Minute || time.Since(*at) < -time.Second {
				t.Errorf("%s: closedAt %v, want now", what, at)
			}
		}
		absent := func(what string, at *time.Time) {
			t.Helper()
			if at != nil {
				t.Errorf("%s: closedAt %v, want none", what, at)
			}
		}

		// Created: CLOSED gets a time (its own, when given: imported history), others none.
		absent("created NEW", closedAt(create(ticket.StatusNEW).SaveX(ctx).ID))
		absent("created NEW with a closedAt", closedAt(create(ticket.StatusNEW).SetClosedAt(time.Now()).SaveX(ctx).ID))
		recent("created CLOSED", closedAt(create(ticket.StatusCLOSED).SaveX(ctx).ID))
		past := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
		if at := closedAt(create(ticket.StatusCLOSED).SetClosedAt(past).SaveX(ctx).ID); at == nil || !at.Equal(past) {
			t.Errorf("created CLOSED at %s: closedAt %v", past, at)
		}

		// Updated one by one, touching only the status.
		tk := create(ticket.StatusASSIGNED).SaveX(ctx)
		c.Ticket.UpdateOneID(tk.ID).SetStatus(ticket.StatusCLOSED).ExecX(ctx)
		first := closedAt(tk.ID)
		recent("closed", first)
		c.Ticket.UpdateOneID(tk.ID).SetStatus(ticket.StatusCLOSED).SetTitle("again").ExecX(ctx)
		if at := closedAt(tk.ID); at == nil || !at.Equal(*first) {
			t.Errorf("closed again: closedAt %v, want it kept at %v", at, first)
		}
		c.Ticket.UpdateOneID(tk.ID).SetTitle("renamed").ExecX(ctx)
		if at := closedAt(tk.ID); at == nil || !at.Equal(*first) {
			t.Errorf("renamed while closed: closedAt %v, want %v", at, first)
		}
		c.Ticket.UpdateOneID(tk.ID).SetStatus(ticket.StatusNEW).ExecX(ctx)
		absent("reopened", closedAt(tk.ID))
		// An entity's own update (UpdateOne(t)) reads the old status from t.
		c.Ticket.UpdateOne(c.Ticket.GetX(ctx, tk.ID)).SetStatus(ticket.StatusCLOSED).ExecX(ctx)
		recent("closed from the entity", closedAt(tk.ID))
		c.Ticket.UpdateOne(c.Ticket.GetX(ctx, tk.ID)).SetStatus(ticket.StatusIN_PROGRESS).SetClosedAt(past).ExecX(ctx)
		absent("left CLOSED with a closedAt given", closedAt(tk.ID))

		// Updated in bulk.
		a, b := create(ticket.StatusNEW).SaveX(ctx), create(ticket.StatusSUBMITTED).SaveX(ctx)
		c.Ticket.Update().Where(ticket.IDIn(a.ID, b.ID)).SetStatus(ticket.StatusCLOSED).ExecX(ctx)
		recent("bulk closed a", closedAt(a.ID))
		recent("bulk closed b", closedAt(b.ID))
		c.Ticket.Update().Where(ticket.IDIn(a.ID, b.ID)).SetStatus(ticket.StatusASSIGNED).ExecX(ctx)
		absent("bulk reopened a", closedAt(a.ID))
		absent("bulk reopened b", closedAt(b.ID))

		// closedAt alone is refused, and changes nothing.
		v := c.Ticket.GetX(ctx, a.ID).Version
		if err := c.Ticket.UpdateOneID(a.ID).SetClosedAt(past).Exec(ctx); err == nil {
			t.Error("closedAt set without a status")
		}
		if err := c.Ticket.UpdateOneID(closedTicket(t, c, ctx)).ClearClosedAt().Exec(ctx); err == nil {
			t.Error("closedAt cleared without a status")
		}
		if got := c.Ticket.GetX(ctx, a.ID); got.ClosedAt != nil || got.Version != v {
			t.Errorf("refused writes changed the ticket: %+v", got)
		}
	})
}

// closedTicket is a CLOSED ticket's id.
func closedTicket(t *testing.T, c *ent.Client, ctx context.Context) int {
	t.Helper()
	return c.Ticket.Query().Where(ticket.StatusEQ(ticket.StatusCLOSED)).FirstIDX(ctx)
}

// TestLoginsIgnoreCase: a login is stored folded, and one differing from
// another only by case is refused as a CONFLICT on input.login (issue 9, 1l).
func TestLoginsIgnoreCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *ent.Client) {
		ctx := sys()
		u := c.User.Create().SetLogin("Ana.Smith").SetDisplayName("Ana").SaveX(ctx)
		if u.Login != "ana.smith" || c.User.GetX(ctx, u.ID).Login != "ana.smith" {
			t.Fatalf("stored login %q", c.User.GetX(ctx, u.ID).Login)
		}
		for _, login := range []string{"ANA.SMITH", "ana.smith", "Ana.smith"} {
			_, err := c.User.Create().SetLogin(login).SetDisplayName("Other").Save(ctx)
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Conflict || e.Field != "input.login" {
				t.Errorf("second user %q: %v", login, err)
			}
		}
		bob := c.User.Create().SetLogin("bob").SetDisplayName("Bob").SaveX(ctx)
		_, err := c.User.UpdateOneID(bob.ID).SetLogin("ANA.smith").Save(ctx)
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.Conflict || e.Field != "input.login" {
			t.Errorf("renamed to another's login: %v", err)
		}
		// Renaming oneself to another case of one's own login is no conflict.
		if got := c.User.UpdateOneID(bob.ID).SetLogin("BOB").SaveX(ctx); got.Login != "bob" {
			t.Errorf("renamed BOB: %q", got.Login)
		}
		if n := c.User.Query().CountX(ctx); n != 2 {
			t.Errorf("%d users, want 2", n)
		}
	})
}

// TestPivotKeysFollowTheFields: whoever writes a ticket's IPs and host,
// their keys follow (package netkey): set with a value, cleared with it,
// none for a value that is no IP or a blank host, on one ticket or many.
func TestPivotKeysFollowTheFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *ent.Client) {
		ctx := sys()
		cat := c.Category.Create().SetName("C").SetWorkflow(category.WorkflowAPPROVAL).SaveX(ctx)
		st := c.Site.Create().SetName("S").SaveX(ctx)
		keys := func(id int) [3]string {
			tk := c.Ticket.GetX(ctx, id)
			var out [3]string
			for i, k := range []*string{tk.SrcIPKey, tk.DstIPKey, tk.HostKey} {
				if k != nil {
					out[i] = *k
				}
			}
			return out
		}
		want := func(what string, id int, w [3]string) {
			t.Helper()
			if got := keys(id); got != w {
				t.Errorf("%s: keys %q, want %q", what, got, w)
			}
		}
		const v4, v6 = "00000000000000000000ffff0a010203", "20010db8000000000000000000000001"
		tk := c.Ticket.Create().SetKind(ticket.KindDETECTION).SetTitle("t").SetCategoryID(cat.ID).SetSiteID(st.ID).
			SetSrcIP("10.1.2.3").SetDstIP("2001:DB8::1").SetHost(" WS-01 ").SaveX(ctx)
		want("created", tk.ID, [3]string{v4, v6, "ws-01"})
		c.Ticket.UpdateOneID(tk.ID).SetTitle("renamed").ExecX(ctx)
		want("other fields changed", tk.ID, [3]string{v4, v6, "ws-01"})
		c.Ticket.UpdateOneID(tk.ID).SetSrcIP("::ffff:10.1.2.3").SetDstIP("not an ip").SetHost("  ").ExecX(ctx)
		want("a mapped IP, no IP, a blank host", tk.ID, [3]string{v4, "", ""})
		c.Ticket.UpdateOneID(tk.ID).ClearSrcIP().SetHost("db").ExecX(ctx)
		want("cleared", tk.ID, [3]string{"", "", "db"})
		c.Ticket.Update().Where(ticket.ID(tk.ID)).SetDstIP("10.1.2.3").ExecX(ctx)
		want("many at once", tk.ID, [3]string{"", v4, "db"})
	})
}
