package jobs

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"entgo.io/ent/dialect"
)

// unfinishedStates are the states of a job that may still run.
const unfinishedStates = `'available', 'pending', 'retryable', 'running', 'scheduled'`

var argKey = regexp.MustCompile(`^[a-z_]+$`)

// Unfinished reports which of ids have a job of kind, with ids[i] as the
// integer argument key, that may still run. The rest are orphans: their
// last job ended without recording an outcome (a replica killed during a
// last attempt, whose job River's rescuer then discarded).
func (e *Engine) Unfinished(ctx context.Context, kind, key string, ids []int) (map[int]bool, error) {
	out := map[int]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	if !argKey.MatchString(key) {
		return nil, fmt.Errorf("jobs: %q is not an argument key", key)
	}
	arg := "(args->>'" + key + "')::bigint"
	mark := func(i int) string { return fmt.Sprintf("$%d", i) }
	if e.o.Dialect == dialect.SQLite {
		arg = "json_extract(args, '$." + key + "')"
		mark = func(int) string { return "?" }
	}
	marks := make([]string, len(ids))
	args := []any{kind}
	for i, id := range ids {
		marks[i] = mark(i + 2)
		args = append(args, id)
	}
	q := "SELECT DISTINCT " + arg + " FROM river_job WHERE kind = " + mark(1) + " AND state IN (" + unfinishedStates + ") AND " +
		arg + " IN (" + strings.Join(marks, ", ") + ")"
	rows, err := e.o.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
