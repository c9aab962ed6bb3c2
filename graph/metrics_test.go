package graph_test

// ticketMetrics through the API on both databases: tickets made and moved
// through the API, the site rule, and bad inputs. The arithmetic (exact
// durations, percentiles, periods in a time zone, as of a past instant) is
// tested on hand-built histories in package ticketstats.

import (
	"testing"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/user"
)

const metricsQuery = `query($f: TicketFilter, $g: [MetricGroup!], $p: MetricPeriod, $from: Time!, $to: Time!, $tz: String) {
	ticketMetrics(filter: $f, groupBy: $g, period: $p, from: $from, to: $to, timeZone: $tz) {
		groupBy period asOf groups { site { name } priority periodStart tickets
			response { count mean p50 p90 } resolution { count mean p50 p90 } timeInStatus { status tickets totalSeconds meanSeconds } } } }`

type metricsResult struct {
	TicketMetrics struct {
		GroupBy []string
		Period  *string
		AsOf    time.Time
		Groups  []struct {
			Site                 *struct{ Name string }
			Priority             *string
			PeriodStart          *time.Time
			Tickets              int
			Response, Resolution struct {
				Count          int
				Mean, P50, P90 *float64
			}
			TimeInStatus []struct {
				Status       string
				Tickets      int
				TotalSeconds float64
			}
		}
	}
}

func TestTicketMetricsQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		siteA, siteB := e.site("Metrics A"), e.site("Metrics B")
		cat := e.category("Metrics", category.WorkflowAPPROVAL)
		_, analyst := e.user("metrics.analyst", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketEdit}, siteA)
		var ids []string
		for _, site := range []int{siteA, siteA, siteB} {
			var c struct{ CreateTicket struct{ ID string } }
			e.do(e.admin, createMut, map[string]any{"in": analysis(site, cat)}).ok().into(&c)
			ids = append(ids, c.CreateTicket.ID)
		}
		// #0 answered (assigned) and closed; #1 closed at once; #2 untouched.
		e.do(e.admin, `mutation($id: ID!, $u: [ID!]) { assignTicket(id: $id, assigneeIDs: $u) { status } }`,
			map[string]any{"id": ids[0], "u": []string{gid(analyst.ID)}}).ok()
		for _, id := range ids[:2] {
			e.do(e.admin, `mutation($id: ID!) { transitionTicket(id: $id, action: CLOSE) { status } }`, map[string]any{"id": id}).ok()
		}
		now := time.Now().UTC()
		vars := map[string]any{"from": now.Add(-time.Hour).Format(time.RFC3339Nano), "to": now.Add(time.Hour).Format(time.RFC3339Nano)}
		var r metricsResult
		e.do(e.admin, metricsQuery, vars).ok().into(&r)
		m := r.TicketMetrics
		if len(m.Groups) != 1 || m.Groups[0].Tickets != 3 || len(m.GroupBy) != 0 || m.Period != nil {
			t.Fatalf("ungrouped: %+v", m)
		}
		g := m.Groups[0]
		if g.Response.Count != 2 || g.Resolution.Count != 2 || g.Response.P50 == nil || *g.Response.P50 < 0 || g.Resolution.P90 == nil {
			t.Errorf("response %+v, resolution %+v", g.Response, g.Resolution)
		}
		if m.AsOf.After(time.Now()) || m.AsOf.Before(now) {
			t.Errorf("asOf %v: want the request's time (to is later)", m.AsOf)
		}
		statuses := map[string]int{}
		for _, s := range g.TimeInStatus {
			statuses[s.Status] = s.Tickets
		}
		if statuses["NEW"] != 3 || statuses["CLOSED"] != 2 {
			t.Errorf("time in status %+v", g.TimeInStatus)
		}

		// The site rule: the analyst of site A measures A's tickets only.
		tok, _ := e.user("metrics.viewer", user.RoleANALYST, []schematype.Permission{schematype.PermissionTicketView}, siteA)
		vars["g"] = []string{"SITE", "PERIOD"}
		vars["p"] = "MONTH"
		r = metricsResult{}
		e.do(tok, metricsQuery, vars).ok().into(&r)
		if len(r.TicketMetrics.Groups) == 0 {
			t.Fatal("no groups for site A's viewer")
		}
		for _, g := range r.TicketMetrics.Groups {
			if g.Site == nil || g.Site.Name != "Metrics A" || g.PeriodStart == nil || g.PeriodStart.Day() != 1 {
				t.Errorf("site A's viewer sees %+v", g)
			}
		}
		if r.TicketMetrics.Groups[0].Tickets+r.TicketMetrics.Groups[len(r.TicketMetrics.Groups)-1].Tickets < 2 {
			t.Errorf("site A's groups %+v", r.TicketMetrics.Groups)
		}

		// Bad inputs name their argument and change nothing.
		from := now.Format(time.RFC3339)
		for _, c := range []struct {
			vars  map[string]any
			field string
		}{
			{map[string]any{"from": from, "to": from}, "to"},
			{map[string]any{"from": from, "to": now.Add(400 * 24 * time.Hour).Format(time.RFC3339)}, "to"},
			{map[string]any{"from": from, "to": now.Add(time.Hour).Format(time.RFC3339), "tz": "Nowhere/Atlantis"}, "timeZone"},
			{map[string]any{"from": from, "to": now.Add(time.Hour).Format(time.RFC3339), "g": []string{"SITE", "SITE"}}, "groupBy"},
			{map[string]any{"from": from, "to": now.Add(time.Hour).Format(time.RFC3339), "p": "WEEK"}, "period"},
			{map[string]any{"from": from, "to": now.Add(time.Hour).Format(time.RFC3339), "f": map[string]any{"keyword": ""}}, "filter.keyword"},
		} {
			e.do(e.admin, metricsQuery, c.vars).wantCode("BAD_USER_INPUT", c.field)
		}
	})
}
