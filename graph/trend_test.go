package graph_test

// Tests of Query.ticketTrend through the HTTP handler: today's bar of tickets
// created and moved through the API, the statuses filter, the site scope of
// a non-admin, and input errors. The day-by-day arithmetic (zones, DST, past
// days) is tested in package trend.

import (
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
)

const trendQuery = `query($filter: TicketFilter, $from: Date!, $to: Date!, $tz: String) {
	ticketTrend(filter: $filter, from: $from, to: $to, timeZone: $tz) {
		timeZone statuses days { date total values counts { status count } } } }`

// trendSeries is the ticketTrend response.
type trendSeries struct {
	TicketTrend struct {
		TimeZone string
		Statuses []string
		Days     []struct {
			Date   string
			Total  int
			Values []int
			Counts []struct {
				Status string
				Count  int
			}
		}
	}
}

func TestTicketTrendQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		siteA, siteB := e.site("Trend A"), e.site("Trend B")
		cat := e.category("Trend", category.WorkflowAPPROVAL)
		var ids []string
		for _, site := range []int{siteA, siteA, siteA, siteB} {
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			ids = append(ids, c.CreateTicket.ID)
		}
		e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: CLOSE) { status } }`,
			map[string]any{"id": ids[0]}).ok()
		viewerB, _ := e.user("trend.viewer", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, siteB)

		today := time.Now().UTC()
		yesterday := today.AddDate(0, 0, -1)
		vars := func(filter map[string]any) map[string]any {
			return map[string]any{"filter": filter, "from": yesterday.Format(time.DateOnly), "to": today.Format(time.DateOnly)}
		}
		// get returns the series as {date: {status: count}}, checking totals.
		get := func(token string, v map[string]any) (string, map[string]map[string]int, [][]string) {
			t.Helper()
			var r trendSeries
			e.do(token, trendQuery, v).ok().into(&r)
			bars := map[string]map[string]int{}
			var order [][]string
			for _, d := range r.TicketTrend.Days {
				bars[d.Date] = map[string]int{}
				var statuses []string
				sum := 0
				if len(d.Values) != len(d.Counts) || len(r.TicketTrend.Statuses) != len(d.Counts) {
					t.Fatalf("%s: %d values and %d statuses for %d counts", d.Date, len(d.Values), len(r.TicketTrend.Statuses), len(d.Counts))
				}
				for i, c := range d.Counts { // the compact form says the same
					if d.Values[i] != c.Count || r.TicketTrend.Statuses[i] != c.Status {
						t.Fatalf("%s: values %v, statuses %v, counts %+v", d.Date, d.Values, r.TicketTrend.Statuses, d.Counts)
					}
				}
				for _, c := range d.Counts {
					statuses = append(statuses, c.Status)
					sum += c.Count
					if c.Count != 0 {
						bars[d.Date][c.Status] = c.Count
					}
				}
				if sum != d.Total {
					t.Errorf("%s: total %d, counts sum to %d", d.Date, d.Total, sum)
				}
				order = append(order, statuses)
			}
			return r.TicketTrend.TimeZone, bars, order
		}
		day, yday := today.Format(time.DateOnly), yesterday.Format(time.DateOnly)

		zone, bars, order := get(e.admin, vars(nil))
		want := map[string]map[string]int{yday: {}, day: {"NEW": 3, "CLOSED": 1}}
		if zone != "UTC" || !equalJSON(bars, want) {
			t.Fatalf("admin: %s %v, want UTC %v", zone, bars, want)
		}
		// The product's chart order (issue 9, 1k): the approval statuses with
		// REJECTED before APPROVED, the incident ones, CLOSED last.
		all := []string{"NEW", "ASSIGNED", "IN_PROGRESS", "SUBMITTED", "REJECTED", "APPROVED",
			"TRIAGE", "ANALYSIS", "REMEDIATION", "RESOLVED", "CLOSED"}
		if !equalJSON(order, [][]string{all, all}) {
			t.Fatalf("statuses %v", order)
		}
		_, _, order = get(e.admin, vars(map[string]any{"statuses": []string{"CLOSED", "APPROVED", "TRIAGE", "REJECTED"}}))
		if want := []string{"REJECTED", "APPROVED", "TRIAGE", "CLOSED"}; !equalJSON(order, [][]string{want, want}) {
			t.Fatalf("statuses of a selection: %v, want %v", order, want)
		}

		// statuses selects the segments, in workflow order; sites selects tickets.
		_, bars, order = get(e.admin, vars(map[string]any{"statuses": []string{"CLOSED", "NEW"}, "sites": gids(siteA)}))
		if want := map[string]map[string]int{yday: {}, day: {"NEW": 2, "CLOSED": 1}}; !equalJSON(bars, want) || !equalJSON(order[1], []string{"NEW", "CLOSED"}) {
			t.Fatalf("site A, NEW and CLOSED: %v %v", bars, order)
		}

		// A non-admin counts their sites' tickets only.
		if _, bars, _ = get(viewerB, vars(nil)); !equalJSON(bars, map[string]map[string]int{yday: {}, day: {"NEW": 1}}) {
			t.Fatalf("viewer of site B: %v", bars)
		}

		// Another zone is named back; bad input names its field.
		v := vars(nil)
		v["tz"] = "Asia/Kolkata"
		if zone, _, _ = get(e.admin, v); zone != "Asia/Kolkata" {
			t.Fatalf("zone %q", zone)
		}
		v["tz"] = "Mars/Olympus_Mons"
		e.do(e.admin, trendQuery, v).wantCode("BAD_USER_INPUT", "timeZone")
		v = vars(nil)
		v["from"], v["to"] = v["to"], v["from"]
		e.do(e.admin, trendQuery, v).wantCode("BAD_USER_INPUT", "to")
	})
}
