package graph_test

import (
	"slices"
	"strings"
	"testing"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
)

// pivotFix creates detection tickets through the API and returns their numbers.
type pivotFix struct {
	e         *env
	site, cat int
}

func (f pivotFix) detection(token string, site int, det map[string]any) int {
	f.e.t.Helper()
	var out struct{ CreateTicket struct{ Number int } }
	f.e.do(token, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { number } }`, map[string]any{"in": map[string]any{
		"kind": "DETECTION", "title": "Detection", "siteID": gid(site), "categoryID": gid(f.cat), "detection": det,
	}}).ok().into(&out)
	return out.CreateTicket.Number
}

type relatedPage struct {
	Ticket struct {
		RelatedTickets struct {
			TotalCount int
			Counts     []struct {
				By    string
				Count int
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct{ Node struct{ Number int } }
		}
	}
}

func (p relatedPage) numbers() []int {
	var out []int
	for _, e := range p.Ticket.RelatedTickets.Edges {
		out = append(out, e.Node.Number)
	}
	return out
}

func (p relatedPage) counts() map[string]int {
	out := map[string]int{}
	for _, c := range p.Ticket.RelatedTickets.Counts {
		out[c.By] = c.Count
	}
	return out
}

const relatedQuery = `query($n: Int!, $by: [RelatedBy!], $first: Int, $after: Cursor) { ticket(number: $n) {
	relatedTickets(by: $by, first: $first, after: $after) { totalCount counts { by count } pageInfo { hasNextPage endCursor } edges { node { number } } } } }`

// TestRelatedTickets: the earlier tickets sharing the source IP (in any of
// its forms), the destination IP or the host (whatever its case), newest
// first, each once, with a count per pivot; later tickets are not related;
// pagination; by; a viewer sees neither the tickets nor the counts of a
// site it may not see; a ticket with none of the fields has none.
func TestRelatedTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := pivotFix{e: e, site: e.site("HQ"), cat: e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)}
		branch := e.site("Branch")
		hq, _ := e.user("hq", user.RoleANALYST, view, f.site)
		net := func(src, dst string) map[string]any {
			return map[string]any{"template": "NETWORK", "sourceIP": src, "destinationIP": dst}
		}
		withHost := func(d map[string]any, h string) map[string]any { d["host"] = h; return d }

		t1 := f.detection(e.admin, f.site, net("10.0.0.1", "192.168.1.1"))                            // src, dst
		t2 := f.detection(e.admin, branch, net("10.0.0.1", "192.168.9.9"))                            // src, another site
		t3 := f.detection(e.admin, f.site, map[string]any{"template": "ENDPOINT", "host": "WS-01"})   // host
		t4 := f.detection(e.admin, f.site, withHost(net("::ffff:10.0.0.1", "192.168.1.1"), " Ws-01")) // src (mapped form), dst, host
		t5 := f.detection(e.admin, f.site, withHost(net("10.0.0.2", "192.168.1.1"), "ws-01"))         // dst, host
		f.detection(e.admin, f.site, net("10.0.0.3", "192.168.7.7"))                                  // nothing shared
		me := f.detection(e.admin, f.site, withHost(net("10.0.0.1", "192.168.1.1"), "ws-01"))
		f.detection(e.admin, f.site, net("10.0.0.1", "192.168.1.1")) // later: not related

		var p relatedPage
		e.do(e.admin, relatedQuery, map[string]any{"n": me, "first": 10}).ok().into(&p)
		if got, want := p.numbers(), []int{t5, t4, t3, t2, t1}; !slices.Equal(got, want) {
			t.Fatalf("admin: related %v, want %v", got, want)
		}
		if c := p.counts(); p.Ticket.RelatedTickets.TotalCount != 5 || c["SOURCE_IP"] != 3 || c["DESTINATION_IP"] != 3 || c["HOST"] != 3 {
			t.Fatalf("admin: total %d counts %v", p.Ticket.RelatedTickets.TotalCount, c)
		}
		if by := p.Ticket.RelatedTickets.Counts; len(by) != 3 || by[0].By != "SOURCE_IP" || by[1].By != "DESTINATION_IP" || by[2].By != "HOST" {
			t.Fatalf("counts not in the order of by: %+v", by)
		}

		// The page is one statement whatever the pivots, totalCount and the
		// counts one more together, and nothing is counted unless asked.
		tickets := func(query string) (page, counts int) {
			t.Helper()
			n := e.statementCount()
			e.do(hq, query, map[string]any{"n": me, "first": 10}).ok()
			for _, s := range e.statementsSince(n) {
				switch {
				case strings.Contains(s, "SUM(CASE"):
					counts++
				case strings.Contains(s, "FROM `tickets`") || strings.Contains(s, `FROM "tickets"`):
					if !strings.Contains(s, "UNION") && !strings.Contains(s, "COUNT(") {
						continue // the ticket itself
					}
					page++
				}
			}
			return page, counts
		}
		if p, c := tickets(relatedQuery); p != 1 || c != 1 {
			t.Fatalf("relatedTickets with totalCount and counts: %d page and %d count statements, want 1 and 1", p, c)
		}
		if p, c := tickets(`query($n: Int!) { ticket(number: $n) { relatedTickets(first: 5) { edges { node { number } } } } }`); p != 1 || c != 0 {
			t.Fatalf("relatedTickets without counts: %d page and %d count statements, want 1 and 0", p, c)
		}

		// The site's analyst: no ticket of Branch, in the list or the counts.
		e.do(hq, relatedQuery, map[string]any{"n": me, "first": 2}).ok().into(&p)
		if got := p.numbers(); !slices.Equal(got, []int{t5, t4}) || !p.Ticket.RelatedTickets.PageInfo.HasNextPage {
			t.Fatalf("hq, first page: %v %+v", got, p.Ticket.RelatedTickets.PageInfo)
		}
		if c := p.counts(); p.Ticket.RelatedTickets.TotalCount != 4 || c["SOURCE_IP"] != 2 || c["DESTINATION_IP"] != 3 || c["HOST"] != 3 {
			t.Fatalf("hq: total %d counts %v", p.Ticket.RelatedTickets.TotalCount, c)
		}
		var next relatedPage
		e.do(hq, relatedQuery, map[string]any{"n": me, "first": 2, "after": *p.Ticket.RelatedTickets.PageInfo.EndCursor}).ok().into(&next)
		if got := next.numbers(); !slices.Equal(got, []int{t3, t1}) || next.Ticket.RelatedTickets.PageInfo.HasNextPage {
			t.Fatalf("hq, second page: %v %+v", got, next.Ticket.RelatedTickets.PageInfo)
		}

		// One pivot, then two.
		e.do(hq, relatedQuery, map[string]any{"n": me, "first": 10, "by": []string{"HOST"}}).ok().into(&p)
		if got := p.numbers(); !slices.Equal(got, []int{t5, t4, t3}) || len(p.Ticket.RelatedTickets.Counts) != 1 || p.counts()["HOST"] != 3 {
			t.Fatalf("by HOST: %v %+v", got, p.Ticket.RelatedTickets.Counts)
		}
		e.do(e.admin, relatedQuery, map[string]any{"n": me, "first": 10, "by": []string{"SOURCE_IP", "HOST"}}).ok().into(&p)
		if got := p.numbers(); !slices.Equal(got, []int{t5, t4, t3, t2, t1}) || p.Ticket.RelatedTickets.TotalCount != 5 {
			t.Fatalf("by SOURCE_IP, HOST: %v", got)
		}
		e.do(e.admin, relatedQuery, map[string]any{"n": me, "first": 10, "by": []string{"DESTINATION_IP"}}).ok().into(&p)
		if got := p.numbers(); !slices.Equal(got, []int{t5, t4, t1}) {
			t.Fatalf("by DESTINATION_IP: %v", got)
		}

		// The Branch ticket's own pivot, seen from HQ: nothing of Branch.
		e.do(hq, relatedQuery, map[string]any{"n": t2, "first": 10}).ok()
		var none struct{ Ticket *struct{} }
		e.do(hq, relatedQuery, map[string]any{"n": t2, "first": 10}).ok().into(&none)
		if none.Ticket != nil {
			t.Fatal("hq sees the Branch ticket")
		}

		// Nothing to pivot on; page bounds.
		var analysis struct{ CreateTicket struct{ Number int } }
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { number } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "Notes", "body": "text", "siteID": gid(f.site), "categoryID": gid(f.cat)}}).ok().into(&analysis)
		e.do(e.admin, relatedQuery, map[string]any{"n": analysis.CreateTicket.Number, "first": 10}).ok().into(&p)
		if len(p.numbers()) != 0 || p.Ticket.RelatedTickets.TotalCount != 0 || p.counts()["SOURCE_IP"] != 0 || len(p.Ticket.RelatedTickets.Counts) != 3 {
			t.Fatalf("analysis ticket: %+v", p.Ticket.RelatedTickets)
		}
		e.do(e.admin, relatedQuery, map[string]any{"n": me, "first": 101}).wantCode("BAD_USER_INPUT")
		e.do(e.admin, relatedQuery, map[string]any{"n": me}).wantCode("BAD_USER_INPUT")
	})
}

// TestIPHostAndExplanationFilters: the ticket list filtered by source and
// destination IPs and CIDR prefixes, hosts whatever their case and
// explanation statuses, over GraphQL; bad values are refused naming the
// filter's field.
func TestIPHostAndExplanationFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := pivotFix{e: e, site: e.site("HQ"), cat: e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)}
		a := f.detection(e.admin, f.site, map[string]any{"template": "NETWORK", "sourceIP": "10.1.0.0", "destinationIP": "2001:db8::1", "host": "WS-01"})
		b := f.detection(e.admin, f.site, map[string]any{"template": "NETWORK", "sourceIP": "10.1.255.255", "destinationIP": "2001:db9::1"})
		c := f.detection(e.admin, f.site, map[string]any{"template": "NETWORK", "sourceIP": "10.2.0.0", "destinationIP": "::ffff:10.1.2.3"})
		d := f.detection(e.admin, f.site, map[string]any{"template": "ENDPOINT", "host": "db.example"})
		e.client.Ticket.UpdateOneID(ent.TicketIDFromNumber(d)).SetExplanationStatus(schematype.ExplanationSubmitted).ExecX(sys())

		list := func(filter map[string]any) []int {
			t.Helper()
			var out struct {
				Tickets struct {
					Edges []struct{ Node struct{ Number int } }
				}
			}
			e.do(e.admin, `query($f: TicketFilter) { tickets(first: 50, filter: $f, orderBy: {field: NUMBER, direction: ASC}) { edges { node { number } } } }`,
				map[string]any{"f": filter}).ok().into(&out)
			var ns []int
			for _, e := range out.Tickets.Edges {
				ns = append(ns, e.Node.Number)
			}
			return ns
		}
		for _, c := range []struct {
			filter map[string]any
			want   []int
		}{
			{map[string]any{"sourceIPs": []string{"10.1.0.0/16"}}, []int{a, b}},
			{map[string]any{"sourceIPs": []string{"10.1.255.255", "10.2.0.0/32"}}, []int{b, c}},
			{map[string]any{"sourceIPs": []string{"::ffff:10.1.0.0"}}, []int{a}},
			{map[string]any{"sourceIPs": []string{"0.0.0.0/0"}}, []int{a, b, c}},
			{map[string]any{"destinationIPs": []string{"2001:db8::/32"}}, []int{a}},
			{map[string]any{"destinationIPs": []string{"10.1.0.0/16"}}, []int{c}},
			{map[string]any{"destinationIPs": []string{"::/0"}}, []int{a, b, c}},
			{map[string]any{"hosts": []string{"ws-01", "DB.Example"}}, []int{a, d}},
			{map[string]any{"hosts": []string{}}, nil},
			{map[string]any{"explanationStatuses": []string{"SUBMITTED", "NEW"}}, []int{d}},
			{map[string]any{"explanationStatuses": []string{"NEW"}}, nil},
			{map[string]any{"sourceIPs": []string{"10.0.0.0/8"}, "hosts": []string{"WS-01"}}, []int{a}},
		} {
			if got := list(c.filter); !slices.Equal(got, c.want) {
				t.Errorf("filter %v: %v, want %v", c.filter, got, c.want)
			}
		}
		const q = `query($f: TicketFilter) { tickets(first: 5, filter: $f) { edges { node { id } } } }`
		e.do(e.admin, q, map[string]any{"f": map[string]any{"sourceIPs": []string{"10.1.0.0/33"}}}).wantCode("BAD_USER_INPUT", "filter.sourceIPs")
		e.do(e.admin, q, map[string]any{"f": map[string]any{"destinationIPs": []string{"ws-01"}}}).wantCode("BAD_USER_INPUT", "filter.destinationIPs")
		e.do(e.admin, q, map[string]any{"f": map[string]any{"hosts": []string{" "}}}).wantCode("BAD_USER_INPUT", "filter.hosts")
		e.do(e.admin, q, map[string]any{"f": map[string]any{"explanationStatuses": []string{"LOST"}}}).wantCode("BAD_USER_INPUT")
	})
}

// TestTicketEventsFilteredBySourceIP: a live subscription filtered by a
// CIDR prefix gets the changes of the tickets whose source IP is in it, not
// of the others, and the change that takes a ticket out of it (its
// detection edited to another IP: judged by the detection before the
// change, as the history records it).
func TestTicketEventsFilteredBySourceIP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := pivotFix{e: e, site: e.site("HQ"), cat: e.category("Incidents", category.WorkflowINCIDENT_RESPONSE)}
		ws := e.dialWS(t, e.admin, nil)
		op := ws.subscribe(changeQuery, map[string]any{"f": map[string]any{"sourceIPs": []string{"10.1.0.0/16"}}})
		all := ws.subscribe(changeQuery, nil)
		waitSubscribed(t, e, 2)

		net := func(src string) map[string]any {
			return map[string]any{"template": "NETWORK", "sourceIP": src, "destinationIP": "192.168.1.1"}
		}
		outside := f.detection(e.admin, f.site, net("10.2.0.1"))
		if c := ws.change(all); c.Kind != "CREATED" || c.TicketNumber != outside {
			t.Fatalf("all: %+v", c)
		}
		inside := f.detection(e.admin, f.site, net("10.1.200.7"))
		if c := ws.change(all); c.Kind != "CREATED" {
			t.Fatalf("all: %+v", c)
		}
		// The first change on op is the matching ticket's: the other one,
		// made before, was not sent.
		if c := ws.change(op); c.Kind != "CREATED" || c.TicketNumber != inside || !c.InView {
			t.Fatalf("filtered: %+v, want the creation of #%d", c, inside)
		}
		const edit = `mutation($id: ID!, $d: DetectionInput!) { updateTicket(id: $id, input: {detection: $d}) { id } }`
		e.do(e.admin, edit, map[string]any{"id": gid(ent.TicketIDFromNumber(inside)), "d": net("172.16.0.1")}).ok() // leaves the filter
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("all: %+v", c)
		}
		if c := ws.change(op); c.Kind != "UPDATED" || c.TicketNumber != inside || c.InView {
			t.Fatalf("leaving the filter: %+v", c)
		}
		e.do(e.admin, edit, map[string]any{"id": gid(ent.TicketIDFromNumber(outside)), "d": net("10.2.0.2")}).ok() // outside before and after
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("all: %+v", c)
		}
		e.do(e.admin, edit, map[string]any{"id": gid(ent.TicketIDFromNumber(outside)), "d": net("::ffff:10.1.0.9")}).ok() // enters it
		if c := ws.change(all); c.Kind != "UPDATED" {
			t.Fatalf("all: %+v", c)
		}
		if c := ws.change(op); c.Kind != "UPDATED" || c.TicketNumber != outside || !c.InView {
			t.Fatalf("entering the filter: %+v, want #%d", c, outside)
		}
	})
}
