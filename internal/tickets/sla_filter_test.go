package tickets

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/sla"
)

// TestSLAFilterParity: the SLA rows of the filter (the state as of a time,
// the dues' bounds) select in SQL exactly what their memory halves select,
// on both databases, for random clocks: running, paused, met in time or
// late, at instants on, before and after the dues and at-risk instants.
func TestSLAFilterParity(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 14))
			client := testdb.Open(t, backend, testdb.Options{}).Client
			ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
			site := client.Site.Create().SetName("s").SaveX(ctx).ID
			cat := client.Category.Create().SetName("c").SetWorkflow(category.WorkflowAPPROVAL).SaveX(ctx).ID
			base := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
			instant := func() time.Time {
				return base.Add(time.Duration(rng.IntN(6))*time.Hour + time.Duration(rng.IntN(3))*time.Microsecond)
			}
			maybe := func() *time.Time {
				if rng.IntN(3) == 0 {
					return nil
				}
				v := instant()
				return &v
			}
			for i := range 200 {
				c := client.Ticket.Create().SetKind(ticket.KindANALYSIS).SetTitle(fmt.Sprint("t", i)).SetSiteID(site).SetCategoryID(cat)
				if rng.IntN(8) > 0 { // most have service levels
					due, risk := instant(), instant()
					c.SetResponseDueAt(due).SetResponseRiskAt(risk).SetNillableRespondedAt(maybe())
					due, risk = instant(), instant()
					c.SetResolutionDueAt(due).SetResolutionRiskAt(risk).SetNillableResolvedAt(maybe())
				} else if rng.IntN(2) == 0 {
					c.SetResolutionDueAt(instant()).SetResolutionRiskAt(instant())
				}
				if rng.IntN(3) == 0 {
					c.SetSLAPausedSince(instant())
				}
				c.SaveX(ctx)
			}
			all := client.Ticket.Query().AllX(ctx)
			for range 300 {
				var f Filter
				if rng.IntN(2) == 0 {
					f.SLAStates = &SLAStates{States: append(pickStates(rng), []schematype.SLAState{}...), At: instant()}
				}
				for _, p := range []**time.Time{&f.ResponseDueFrom, &f.ResponseDueTo, &f.ResolutionDueFrom, &f.ResolutionDueTo} {
					if rng.IntN(4) == 0 {
						v := instant().Add(time.Duration(rng.IntN(3)-1) * time.Microsecond)
						*p = &v
					}
				}
				ps, err := f.Predicates()
				if err != nil {
					t.Fatal(err)
				}
				got := client.Ticket.Query().Where(ps...).IDsX(ctx)
				var want []int
				for _, tk := range all {
					if f.Matches(SnapshotOf(tk)) {
						want = append(want, tk.ID)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					for _, tk := range all {
						if slices.Contains(got, tk.ID) != slices.Contains(want, tk.ID) {
							t.Logf("#%d SQL %v: %+v", tk.ID, slices.Contains(got, tk.ID), sla.ClocksOf(tk))
						}
					}
					t.Fatalf("filter %+v: SQL %d tickets, memory %d", f.SLAStates, len(got), len(want))
				}
			}
		})
	}
}

func pickStates(rng *rand.Rand) []schematype.SLAState {
	var out []schematype.SLAState
	for _, s := range sla.States {
		if rng.IntN(3) == 0 {
			out = append(out, s)
		}
	}
	return out
}
