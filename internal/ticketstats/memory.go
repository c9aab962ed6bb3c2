package ticketstats

import (
	"context"
	"slices"
	"time"

	"socdesk/ent"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/workflow"
)

// entry is a history entry as the metrics read it.
type entry struct {
	ID     int
	Kind   ticketevent.Kind
	Status *string
	At     time.Time
}

// measured is one ticket's durations as of the plan's AsOf, in
// microseconds: to the first response and to the final resolution (-1 for
// none), and in each status.
type measured struct {
	response, resolution int64
	inStatus             map[ticket.Status]int64
}

// measure reads a ticket's history (entries before asOf, in (at, id)
// order): the first response is its first entry of a workflow.ResponseKinds
// kind; it is resolved when its latest status is one of
// workflow.ResolvedStatuses, since the first entry of the latest run of
// them (RESOLVED then CLOSED resolves at RESOLVED; a reopened and
// re-resolved ticket at its final resolution); each status lasts from its
// entry to the next status entry, or to asOf.
func measure(created time.Time, entries []entry, asOf time.Time) measured {
	m := measured{response: -1, resolution: -1, inStatus: map[ticket.Status]int64{}}
	var statuses []entry
	for _, e := range entries {
		if m.response < 0 && workflow.IsResponse(e.Kind) {
			m.response = e.At.Sub(created).Microseconds()
		}
		if e.Status != nil {
			statuses = append(statuses, e)
		}
	}
	for i, e := range statuses {
		end := asOf
		if i+1 < len(statuses) {
			end = statuses[i+1].At
		}
		m.inStatus[ticket.Status(*e.Status)] += end.Sub(e.At).Microseconds()
	}
	if n := len(statuses); n > 0 && resolved(statuses[n-1]) {
		i := n - 1
		for i > 0 && resolved(statuses[i-1]) {
			i--
		}
		m.resolution = statuses[i].At.Sub(created).Microseconds()
	}
	return m
}

func resolved(e entry) bool { return workflow.IsResolved(ticket.Status(*e.Status)) }

// inMemory measures the plan's tickets in Go: their rows through the
// viewer's query (the site rule), then their assignees and history.
func (s *Service) inMemory(ctx context.Context, p *plan) (map[key]*GroupMetrics, error) {
	ts, err := s.Client.Ticket.Query().Where(p.preds...).
		Select(ticket.FieldCreatedAt, ticket.FieldSiteID, ticket.FieldCategoryID, ticket.FieldPriority).
		Limit(MaxEmbeddedTickets + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(ts) > MaxEmbeddedTickets {
		return nil, errs.Invalid("to", "more than %d tickets to measure on the embedded database: narrow the range or the filter", MaxEmbeddedTickets)
	}
	return measureAll(ctx, s.Client, p, ts)
}

// measureAll groups and measures tickets ts (visible to the viewer: their
// assignees and history are read without the policies, which would only
// say so again).
func measureAll(ctx context.Context, client *ent.Client, p *plan, ts []*ent.Ticket) (map[key]*GroupMetrics, error) {
	ctx = authz.System(ctx)
	ids := make([]int, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	assignees := map[int][]int{}
	history := map[int][]entry{}
	for chunk := range slices.Chunk(ids, 500) {
		if p.by[GroupAssignee] {
			as, err := client.TicketAssignee.Query().Where(ticketassignee.TicketIDIn(chunk...)).All(ctx)
			if err != nil {
				return nil, err
			}
			for _, a := range as {
				assignees[a.TicketID] = append(assignees[a.TicketID], a.UserID)
			}
		}
		es, err := client.TicketEvent.Query().
			Where(ticketevent.TicketIDIn(chunk...), ticketevent.CreatedAtGTE(p.q.From), ticketevent.CreatedAtLT(p.asOf)).
			Order(ent.Asc(ticketevent.FieldCreatedAt), ent.Asc(ticketevent.FieldID)).
			Select(ticketevent.FieldTicketID, ticketevent.FieldKind, ticketevent.FieldStatus, ticketevent.FieldCreatedAt).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			history[*e.TicketID] = append(history[*e.TicketID], entry{ID: e.ID, Kind: e.Kind, Status: e.Status, At: e.CreatedAt})
		}
	}

	type acc struct {
		g                    *GroupMetrics
		response, resolution []int64
		inStatus             map[ticket.Status]int64
		inStatusN            map[ticket.Status]int
	}
	accs := map[key]*acc{}
	for _, t := range ts {
		m := measure(t.CreatedAt, history[t.ID], p.asOf)
		k := key{}
		if p.by[GroupPeriod] {
			k.Period = p.periodOf(t.CreatedAt.UTC())
		}
		if p.by[GroupCategory] {
			k.Category = t.CategoryID
		}
		if p.by[GroupSite] {
			k.Site = t.SiteID
		}
		if p.by[GroupPriority] {
			k.Priority = string(t.Priority)
		}
		keys := []key{k}
		if p.by[GroupAssignee] && len(assignees[t.ID]) > 0 {
			keys = nil
			for _, u := range assignees[t.ID] {
				k.Assignee = u
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			a := accs[k]
			if a == nil {
				a = &acc{g: &GroupMetrics{}, inStatus: map[ticket.Status]int64{}, inStatusN: map[ticket.Status]int{}}
				accs[k] = a
			}
			a.g.Tickets++
			if m.response >= 0 {
				a.response = append(a.response, m.response)
			}
			if m.resolution >= 0 {
				a.resolution = append(a.resolution, m.resolution)
			}
			for st, us := range m.inStatus {
				a.inStatus[st] += us
				a.inStatusN[st]++
			}
		}
	}
	out := make(map[key]*GroupMetrics, len(accs))
	for k, a := range accs {
		a.g.Response, a.g.Resolution = summarize(a.response), summarize(a.resolution)
		for st, us := range a.inStatus {
			n := a.inStatusN[st]
			a.g.TimeInStatus = append(a.g.TimeInStatus, StatusTime{Status: st, Tickets: n, Total: seconds(float64(us)), Mean: seconds(float64(us) / float64(n))})
		}
		out[k] = a.g
	}
	return out, nil
}

// summarize is the mean and the continuous percentiles (PostgreSQL's
// percentile_cont: linear interpolation between the closest ranks) of
// durations in microseconds.
func summarize(us []int64) Durations {
	d := Durations{Count: len(us)}
	if len(us) == 0 {
		return d
	}
	slices.Sort(us)
	var sum int64
	for _, x := range us {
		sum += x
	}
	d.Mean = ptr(seconds(float64(sum) / float64(len(us))))
	d.P50, d.P90 = ptr(seconds(percentile(us, 0.5))), ptr(seconds(percentile(us, 0.9)))
	return d
}

// percentile of sorted xs, as percentile_cont computes it.
func percentile(xs []int64, f float64) float64 {
	rank := f * float64(len(xs)-1)
	lo := int(rank)
	if lo+1 >= len(xs) {
		return float64(xs[lo])
	}
	return float64(xs[lo]) + (rank-float64(lo))*float64(xs[lo+1]-xs[lo])
}
