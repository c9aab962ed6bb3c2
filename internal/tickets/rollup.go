package tickets

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/statusday"
	"socdesk/ent/statushour"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
)

// Move is what a change does to the trend's rollups: Delta tickets enter
// (or, negative, leave) Status on Site.
type Move struct {
	Site   int
	Status string
	Delta  int
}

// Moves returns the rollup moves of a history entry of t: a created ticket
// enters its status, a deleted one leaves it, and a change of status or of
// site moves it from the one to the other. Tasks are no part of the trend:
// they move nothing.
func Moves(t *ent.Ticket, kind ticketevent.Kind, changes []schematype.FieldChange) []Move {
	if t.Kind == ticket.KindTASK {
		return nil
	}
	fromSite, toSite := t.SiteID, t.SiteID
	fromStatus, toStatus := string(t.Status), string(t.Status)
	for _, ch := range changes {
		switch ch.Field {
		case schematype.ChangeSite:
			fromSite, toSite = num(ch.From), num(ch.To)
		case schematype.ChangeStatus:
			fromStatus, toStatus = str(ch.From), str(ch.To)
		}
	}
	switch kind {
	case ticketevent.KindCREATED:
		return []Move{{toSite, toStatus, 1}}
	case ticketevent.KindDELETED:
		return []Move{{fromSite, fromStatus, -1}}
	}
	if fromSite == toSite && fromStatus == toStatus {
		return nil
	}
	return []Move{{fromSite, fromStatus, -1}, {toSite, toStatus, 1}}
}

// RollUp adds moves made at `at` to the daily and hourly rollups, in the
// change's transaction. Rows are written in key order, so that concurrent
// changes take their row locks in the same order.
func RollUp(ctx context.Context, tx *ent.Tx, at time.Time, moves []Move) error {
	moves = Merge(moves)
	if len(moves) == 0 {
		return nil
	}
	ctx = authz.System(ctx) // the rollups follow the change the viewer was allowed to make
	at = at.UTC()
	day, hour := at.Truncate(24*time.Hour), at.Truncate(time.Hour)
	days := make([]*ent.StatusDayCreate, len(moves))
	hours := make([]*ent.StatusHourCreate, len(moves))
	for i, m := range moves {
		days[i] = tx.StatusDay.Create().SetSiteID(m.Site).SetBucket(day).SetStatus(m.Status).SetDelta(m.Delta)
		hours[i] = tx.StatusHour.Create().SetSiteID(m.Site).SetBucket(hour).SetStatus(m.Status).SetDelta(m.Delta)
	}
	err := tx.StatusDay.CreateBulk(days...).
		OnConflict(sql.ConflictColumns(statusday.FieldSiteID, statusday.FieldBucket, statusday.FieldStatus), addDelta(statusday.Table, statusday.FieldDelta)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("rolling up the daily trend: %w", err)
	}
	err = tx.StatusHour.CreateBulk(hours...).
		OnConflict(sql.ConflictColumns(statushour.FieldSiteID, statushour.FieldBucket, statushour.FieldStatus), addDelta(statushour.Table, statushour.FieldDelta)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("rolling up the hourly trend: %w", err)
	}
	return nil
}

// addDelta resolves a conflict by adding the new row's delta to the old.
func addDelta(table, column string) sql.ConflictOption {
	return sql.ResolveWith(func(u *sql.UpdateSet) {
		u.Set(column, sql.Expr(fmt.Sprintf("%s.%s + excluded.%s", table, column, column)))
	})
}

// Merge adds up the moves of the same site and status, drops those that
// cancel out, and sorts the rest by site and status.
func Merge(moves []Move) []Move {
	out := make([]Move, 0, len(moves))
	for _, m := range moves {
		if i := slices.IndexFunc(out, func(o Move) bool { return o.Site == m.Site && o.Status == m.Status }); i >= 0 {
			out[i].Delta += m.Delta
		} else {
			out = append(out, m)
		}
	}
	out = slices.DeleteFunc(out, func(m Move) bool { return m.Delta == 0 })
	slices.SortFunc(out, func(a, b Move) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Status, b.Status)) })
	return out
}
