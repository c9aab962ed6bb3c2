package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// The response metrics (ticketMetrics) over the 30 and 90 days before
// today's midnight UTC (a past range: its figures do not move while the
// transition scenario writes history).

const metricsQuery = `query($from: Time!, $to: Time!, $g: [MetricGroup!], $p: MetricPeriod) {
	ticketMetrics(from: $from, to: $to, groupBy: $g, period: $p) { groups { tickets
		response { count mean p50 p90 } resolution { count mean p50 p90 } timeInStatus { status tickets totalSeconds meanSeconds } } } }`

// MetricsFloorSQL is the floor of ticketMetrics without grouping: the
// tickets created in [$1, $2), how many were responded to and resolved,
// and the median of each, reading each ticket's history by its index
// (LATERAL); time in status is left out. The resolution is the entry into
// the latest run of resolved statuses of a ticket whose latest status is one.
const MetricsFloorSQL = `SELECT count(*), count(r.at), count(d.at),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.at - t.created_at)),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.at - t.created_at))
FROM tickets t
LEFT JOIN LATERAL (SELECT min(e.created_at) AS at FROM ticket_events e
	WHERE e.ticket_id = t.id AND e.kind IN ('ASSIGNED', 'TRANSITIONED') AND e.created_at >= $1 AND e.created_at < $2) r ON true
LEFT JOIN LATERAL (SELECT CASE WHEN bool_or(h.next_at IS NULL AND h.status IN ('RESOLVED', 'CLOSED', 'INVALID'))
		THEN max(h.at) FILTER (WHERE h.status IN ('RESOLVED', 'CLOSED', 'INVALID') AND (h.prev IS NULL OR h.prev NOT IN ('RESOLVED', 'CLOSED', 'INVALID'))) END AS at
	FROM (SELECT e.status, e.created_at AS at, lag(e.status) OVER w AS prev, lead(e.created_at) OVER w AS next_at
		FROM ticket_events e WHERE e.ticket_id = t.id AND e.status IS NOT NULL AND e.created_at >= $1 AND e.created_at < $2
		WINDOW w AS (ORDER BY e.created_at, e.id)) h) d ON true
WHERE t.created_at >= $1 AND t.created_at < $2 AND t.kind <> 'TASK'`

func (f *Fixture) metricsScenarios() []Scenario {
	var out []Scenario
	for _, days := range []int{30, 90} {
		to := f.Today
		from := to.AddDate(0, 0, -days)
		vars := map[string]any{"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}
		probeGQL := func(ctx context.Context) (string, error) {
			var d struct {
				TicketMetrics struct {
					Groups []struct {
						Tickets              int
						Response, Resolution struct {
							Count int
							P50   *float64
						}
					}
				}
			}
			if err := f.gql(ctx).do(ctx, metricsQuery, vars, &d); err != nil {
				return "", err
			}
			if len(d.TicketMetrics.Groups) != 1 {
				return "", fmt.Errorf("%d groups", len(d.TicketMetrics.Groups))
			}
			g := d.TicketMetrics.Groups[0]
			return fingerprint(g.Tickets, g.Response.Count, g.Resolution.Count, g.Response.P50, g.Resolution.P50), nil
		}
		probeSQL := func(ctx context.Context) (string, error) {
			var n, responded, resolved int
			var p50r, p50d sql.NullFloat64
			err := f.DB.QueryRowContext(ctx, MetricsFloorSQL, from, to).Scan(&n, &responded, &resolved, &p50r, &p50d)
			ptr := func(v sql.NullFloat64) *float64 {
				if !v.Valid {
					return nil
				}
				return &v.Float64
			}
			return fingerprint(n, responded, resolved, ptr(p50r), ptr(p50d)), err
		}
		out = append(out, Scenario{
			Name: fmt.Sprintf("metrics-%d", days),
			What: fmt.Sprintf("ticketMetrics(from: %s, to: %s) ungrouped: MTTA, MTTR (mean, p50, p90), time in status; floor: MetricsFloorSQL (no time in status)",
				from.Format(time.DateOnly), to.Format(time.DateOnly)),
			GraphQL:      func(ctx context.Context, _, _ int) error { return f.gql(ctx).do(ctx, metricsQuery, vars, nil) },
			SQL:          func(ctx context.Context, _, _ int) error { _, err := probeSQL(ctx); return err },
			ProbeGraphQL: probeGQL, ProbeSQL: probeSQL,
		})
	}
	return out
}

// fingerprint of the metrics compared between the variants (medians to the
// second: the server rounds to the millisecond).
func fingerprint(n, responded, resolved int, p50r, p50d *float64) string {
	r := func(p *float64) any {
		if p == nil {
			return nil
		}
		return math.Round(*p)
	}
	return fmt.Sprint(n, responded, resolved, r(p50r), r(p50d))
}
