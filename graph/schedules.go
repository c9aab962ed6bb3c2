package graph

import (
	"context"
	"encoding/json"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"socdesk/ent"
	"socdesk/internal/schedules"
)

// withRawFilter gives in's query filter as the client wrote it (the
// request's argument, variables resolved): what the schedule stores and
// shows, with API ids as given, rather than socdesk's reading of it.
func withRawFilter(ctx context.Context, in schedules.Input) schedules.Input {
	fc := graphql.GetFieldContext(ctx)
	if in.Query == nil || in.Query.Filter == nil || fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return in
	}
	args := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
	input, _ := args["input"].(map[string]any)
	query, _ := input["query"].(map[string]any)
	if f, ok := query["filter"].(map[string]any); ok {
		if b, err := json.Marshal(f); err == nil {
			in.Query.FilterJSON = b
		}
	}
	return in
}

// taskSchedules is the taskSchedules list: by name, then id.
func taskSchedules(ctx context.Context, c *ent.Client, filter *schedules.Filter, first *int, after *entgql.Cursor[int], last *int, before *entgql.Cursor[int]) (*ent.TaskScheduleConnection, error) {
	where, err := filter.Where()
	if err != nil {
		return nil, err
	}
	return c.TaskSchedule.Query().Where(where...).Paginate(countOnlyIfSelected(ctx, first, last), after, first, before, last,
		ent.WithTaskScheduleOrder(&ent.TaskScheduleOrder{Field: ent.TaskScheduleOrderFieldName, Direction: entgql.OrderDirectionAsc}))
}

func ptr[T any](v T) *T { return &v }

func pointers(ts []time.Time, err error) ([]*time.Time, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*time.Time, len(ts))
	for i := range ts {
		out[i] = &ts[i]
	}
	return out, nil
}
