package seed

import (
	"context"
	"os"
	"testing"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

func TestZZDump(t *testing.T) {
	if os.Getenv("SEED_DUMP") == "" {
		t.Skip()
	}
	client := openSQLite(t, "seeddump")
	if err := Demo(context.Background(), client); err != nil {
		t.Fatal(err)
	}
	ctx := allow()
	ts := client.Ticket.Query().Order(ticket.ByID()).WithAssignees().WithApprovers().WithTags().WithCategory().WithMemos().AllX(ctx)
	t.Logf("first id %d number %d, last number %d", ts[0].ID, ts[0].Number(), ts[len(ts)-1].Number())
	for _, i := range []int{0, 1, 2, 50, 120, 200, 298, 299} {
		tk := ts[i]
		t.Logf("#%d %s | %s/%s/%s/%s prio=%s(%d) cat=%s verdict=%v inc=%v created=%s updated=%s closed=%v v=%d dup=%d\n  body=%q\n  det=%v %v %s:%v -> %s:%v %s host=%s custom=%v\n  assignees=%d approvers=%d tags=%d memos=%d",
			tk.Number(), tk.Title, tk.Kind, tk.Origin, tk.Status, tk.BodyFormat, tk.Priority, tk.PriorityRank, tk.Edges.Category.Name, tk.AttackVerdict, tk.Incident,
			tk.CreatedAt.Format("01-02 15:04"), tk.UpdatedAt.Format("01-02 15:04"), tk.ClosedAt, tk.Version, tk.DuplicateCount, tk.Body,
			tk.DetectionTemplate, tk.FirstDetectedAt, tk.SrcIP, tk.SrcPort, tk.DstIP, tk.DstPort, tk.Protocol, tk.Host, tk.CustomFields,
			len(tk.Edges.Assignees), len(tk.Edges.Approvers), len(tk.Edges.Tags), len(tk.Edges.Memos))
		for _, e := range client.TicketEvent.Query().Where(ticketevent.TicketID(tk.ID)).Order(ticketevent.ByID()).AllX(ctx) {
			t.Logf("    %s %s actor=%v %+v", e.CreatedAt.Format("01-02 15:04"), e.Kind, e.ActorID, e.Changes)
		}
	}
	st := map[ticket.Status]int{}
	for _, tk := range ts {
		st[tk.Status]++
	}
	t.Logf("statuses %v", st)
	_ = ent.TicketNumber
}
