package store_test

import (
	"context"
	"testing"

	"socdesk/ent/privacy"
	"socdesk/ent/ticket"
	"socdesk/internal/devtools/testdb"
)

// TestBackfillPivotKeys: tickets written without the pivots' keys (before
// they existed) get them at the next migration, as the hook computes them;
// a value that is no IP gets none, and migrating again changes nothing.
func TestBackfillPivotKeys(t *testing.T) {
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			st := testdb.Open(t, backend, testdb.Options{})
			c := st.Client
			site := c.Site.Create().SetName("s").SaveX(ctx)
			cat := c.Category.Create().SetName("c").SaveX(ctx)
			var ids []int
			for i := range 2500 { // more than a batch
				tk := c.Ticket.Create().SetTitle("t").SetKind(ticket.KindDETECTION).SetSite(site).SetCategory(cat).
					SetSrcIP([]string{"10.1.2.3", "not an ip", "2001:DB8::1"}[i%3]).SetHost(" WS-1 ").SaveX(ctx)
				ids = append(ids, tk.ID)
			}
			// As before the keys existed.
			if _, err := st.DB.ExecContext(ctx, `UPDATE tickets SET src_ip_key = NULL, dst_ip_key = NULL, host_key = NULL`); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := st.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				for i, id := range ids {
					tk := c.Ticket.GetX(ctx, id)
					want := []string{"00000000000000000000ffff0a010203", "", "20010db8000000000000000000000001"}[i%3]
					if got := deref(tk.SrcIPKey); got != want || deref(tk.HostKey) != "ws-1" || tk.DstIPKey != nil {
						t.Fatalf("ticket %d (%q): keys %q %v %q, want %q, nil, ws-1", id, tk.SrcIP, got, tk.DstIPKey, deref(tk.HostKey), want)
					}
				}
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
