package graph_test

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vmihailenco/msgpack/v5"

	"socdesk/graph/generated"
	"socdesk/graph/scalar"
)

// craftedCursors are cursors a client may make up: entgql's msgpack form
// and socdesk's tagged one, with values of every type, for every ordering
// and none, truncated, and garbage.
func craftedCursors(r *rand.Rand, n int) []string {
	values := []any{nil, "x", "2026-01-01T00:00:00Z", "", "a\x00b", "\xff", -1, 0, 3, int64(math.MaxInt64), uint64(math.MaxUint64),
		1.5, math.Inf(1), true, []byte{1, 2}, []any{1, "a"}, map[string]any{"a": 1},
		time.Unix(0, 0).UTC(), time.Now(), time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}}
	orders := []any{nil, "", "CREATED_AT", "UPDATED_AT", "PRIORITY", "NUMBER", "LOGIN", "NAME", 7}
	ids := []any{1, 0, -5, "1", nil, 1.5, uint64(math.MaxUint64)}
	enc := func(v any) string {
		b, _ := msgpack.Marshal(v)
		return base64.RawStdEncoding.EncodeToString(b)
	}
	var out []string
	for range n {
		m := map[string]any{"i": ids[r.IntN(len(ids))]}
		if r.IntN(8) > 0 {
			m["v"] = values[r.IntN(len(values))]
		}
		if o := orders[r.IntN(len(orders))]; o != nil {
			m["o"] = o
		}
		s := enc(m)
		switch r.IntN(10) {
		case 0:
			s = s[:r.IntN(len(s))] // truncated
		case 1:
			s = enc([]any{m["i"], m["v"]}) // an array, not a map
		case 2:
			b := make([]byte, r.IntN(24))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			s = base64.RawStdEncoding.EncodeToString(b) // garbage
		case 3:
			s += "!!" // not base64
		}
		out = append(out, s)
	}
	return out
}

// TestCraftedCursors: no made-up cursor reaches the database; each is
// either usable or BAD_USER_INPUT "invalid cursor" naming after or before,
// never INTERNAL, never quoting the decoder (issue 9, 1h).
func TestCraftedCursors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		fx := newListFixtures(t, e)
		r := rand.New(rand.NewPCG(9, 1))
		fields := []string{"NUMBER", "CREATED_AT", "UPDATED_AT", "PRIORITY"}
		refused := 0
		// g6F27aF270 repeats the key v: msgpack panicked decoding it (found by FuzzTicketCursors).
		for i, c := range append([]string{"g6F27aF270", "g6F27aF270"}, craftedCursors(r, 298)...) {
			arg, size := "after", "first"
			if i%2 == 1 {
				arg, size = "before", "last"
			}
			vars := map[string]any{size: 3, arg: c, "orderBy": map[string]any{
				"field": fields[r.IntN(len(fields))], "direction": []string{"ASC", "DESC"}[r.IntN(2)]}}
			res := e.listDo(t, listQuery, vars)
			if len(res.Errors) == 0 {
				continue
			}
			refused++
			if res.code() != "BAD_USER_INPUT" || res.field() != arg || res.Errors[0].Message != arg+": invalid cursor" {
				t.Fatalf("cursor %q with %v: %+v", c, vars["orderBy"], res.Errors)
			}
		}
		if refused < 250 {
			t.Fatalf("only %d of 300 crafted cursors refused", refused)
		}
		// Well-formed cursors of each ordering whose value its column cannot
		// hold (priority_rank is a smallint on PostgreSQL).
		for _, field := range fields {
			for _, v := range []any{int64(math.MaxInt64), int64(math.MinInt64), int64(1) << 40, int64(math.MaxInt16) + 1, int64(math.MinInt8) - 1} {
				cur, err := scalar.EncodeCursor(1, v, field)
				if err != nil {
					t.Fatal(err)
				}
				for _, dir := range []string{"ASC", "DESC"} {
					res := e.listDo(t, listQuery, map[string]any{"first": 2, "after": cur,
						"orderBy": map[string]any{"field": field, "direction": dir}})
					if c := res.code(); c != "" && c != "BAD_USER_INPUT" {
						t.Fatalf("%s cursor with value %v, %s: %+v", field, v, dir, res.Errors)
					}
				}
			}
		}
		// A real cursor is refused with another ordering, accepted with its own.
		for _, made := range fields {
			var d struct{ Tickets listConn }
			e.listDo(t, listQuery, map[string]any{"first": 2, "orderBy": map[string]any{"field": made, "direction": "ASC"}}).ok().into(&d)
			cur := *d.Tickets.PageInfo.EndCursor
			for _, used := range fields {
				for _, dir := range []string{"ASC", "DESC"} {
					res := e.listDo(t, listQuery, map[string]any{"last": 2, "before": cur, "orderBy": map[string]any{"field": used, "direction": dir}})
					if used == made {
						res.ok()
					} else {
						res.wantCode("BAD_USER_INPUT", "before")
					}
				}
			}
		}
		// Nested connections: ticket history and memos, eager-loaded by their parent's query.
		var d struct {
			Tickets struct {
				Edges []struct {
					Node struct {
						Number  int
						History struct{ PageInfo struct{ EndCursor *string } }
					}
				}
			}
		}
		const nested = `query($c: Cursor) { tickets(first: 3, orderBy: {field: NUMBER, direction: DESC}) { edges { node { number
			history(first: 1, after: $c) { edges { cursor } pageInfo { endCursor } } memos(first: 1, after: $c) { totalCount } } } } }`
		e.do(e.admin, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"kind": "ANALYSIS", "title": "t", "body": "b", "siteID": gid(fx.sites[0]), "categoryID": gid(fx.categories[0])}}).ok()
		e.do(e.admin, nested, nil).ok().into(&d)
		hc := d.Tickets.Edges[0].Node.History.PageInfo.EndCursor
		if hc == nil {
			t.Fatal("no history cursor")
		}
		e.do(e.admin, `query($n: Int!, $c: Cursor) { ticket(number: $n) { history(first: 1, after: $c) { totalCount } } }`,
			map[string]any{"n": d.Tickets.Edges[0].Node.Number, "c": *hc}).ok()
		for _, c := range craftedCursors(r, 40) {
			res := e.do(e.admin, nested, map[string]any{"c": c})
			if len(res.Errors) > 0 && (res.code() != "BAD_USER_INPUT" || res.field() != "after") {
				t.Fatalf("nested cursor %q: %+v", c, res.Errors)
			}
		}
		res := e.do(e.admin, nested, map[string]any{"c": *d.Tickets.Edges[0].Node.History.PageInfo.EndCursor + "x"})
		if res.code() != "BAD_USER_INPUT" || strings.Contains(fmt.Sprint(res.Errors), "msgpack") {
			t.Fatalf("a bad cursor: %+v", res.Errors)
		}
	})
}

// TestEveryOrderingHasACursorKind: cursors of every order field of the
// schema can be checked (a new ordering needs its row in scalar's table).
func TestEveryOrderingHasACursorKind(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	n := 0
	for name, def := range schema.Types {
		if def.Kind != ast.Enum || !strings.HasSuffix(name, "OrderField") {
			continue
		}
		for _, v := range def.EnumValues {
			n++
			if !scalar.HasCursorKind(v.Name) {
				t.Errorf("%s.%s: no cursor kind in graph/scalar's orderingKinds", name, v.Name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no order fields found")
	}
}
