package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"socdesk/internal/netkey"
)

// Pivot is the ticket of the related-tickets scenario: the newest
// detection with a source IP, a destination IP and a host, so that every
// earlier ticket is a candidate; and the source IP of the IP filters.
type Pivot struct {
	ID     int    `json:"id"`
	Number int    `json:"number"`
	SrcIP  string `json:"src_ip"`
	CIDR   string `json:"cidr"`
	// The keys (package netkey) the floors compare.
	SrcKey, DstKey, HostKey string
}

// loadPivot finds the pivot ticket.
func (f *Fixture) loadPivot(ctx context.Context) error {
	p := &f.Pivot
	err := f.DB.QueryRowContext(ctx, `SELECT id, src_ip, src_ip_key, dst_ip_key, host_key FROM tickets
		WHERE kind = 'DETECTION' AND src_ip_key IS NOT NULL AND dst_ip_key IS NOT NULL AND host_key IS NOT NULL
		ORDER BY id DESC LIMIT 1`).Scan(&p.ID, &p.SrcIP, &p.SrcKey, &p.DstKey, &p.HostKey)
	if err != nil {
		return fmt.Errorf("finding a detection ticket to pivot from: %w", err)
	}
	p.Number = p.ID - f.NumberOffset
	prefix, err := netip.ParseAddr(p.SrcIP)
	if err != nil {
		return err
	}
	bits := 24
	if prefix.Is6() {
		bits = 64
	}
	pp, _ := prefix.Prefix(bits)
	p.CIDR = pp.String()
	return nil
}

const relatedQuery = `query($n: Int!) { ticket(number: $n) { relatedTickets(first: 50) {
	totalCount counts { by count } ` + listFields + ` } } }`

// relatedSelect is the floor of relatedTickets: the three pivots' newest
// earlier tickets from their (key, id) indexes, merged, with the list's
// columns; $1..$3 the keys, $4 the ticket's id.
const relatedSelect = listSelect + ` WHERE t.id IN (SELECT id FROM (
	(SELECT id FROM tickets WHERE src_ip_key = $1 AND id < $4 ORDER BY id DESC LIMIT 51)
	UNION (SELECT id FROM tickets WHERE dst_ip_key = $2 AND id < $4 ORDER BY id DESC LIMIT 51)
	UNION (SELECT id FROM tickets WHERE host_key = $3 AND id < $4 ORDER BY id DESC LIMIT 51)) r ORDER BY id DESC LIMIT 51)
	ORDER BY t.id DESC`

// relatedCounts is the floor of totalCount and counts.
const relatedCounts = `SELECT
	(SELECT count(*) FROM tickets WHERE id < $4 AND (src_ip_key = $1 OR dst_ip_key = $2 OR host_key = $3)),
	(SELECT count(*) FROM tickets WHERE id < $4 AND src_ip_key = $1),
	(SELECT count(*) FROM tickets WHERE id < $4 AND dst_ip_key = $2),
	(SELECT count(*) FROM tickets WHERE id < $4 AND host_key = $3)`

// PivotScenarios are the related tickets of the pivot ticket (a page of 50
// with the list's fields, totalCount and the counts per pivot), and the
// list filtered by its source IP and by a CIDR prefix around it.
func (f *Fixture) PivotScenarios() []Scenario {
	p := f.Pivot
	args := []any{p.SrcKey, p.DstKey, p.HostKey, p.ID}
	floor := func(ctx context.Context) (string, error) {
		ids, err := f.listSQL(ctx, relatedSelect, args...)
		if err != nil {
			return "", err
		}
		var total, src, dst, host int
		if err := f.DB.QueryRowContext(ctx, relatedCounts, args...).Scan(&total, &src, &dst, &host); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s/%d/%d,%d,%d", ids, total, src, dst, host), nil
	}
	vars := map[string]any{"n": p.Number}
	probe := func(ctx context.Context) (string, error) {
		var d struct {
			Ticket struct {
				RelatedTickets struct {
					TotalCount int `json:"totalCount"`
					Counts     []struct {
						Count int `json:"count"`
					} `json:"counts"`
					Edges []struct {
						Node struct {
							ID string `json:"id"`
						} `json:"node"`
					} `json:"edges"`
					PageInfo struct {
						HasNextPage bool `json:"hasNextPage"`
					} `json:"pageInfo"`
				} `json:"relatedTickets"`
			} `json:"ticket"`
		}
		if err := f.gql(ctx).do(ctx, relatedQuery, vars, &d); err != nil {
			return "", err
		}
		r := d.Ticket.RelatedTickets
		var ids []string
		for _, e := range r.Edges {
			id, err := idOf(e.Node.ID)
			if err != nil {
				return "", err
			}
			ids = append(ids, strconv.Itoa(id))
		}
		if r.PageInfo.HasNextPage {
			ids = append(ids, "next")
		}
		var counts []string
		for _, c := range r.Counts {
			counts = append(counts, strconv.Itoa(c.Count))
		}
		return fmt.Sprintf("%s/%d/%s", strings.Join(ids, ","), r.TotalCount, strings.Join(counts, ",")), nil
	}
	rng, _ := netkey.ParseRange(p.CIDR)
	return []Scenario{
		{
			Name: "related",
			What: fmt.Sprintf("ticket(number: %d) { relatedTickets(first: 50) { totalCount counts list fields } } (source %s); floor: three (key, id) index ranges merged, and four counts", p.Number, p.SrcIP),
			GraphQL: func(ctx context.Context, _, _ int) error {
				return f.gql(ctx).do(ctx, relatedQuery, vars, nil)
			},
			SQL:          func(ctx context.Context, _, _ int) error { _, err := floor(ctx); return err },
			ProbeGraphQL: probe, ProbeSQL: floor,
		},
		f.listScenario("list-ip", fmt.Sprintf("tickets(first: 50, filter: {sourceIPs: [%q]}) by CREATED_AT DESC", p.SrcIP),
			map[string]any{"f": map[string]any{"sourceIPs": []string{p.SrcIP}}}, listSelect+` WHERE t.src_ip_key = $1`+listOrder, p.SrcKey),
		f.listScenario("list-cidr", fmt.Sprintf("tickets(first: 50, filter: {sourceIPs: [%q]}) by CREATED_AT DESC", p.CIDR),
			map[string]any{"f": map[string]any{"sourceIPs": []string{p.CIDR}}}, listSelect+` WHERE t.src_ip_key >= $1 AND t.src_ip_key <= $2`+listOrder, rng.First, rng.Last),
	}
}
