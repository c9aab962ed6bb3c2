package trend

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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
	type sum struct {
		Bucket time.Time `json:"bucket"`
		Status string    `json:"status"`
		Sum    int       `json:"sum"`
	}
	index := make(map[string]int, len(reported))
	for i, st := range reported {
		index[string(st)] = i
	}
	// prefix[d] is the sum of the daily deltas before midnight first+d; the
	// midnights run from the first end's to the day after the last end's.
	first := ends[0].UTC().Truncate(24 * time.Hour)
	last := ends[len(ends)-1].UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	nMidnights := int(last.Sub(first)/(24*time.Hour)) + 1
	var base []struct {
		Status string `json:"status"`
		Sum    int    `json:"sum"`
	}
	err := client.StatusDay.Query().Where(append(slices.Clone(dayPreds), statusday.BucketLT(first))...).
		GroupBy(statusday.FieldStatus).Aggregate(ent.As(ent.Sum(statusday.FieldDelta), "sum")).
		Scan(ctx, &base)
	if err != nil {
		return nil, err
	}
	var window []sum
	err = client.StatusDay.Query().Where(append(slices.Clone(dayPreds), statusday.BucketGTE(first), statusday.BucketLT(last))...).
		GroupBy(statusday.FieldBucket, statusday.FieldStatus).Aggregate(ent.As(ent.Sum(statusday.FieldDelta), "sum")).
		Scan(ctx, &window)
	if err != nil {
		return nil, err
	}
	perDay := make([][]int, nMidnights)
	for d := range perDay {
		perDay[d] = make([]int, len(reported))
	}
	for _, w := range window {
		d := int(w.Bucket.UTC().Sub(first) / (24 * time.Hour))
		if i, ok := index[w.Status]; ok && d >= 0 && d < nMidnights {
			perDay[d][i] += w.Sum
		}
	}
	prefix := make([][]int, nMidnights)
	running := make([]int, len(reported))
	for _, b := range base {
		if i, ok := index[b.Status]; ok {
			running[i] += b.Sum
		}
	}
	for d := range nMidnights {
		prefix[d] = slices.Clone(running)
		for i, v := range perDay[d] {
			running[i] += v
		}
	}
	// total is everything up to now (the last midnight's day included).
	total := running
	before := func(midnight time.Time) []int {
		return slices.Clone(prefix[int(midnight.Sub(first)/(24*time.Hour))])
	}

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
		FROM ticket_events WHERE status IS NOT NULL OR kind IN ('DELETED', 'UPDATED')
		ORDER BY ticket_number, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct {
		site   int
		bucket time.Time
		status string
	}
	days, hours := map[key]int{}, map[key]int{}
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
			changes = append(changes, schematype.FieldChange{Field: "status", From: string(current.Status), To: status.String})
		}
		for _, m := range tickets.Moves(current, k, changes) {
			at := at.UTC()
			days[key{m.Site, at.Truncate(24 * time.Hour), m.Status}] += m.Delta
			hours[key{m.Site, at.Truncate(time.Hour), m.Status}] += m.Delta
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
	const chunk = 2000
	var dayRows []*ent.StatusDayCreate
	for k, d := range days {
		if d != 0 {
			dayRows = append(dayRows, tx.StatusDay.Create().SetSiteID(k.site).SetBucket(k.bucket).SetStatus(k.status).SetDelta(d))
		}
	}
	for part := range slices.Chunk(dayRows, chunk) {
		if err := tx.StatusDay.CreateBulk(part...).Exec(ctx); err != nil {
			return rollback(tx, err)
		}
	}
	var hourRows []*ent.StatusHourCreate
	for k, d := range hours {
		if d != 0 {
			hourRows = append(hourRows, tx.StatusHour.Create().SetSiteID(k.site).SetBucket(k.bucket).SetStatus(k.status).SetDelta(d))
		}
	}
	for part := range slices.Chunk(hourRows, chunk) {
		if err := tx.StatusHour.CreateBulk(part...).Exec(ctx); err != nil {
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
  FROM ticket_events WHERE status IS NOT NULL OR kind = 'DELETED'
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
WHERE e.kind = 'UPDATED' AND e.changes::jsonb @> '[{"field": "site"}]'`

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
