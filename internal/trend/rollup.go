package trend

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	entdialect "entgo.io/ent/dialect"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/schematype"
	"socdesk/ent/statusday"
	"socdesk/ent/statushour"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/tickets"
)

// The rollups (ent StatusDay and StatusHour) hold, per site, UTC day or
// hour, and status, how many tickets entered minus left the status then. The
// ticket service adds to them in every change's transaction. The count of a
// status at an instant E is then the sum of the deltas before E: whole UTC
// days from the daily rollup, and the hours between E and the nearest UTC
// midnight from the hourly one (at most twelve a day). A series of 90 days
// sums a few thousand rows instead of scanning the history.

// sum is a row of a rollup's GROUP BY bucket, status.
type sum struct {
	Bucket time.Time `json:"bucket"`
	Status string    `json:"status"`
	Sum    int       `json:"sum"`
}

// rollupEligible reports whether the series can come from the rollups: the
// filter selects tickets by site alone (statuses only pick segments), and
// every day ends on a whole UTC hour (all but a few zones' offsets).
func rollupEligible(f *tickets.Filter, ends []time.Time) bool {
	if f != nil {
		v := reflect.ValueOf(*f)
		for i := range v.NumField() {
			if name := v.Type().Field(i).Name; name != "Sites" && name != "Statuses" && !v.Field(i).IsZero() {
				return false
			}
		}
	}
	for _, e := range ends {
		if !e.Equal(e.Truncate(time.Hour)) {
			return false
		}
	}
	return true
}

// fromRollups counts the reported statuses at each of ends (UTC, ascending;
// those not before now are counted as of now) from the rollups, within the
// filter's sites and (by the rollups' privacy policy) the viewer's.
func fromRollups(ctx context.Context, client *ent.Client, f *tickets.Filter, reported []ticket.Status, ends []time.Time, now time.Time) ([][]int, error) {
	var dayPreds []predicate.StatusDay
	var hourPreds []predicate.StatusHour
	if f != nil && f.Sites != nil {
		dayPreds = append(dayPreds, statusday.SiteIDIn(f.Sites...))
		hourPreds = append(hourPreds, statushour.SiteIDIn(f.Sites...))
	}
	index := make(map[string]int, len(reported))
	for i, st := range reported {
		index[string(st)] = i
	}
	days, err := dailyPrefix(ctx, client, f, dayPreds, now)
	if err != nil {
		return nil, err
	}
	pick := func(all []int) []int {
		out := make([]int, len(reported))
		for i, st := range reported {
			out[i] = all[statusIndex[st]]
		}
		return out
	}
	total := pick(days.total)
	before := func(midnight time.Time) []int { return pick(days.before(midnight)) }

	// The hours each end needs: from its UTC midnight up to it, or from it
	// up to the next midnight, whichever is shorter.
	type plan struct {
		base    time.Time // the UTC midnight whose prefix is the base
		hours   []time.Time
		sign    int
		asOfNow bool
	}
	plans := make([]plan, len(ends))
	var need []time.Time
	for d, e := range ends {
		e = e.UTC()
		if !e.Before(now) {
			plans[d] = plan{asOfNow: true}
			continue
		}
		midnight := e.Truncate(24 * time.Hour)
		k := int(e.Sub(midnight) / time.Hour)
		p := plan{base: midnight, sign: 1}
		if k > 12 {
			p = plan{base: midnight.Add(24 * time.Hour), sign: -1}
			for h := e; h.Before(p.base); h = h.Add(time.Hour) {
				p.hours = append(p.hours, h)
			}
		} else {
			for h := midnight; h.Before(e); h = h.Add(time.Hour) {
				p.hours = append(p.hours, h)
			}
		}
		need = append(need, p.hours...)
		plans[d] = p
	}
	hourly := map[time.Time][]int{}
	if len(need) > 0 {
		var sums []sum
		err := client.StatusHour.Query().Where(append(hourPreds, statushour.BucketIn(need...))...).
			GroupBy(statushour.FieldBucket, statushour.FieldStatus).Aggregate(ent.As(ent.Sum(statushour.FieldDelta), "sum")).
			Scan(ctx, &sums)
		if err != nil {
			return nil, err
		}
		for _, s := range sums {
			i, ok := index[s.Status]
			if !ok {
				continue
			}
			key := s.Bucket.UTC()
			if hourly[key] == nil {
				hourly[key] = make([]int, len(reported))
			}
			hourly[key][i] += s.Sum
		}
	}
	out := make([][]int, len(ends))
	for d, p := range plans {
		if p.asOfNow {
			out[d] = slices.Clone(total)
			continue
		}
		counts := before(p.base)
		for _, h := range p.hours {
			for i, v := range hourly[h] {
				counts[i] += p.sign * v
			}
		}
		out[d] = counts
	}
	return out, nil
}

// Rebuild recomputes the rollups from the history, for data written without
// the ticket service (the seeds). It replays each ticket's entries in order;
// an entry's site is the one it was recorded on.
func Rebuild(ctx context.Context, client *ent.Client, dialect string) error {
	ctx = authz.System(ctx)
	if dialect == entdialect.Postgres {
		return rebuildPostgres(ctx, client)
	}
	rows, err := client.QueryContext(ctx, `SELECT ticket_number, kind, created_at, site_id, status,
		CASE WHEN kind = 'UPDATED' THEN changes END
		FROM ticket_events WHERE (status IS NOT NULL OR kind IN ('DELETED', 'UPDATED'))
		AND (ticket_id IS NULL OR ticket_id NOT IN (SELECT id FROM tickets WHERE kind = 'TASK')) -- tasks are no part of the trend
		ORDER BY ticket_number, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	hours := map[time.Time][]tickets.Move{} // the moves of each UTC hour
	var (
		cur     = -1
		current *ent.Ticket
	)
	for rows.Next() {
		var (
			number, site int
			kind         string
			at           time.Time
			status       sql.NullString
			raw          []byte
		)
		if err := rows.Scan(&number, &kind, &at, &site, &status, &raw); err != nil {
			return err
		}
		if number != cur {
			cur, current = number, nil
		}
		var changes []schematype.FieldChange
		if raw != nil {
			if err := json.Unmarshal(raw, &changes); err != nil {
				return fmt.Errorf("ticket #%d: %w", number, err)
			}
		}
		k := ticketevent.Kind(kind)
		if current == nil {
			if k != ticketevent.KindCREATED || !status.Valid {
				continue // a record without its beginning (should not be)
			}
			current = &ent.Ticket{SiteID: site, Status: ticket.Status(status.String)}
		} else if status.Valid {
			changes = append(changes, schematype.FieldChange{Field: schematype.ChangeStatus, From: string(current.Status), To: status.String})
		}
		moves := tickets.Moves(current, k, changes)
		hour := at.UTC().Truncate(time.Hour)
		hours[hour] = append(hours[hour], moves...)
		for _, m := range moves {
			if m.Delta > 0 {
				current.SiteID, current.Status = m.Site, ticket.Status(m.Status)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.StatusDay.Delete().Exec(ctx); err != nil {
		return rollback(tx, err)
	}
	if _, err := tx.StatusHour.Delete().Exec(ctx); err != nil {
		return rollback(tx, err)
	}
	// Each hour's moves are written as the ticket service writes a change's
	// (to both rollups), merged: an hour at a time.
	for _, hour := range slices.SortedFunc(maps.Keys(hours), time.Time.Compare) {
		if err := tickets.RollUp(ctx, tx, hour, hours[hour]); err != nil {
			return rollback(tx, err)
		}
	}
	return tx.Commit()
}

// rebuildSQL fills a rollup from the status entries and deletions, set-wise
// (the site of an entry is the one it was recorded on); moves between sites
// are added after.
const rebuildSQL = `
WITH h AS (
  SELECT site_id, created_at, status, LAG(status) OVER (PARTITION BY ticket_number ORDER BY id) AS prev
  FROM ticket_events WHERE (status IS NOT NULL OR kind = 'DELETED') AND (ticket_id IS NULL OR ticket_id NOT IN (SELECT id FROM tickets WHERE kind = 'TASK'))
), moves AS (
  SELECT site_id, created_at, status, 1 AS delta FROM h WHERE status IS NOT NULL
  UNION ALL
  SELECT site_id, created_at, prev, -1 FROM h WHERE prev IS NOT NULL
)
INSERT INTO %s (site_id, bucket, status, delta)
SELECT site_id, date_trunc('%s', created_at, 'UTC'), status, sum(delta) FROM moves
GROUP BY 1, 2, 3 HAVING sum(delta) <> 0`

// siteMovesSQL lists the changes of site, with the ticket's status then.
const siteMovesSQL = `
SELECT e.created_at, e.changes,
  (SELECT s.status FROM ticket_events s WHERE s.ticket_number = e.ticket_number AND s.id < e.id AND s.status IS NOT NULL ORDER BY s.id DESC LIMIT 1)
FROM ticket_events e
WHERE e.kind = 'UPDATED' AND e.changes::jsonb @> '[{"field": "site"}]' AND e.ticket_id NOT IN (SELECT id FROM tickets WHERE kind = 'TASK')`

// rebuildPostgres is Rebuild on PostgreSQL, in SQL: a million tickets'
// history in seconds.
func rebuildPostgres(ctx context.Context, client *ent.Client) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	for _, q := range []string{
		`TRUNCATE status_days, status_hours`,
		fmt.Sprintf(rebuildSQL, statusday.Table, "day"),
		fmt.Sprintf(rebuildSQL, statushour.Table, "hour"),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return rollback(tx, err)
		}
	}
	rows, err := tx.QueryContext(ctx, siteMovesSQL)
	if err != nil {
		return rollback(tx, err)
	}
	type move struct {
		at    time.Time
		moves []tickets.Move
	}
	var moves []move
	for rows.Next() {
		var (
			at     time.Time
			raw    []byte
			status sql.NullString
		)
		if err := rows.Scan(&at, &raw, &status); err != nil {
			rows.Close()
			return rollback(tx, err)
		}
		var changes []schematype.FieldChange
		if err := json.Unmarshal(raw, &changes); err != nil {
			rows.Close()
			return rollback(tx, err)
		}
		t := &ent.Ticket{Status: ticket.Status(status.String)}
		moves = append(moves, move{at, tickets.Moves(t, ticketevent.KindUPDATED, changes)})
	}
	rows.Close()
	for _, m := range moves {
		if err := tickets.RollUp(ctx, tx, m.at, m.moves); err != nil {
			return rollback(tx, err)
		}
	}
	return tx.Commit()
}

func rollback(tx *ent.Tx, err error) error {
	_ = tx.Rollback()
	return err
}

// statusIndex is the position of each status in Statuses.
var statusIndex = func() map[ticket.Status]int {
	m := make(map[ticket.Status]int, len(Statuses))
	for i, st := range Statuses {
		m[st] = i
	}
	return m
}()

// prefixes are the sums of the daily deltas before each midnight, for every
// status (in Statuses' order): the days before cutoff once, from a cache,
// and the days since read afresh.
type prefixes struct {
	past   *pastDays
	recent []sum // the daily rows from the cutoff on
	total  []int // everything up to now
}

// before returns the sums of the deltas before midnight.
func (p *prefixes) before(midnight time.Time) []int {
	out := p.past.before(midnight)
	for _, r := range p.recent {
		if r.Bucket.Before(midnight) {
			if i, ok := statusIndex[ticket.Status(r.Status)]; ok {
				out[i] += r.Sum
			}
		}
	}
	return out
}

// pastDays are the prefix sums of the daily rollup over the days before
// cutoff. Those days never change again: every change adds to the bucket of
// the moment it is made (the hour of grace covers clocks a little apart).
// Only a rebuild of the rollups rewrites them, and it renumbers their rows,
// which token (the smallest row id) notices.
type pastDays struct {
	token  sql.NullInt64
	cutoff time.Time
	origin time.Time // the first day with rows
	sums   [][]int   // sums[d]: the deltas before origin+d days, d up to cutoff
}

func (p *pastDays) before(midnight time.Time) []int {
	if !midnight.After(p.origin) {
		return make([]int, len(Statuses))
	}
	if midnight.After(p.cutoff) {
		midnight = p.cutoff
	}
	return slices.Clone(p.sums[int(midnight.Sub(p.origin)/(24*time.Hour))])
}

// pastCache holds pastDays per client and site scope.
var pastCache = struct {
	sync.Mutex
	m map[pastKey]*pastDays
}{m: map[pastKey]*pastDays{}}

type pastKey struct {
	client *ent.Client
	scope  string
}

// scopeKey names the sites a series covers: the filter's, within the
// viewer's (what the rollups' privacy policy will let it read).
func scopeKey(ctx context.Context, f *tickets.Filter) string {
	var want []int
	if f != nil {
		want = f.Sites
	}
	sites, all := authz.ScopeFrom(ctx).Within(want)
	if all {
		return "all"
	}
	return fmt.Sprint(sites)
}

// dailyPrefix returns the prefix sums of the daily rollup within the
// filter's sites, reading afresh only the days since the cutoff.
func dailyPrefix(ctx context.Context, client *ent.Client, f *tickets.Filter, preds []predicate.StatusDay, now time.Time) (*prefixes, error) {
	cutoff := now.UTC().Add(-time.Hour).Truncate(24 * time.Hour)
	var recent []sum
	err := client.StatusDay.Query().Where(append(slices.Clone(preds), statusday.BucketGTE(cutoff))...).
		GroupBy(statusday.FieldBucket, statusday.FieldStatus).Aggregate(ent.As(ent.Sum(statusday.FieldDelta), "sum")).
		Scan(ctx, &recent)
	if err != nil {
		return nil, err // also a viewer who may not read tickets: the policy refuses
	}
	var tokens []struct {
		Min sql.NullInt64 `json:"min"`
	}
	err = client.StatusDay.Query().Where(preds...).Aggregate(ent.As(ent.Min(statusday.FieldID), "min")).Scan(ctx, &tokens)
	if err != nil {
		return nil, err
	}
	var token sql.NullInt64
	if len(tokens) == 1 {
		token = tokens[0].Min
	}
	key := pastKey{client, scopeKey(ctx, f)}
	pastCache.Lock()
	past := pastCache.m[key]
	pastCache.Unlock()
	if past == nil || past.token != token || !past.cutoff.Equal(cutoff) {
		if past, err = readPast(ctx, client, preds, cutoff, token); err != nil {
			return nil, err
		}
		pastCache.Lock()
		if len(pastCache.m) >= 256 {
			clear(pastCache.m)
		}
		pastCache.m[key] = past
		pastCache.Unlock()
	}
	p := &prefixes{past: past, recent: recent}
	p.total = p.before(now.UTC().Truncate(24 * time.Hour).Add(48 * time.Hour))
	return p, nil
}

// readPast sums the daily rollup over the days before cutoff.
func readPast(ctx context.Context, client *ent.Client, preds []predicate.StatusDay, cutoff time.Time, token sql.NullInt64) (*pastDays, error) {
	var rows []sum
	err := client.StatusDay.Query().Where(append(slices.Clone(preds), statusday.BucketLT(cutoff))...).
		GroupBy(statusday.FieldBucket, statusday.FieldStatus).Aggregate(ent.As(ent.Sum(statusday.FieldDelta), "sum")).
		Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	p := &pastDays{token: token, cutoff: cutoff, origin: cutoff}
	for _, r := range rows {
		if b := r.Bucket.UTC(); b.Before(p.origin) {
			p.origin = b
		}
	}
	n := int(cutoff.Sub(p.origin) / (24 * time.Hour))
	perDay := make([][]int, n)
	for d := range perDay {
		perDay[d] = make([]int, len(Statuses))
	}
	for _, r := range rows {
		d := int(r.Bucket.UTC().Sub(p.origin) / (24 * time.Hour))
		if i, ok := statusIndex[ticket.Status(r.Status)]; ok && d >= 0 && d < n {
			perDay[d][i] += r.Sum
		}
	}
	p.sums = make([][]int, n+1)
	running := make([]int, len(Statuses))
	for d := range n + 1 {
		p.sums[d] = slices.Clone(running)
		if d < n {
			for i, v := range perDay[d] {
				running[i] += v
			}
		}
	}
	return p, nil
}
