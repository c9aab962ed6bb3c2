package authz

import (
	"context"
	"maps"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

// A history entry of a ticket the viewer sees may name another ticket (a
// link's other end) that the viewer does not: the entry stays, the other
// ticket's number is withheld. The API's history, ticketHistory and the live
// stream all show entries through Redact.

// namesTicket are the changes that name another ticket by its number, under
// "ticket": a link's other end, a schedule's generated task.
func namesTicket(f schematype.ChangedField) bool {
	return f == schematype.ChangeLink || f == schematype.ChangeOccurrence
}

// LinkedNumbers are the numbers of the other tickets that changes name.
func LinkedNumbers(changes []schematype.FieldChange) []int {
	var out []int
	for _, ch := range changes {
		if !namesTicket(ch.Field) {
			continue
		}
		for _, v := range []any{ch.From, ch.To} {
			if m, ok := v.(map[string]any); ok {
				if n, ok := number(m["ticket"]); ok {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), true
	case int:
		return n, true
	case int64:
		return int(n), true
	}
	return 0, false
}

// SitesOfTickets finds, as the system, the site of each ticket by number:
// where it is now, or where it was deleted from. Unknown numbers are left out.
func SitesOfTickets(ctx context.Context, client *ent.Client, numbers []int) (map[int]int, error) {
	out := make(map[int]int, len(numbers))
	if len(numbers) == 0 {
		return out, nil
	}
	ctx = System(ctx)
	ids := make([]int, len(numbers))
	for i, n := range numbers {
		ids[i] = ent.TicketIDFromNumber(n)
	}
	ts, err := client.Ticket.Query().Where(ticket.IDIn(ids...)).Select(ticket.FieldSiteID).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		out[t.Number()] = t.SiteID
	}
	if len(ts) == len(numbers) {
		return out, nil
	}
	gone, err := client.TicketEvent.Query().
		Where(ticketevent.TicketNumberIn(numbers...), ticketevent.KindEQ(ticketevent.KindDELETED)).
		Select(ticketevent.FieldTicketNumber, ticketevent.FieldSiteID).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, ev := range gone {
		if _, ok := out[ev.TicketNumber]; !ok {
			out[ev.TicketNumber] = ev.SiteID
		}
	}
	return out, nil
}

// Redact is changes with what the viewer may not see withheld: a linked
// ticket whose site (sites, from SitesOfTickets) the viewer does not see, or
// that cannot be found, shows as a link to no ticket ("ticket": null). changes
// itself is not modified.
func (s Scope) Redact(changes []schematype.FieldChange, sites map[int]int) []schematype.FieldChange {
	if s.All() {
		return changes
	}
	hide := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		n, ok := number(m["ticket"])
		if !ok {
			return v
		}
		if site, known := sites[n]; known && s.SeesTicket(site) {
			return v
		}
		out := maps.Clone(m)
		out["ticket"] = nil
		delete(out, "deleted")
		return out
	}
	var out []schematype.FieldChange
	for i, ch := range changes {
		if !namesTicket(ch.Field) {
			continue
		}
		if out == nil {
			out = append([]schematype.FieldChange(nil), changes...)
		}
		out[i].From, out[i].To = hide(ch.From), hide(ch.To)
	}
	if out == nil {
		return changes
	}
	return out
}

// RedactChanges is Redact with the sites looked up: what a history entry's
// changes show to the scope's viewer.
func RedactChanges(ctx context.Context, client *ent.Client, s Scope, changes []schematype.FieldChange) ([]schematype.FieldChange, error) {
	nums := LinkedNumbers(changes)
	if len(nums) == 0 || s.All() {
		return changes, nil
	}
	sites, err := SitesOfTickets(ctx, client, nums)
	if err != nil {
		return nil, err
	}
	return s.Redact(changes, sites), nil
}
