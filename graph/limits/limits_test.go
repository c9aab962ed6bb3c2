package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// A cut-down socdesk schema: just enough connections to nest.
const sdl = `
type Query {
  tickets(first: Int, last: Int, after: String): TicketConnection!
  users(first: Int, last: Int): UserConnection!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  categories: [Category!]!
}
type Category { name: String! }
interface Node { id: ID! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type TicketConnection { edges: [TicketEdge] pageInfo: PageInfo! totalCount: Int! }
type TicketEdge { node: Ticket cursor: String! }
type Ticket implements Node {
  id: ID!
  title: String!
  assignee: User
  memos(first: Int, last: Int): MemoConnection!
}
type MemoConnection { edges: [MemoEdge] totalCount: Int! }
type MemoEdge { node: Memo }
type Memo implements Node { id: ID! body: String! author: User }
type UserConnection { edges: [UserEdge] totalCount: Int! }
type UserEdge { node: User }
type User implements Node {
  id: ID!
  login: String!
  memos(first: Int = 10, last: Int): MemoConnection!
}
`

func testSchema(t testing.TB) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphql", Input: sdl})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// opContext does what gqlgen's executor does before the mutators run:
// parse, validate, coerce the variables (given as JSON, as on the wire).
func opContext(t testing.TB, schema *ast.Schema, query, vars string) *graphql.OperationContext {
	t.Helper()
	doc, errs := gqlparser.LoadQueryWithRules(schema, query, nil)
	if errs != nil {
		t.Fatalf("query does not validate: %v", errs)
	}
	raw := map[string]any{}
	if vars != "" {
		dec := json.NewDecoder(strings.NewReader(vars))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
	}
	op := doc.Operations.ForName("")
	coerced, err := validator.VariableValues(schema, op, raw)
	if err != nil {
		t.Fatalf("variables: %v", err)
	}
	return &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: op, Variables: coerced}
}

// Constructors for the errors expected below.
func pageErr(field, arg, msg string) *want {
	return &want{msg: field + ": " + msg, ext: map[string]any{"code": "BAD_USER_INPUT", "field": field, "argument": arg}}
}

func required(field string) *want {
	return pageErr(field, "first", `"first" or "last" is required (at most 100)`)
}

func outOfRange(field, arg string) *want {
	return pageErr(field, arg, fmt.Sprintf("%q must be between 0 and 100", arg))
}

func costErr(actual, limit int) *want {
	return &want{
		msg: fmt.Sprintf("operation cost %d exceeds the limit of %d", actual, limit),
		ext: map[string]any{"code": "BAD_USER_INPUT", "limit": limit, "actual": actual},
	}
}

func depthErr(actual, limit int) *want {
	return &want{
		msg: fmt.Sprintf("operation depth %d exceeds the limit of %d", actual, limit),
		ext: map[string]any{"code": "BAD_USER_INPUT", "limit": limit, "actual": actual},
	}
}

type want struct {
	msg string
	ext map[string]any
}

func TestMutateOperationContext(t *testing.T) {
	schema := testSchema(t)
	page := Limits{MaxPageSize: 100}
	all := Limits{MaxDepth: 10, MaxCost: 10000, MaxPageSize: 100}

	tests := []struct {
		name   string
		limits Limits
		query  string
		vars   string
		want   *want // nil: accepted
	}{
		// Rule 1: connection page size.
		{"first given", page, `{ tickets(first: 100) { totalCount } }`, "", nil},
		{"last given", page, `{ tickets(last: 0) { totalCount } }`, "", nil},
		{"first and last missing", page, `{ tickets { totalCount } }`, "", required("tickets")},
		{"first null", page, `{ tickets(first: null) { totalCount } }`, "", required("tickets")},
		{"first too large", page, `{ tickets(first: 101) { totalCount } }`, "", outOfRange("tickets", "first")},
		{"first negative", page, `{ tickets(first: -1) { totalCount } }`, "", outOfRange("tickets", "first")},
		{"last too large, aliased", page, `{ open: tickets(last: 101) { totalCount } }`, "", outOfRange("open", "last")},
		{"first fine, last too large", page, `{ tickets(first: 1, last: 101) { totalCount } }`, "", outOfRange("tickets", "last")},
		{"nested connection missing", page,
			`{ tickets(first: 5) { edges { node { memos { totalCount } } } } }`, "",
			required("tickets.edges.node.memos")},
		{"nested connection in a fragment missing", page,
			`{ tickets(first: 5) { edges { node { ...M } } } } fragment M on Ticket { memos { totalCount } }`, "",
			required("tickets.edges.node.memos")},
		{"nested connection in an inline fragment too large", page,
			`{ node(id: "1") { ... on User { memos(first: 500) { totalCount } } } }`, "",
			outOfRange("node.memos", "first")},
		{"schema default counts as given", page, `{ users(first: 1) { edges { node { memos { totalCount } } } } }`, "", nil},

		// Variables are read from rc.Variables, as coerced by gqlparser.
		{"first from a variable", page, `query($n: Int) { tickets(first: $n) { totalCount } }`, `{"n": 100}`, nil},
		{"first from a variable too large", page,
			`query($n: Int) { tickets(first: $n) { totalCount } }`, `{"n": 101}`, outOfRange("tickets", "first")},
		{"first from a variable set to null", page,
			`query($n: Int) { tickets(first: $n) { totalCount } }`, `{"n": null}`, required("tickets")},
		{"first from a variable not given", page,
			`query($n: Int) { tickets(first: $n) { totalCount } }`, "", required("tickets")},
		{"first from a variable's default", page,
			`query($n: Int = 20) { tickets(first: $n) { totalCount } }`, "", nil},
		// @skip / @include drop the field, as gqlgen's executor does.
		{"skipped connection", page,
			`query($s: Boolean!) { tickets @skip(if: $s) { totalCount } }`, `{"s": true}`, nil},
		{"not skipped connection", page,
			`query($s: Boolean!) { tickets @skip(if: $s) { totalCount } }`, `{"s": false}`, required("tickets")},
		{"excluded inline fragment", page,
			`{ ... @include(if: false) { tickets { totalCount } } }`, "", nil},

		// Rule 2: cost.
		// totalCount is computed once, the edges once per page row:
		// tickets = 1 + totalCount 1 + 10*edges(1 + node(1 + id 1 + title 1)) = 1 + 1 + 10*4 = 42.
		{"cost at the limit", Limits{MaxCost: 42}, `{ tickets(first: 10) { totalCount edges { node { id title } } } }`, "", nil},
		{"cost over the limit", Limits{MaxCost: 41},
			`{ tickets(first: 10) { totalCount edges { node { id title } } } }`, "", costErr(42, 41)},
		// memos = 1 + 100*(edges 1 + node 1 + id 1) = 301;
		// tickets = 1 + 100*(edges 1 + node 1 + memos 301) = 1 + 100*303 = 30301.
		{"nested connections multiply", all,
			`{ tickets(first: 100) { edges { node { memos(first: 100) { edges { node { id } } } } } } }`, "",
			costErr(30301, 10000)},
		// node = 1 + (N: id 1 + title 1) + (memos 1 + totalCount 1 = 2) = 5;
		// tickets = 1 + 100*(edges 1 + node 5) = 601.
		{"fragments and inline fragments are counted", Limits{MaxCost: 600}, `
			{ tickets(first: 100) { ...T } }
			fragment T on TicketConnection { edges { node { ...N ... on Ticket { memos(first: 100) { totalCount } } } } }
			fragment N on Ticket { id title }`, "", costErr(601, 600)},
		{"same, at the limit", Limits{MaxCost: 601}, `
			{ tickets(first: 100) { ...T } }
			fragment T on TicketConnection { edges { node { ...N ... on Ticket { memos(first: 100) { totalCount } } } } }
			fragment N on Ticket { id title }`, "", nil},
		// T = totalCount 1 + page*edges(1 + node(1 + id 1)); a = 1 + 1 + 2*3 = 8; b = 1 + 1 + 3*3 = 11; 19 in all.
		{"a fragment spread twice counts twice", Limits{MaxCost: 18}, `
			{ a: tickets(first: 2) { ...T } b: tickets(first: 3) { ...T } }
			fragment T on TicketConnection { totalCount edges { node { id } } }`, "", costErr(19, 18)},
		// node = 1 + id 1 + (memos 1 + 100*(edges 1 + node 1 + id 1) = 301) + login 1 = 304.
		{"inline fragments on an interface", Limits{MaxCost: 300}, `
			{ node(id: "1") { id ... on Ticket { memos(first: 100) { edges { node { id } } } } ... on User { login } } }`, "",
			costErr(304, 300)},
		// tickets = 1 + 50*(edges 1 + node 1 + id 1) = 151.
		{"page size from a variable", Limits{MaxCost: 100},
			`query($n: Int!) { tickets(first: $n) { edges { node { id } } } }`, `{"n": 50}`, costErr(151, 100)},
		// User.memos defaults to first: 10: memos = 1 + 10*(edges 1 + node(1 + id 1)) = 31;
		// users = 1 + 2*(edges 1 + node(1 + 31)) = 67.
		{"page size from the schema default", Limits{MaxCost: 66},
			`{ users(first: 2) { edges { node { memos { edges { node { id } } } } } } }`, "", costErr(67, 66)},
		// Both given (ent refuses that at run time): the larger counts, 1 + 20*(1 + (1 + 1)) = 61.
		{"first and last: the larger counts", Limits{MaxCost: 60},
			`{ tickets(first: 10, last: 20) { edges { node { id } } } }`, "", costErr(61, 60)},
		// first: 0 still runs its query (and its count): it costs a page of
		// one, 1 + 1*(edges 1 + node (1 + memos (1 + totalCount 1))) = 5.
		{"first: 0 costs a page of one", Limits{MaxCost: 5, MaxPageSize: 100},
			`{ tickets(first: 0) { edges { node { memos(first: 100) { totalCount } } } } }`, "", nil},
		{"first: 0 over the limit", Limits{MaxCost: 4, MaxPageSize: 100},
			`{ tickets(first: 0) { edges { node { memos(first: 100) { totalCount } } } } }`, "", costErr(5, 4)},
		// A plain list of objects multiplies by ListSize: 1 + 10×1 = 11.
		{"object lists multiply by ListSize", Limits{MaxCost: 10, ListSize: 10},
			`{ categories { name } }`, "", costErr(11, 10)},
		// nodes(ids:) multiplies by the number of ids: 1 + 3×1 = 4.
		{"nodes multiply by their ids", Limits{MaxCost: 3, ListSize: 10},
			`{ nodes(ids: ["a", "b", "c"]) { id } }`, "", costErr(4, 3)},
		// The edges of a connection are multiplied by the page size alone:
		// 1 + 5×(edges 1 + node (1 + title 1)) = 16.
		{"edges are not lists twice", Limits{MaxCost: 16, MaxPageSize: 100, ListSize: 10},
			`{ tickets(first: 5) { edges { node { title } } } }`, "", nil},
		// totalCount counts every row: CountCost each. 2 aliases × (1 + 1×500) = 1002.
		{"totalCount has its own cost", Limits{MaxCost: 1001, MaxPageSize: 100, CountCost: 500},
			`{ a: tickets(first: 0) { totalCount } b: tickets(first: 0) { totalCount } }`, "", costErr(1002, 1001)},
		// (2^31-1)^4 does not fit an int: the cost saturates rather than wrapping round.
		{"cost saturates", Limits{MaxCost: 10000}, `{ tickets(first: 2147483647) { edges { node {
			memos(first: 2147483647) { edges { node { author { memos(first: 2147483647) { edges { node { author {
			memos(first: 2147483647) { totalCount } } } } } } } } } } } } }`, "", costErr(math.MaxInt, 10000)},

		// Rule 3: depth. tickets 1, edges 2, node 3, memos 4, edges 5, node 6, author 7, login 8.
		{"depth at the limit", Limits{MaxDepth: 8},
			`{ tickets(first: 1) { edges { node { memos(first: 1) { edges { node { author { login } } } } } } } }`, "", nil},
		{"depth over the limit", Limits{MaxDepth: 7},
			`{ tickets(first: 1) { edges { node { memos(first: 1) { edges { node { author { login } } } } } } } }`, "",
			depthErr(8, 7)},
		{"depth through fragments", Limits{MaxDepth: 7}, `
			{ tickets(first: 1) { ...E } }
			fragment E on TicketConnection { edges { node { ... on Ticket { memos(first: 1) { edges { node { ...A } } } } } } }
			fragment A on Memo { author { login } }`, "", depthErr(8, 7)},
		// Depth is checked before cost when both are over.
		{"depth before cost", Limits{MaxDepth: 1, MaxCost: 1}, `{ tickets(first: 1) { totalCount } }`, "", depthErr(2, 1)},

		// Introspection and __typename count for nothing.
		{"introspection query", Limits{MaxDepth: 10, MaxCost: 10000, MaxPageSize: 100}, introspection.Query, "", nil},
		{"introspection query, tightest limits", Limits{MaxDepth: 1, MaxCost: 1, MaxPageSize: 1}, introspection.Query, "", nil},
		// tickets 1 + 1*(edges 1) = 2, depth 2.
		{"__typename", Limits{MaxDepth: 2, MaxCost: 2},
			`{ __typename tickets(first: 1) { __typename edges { __typename } } }`, "", nil},
		{"introspection beside a real field", Limits{MaxDepth: 1},
			`{ __schema { types { fields { type { ofType { name } } } } } tickets(first: 1) { totalCount } }`, "",
			depthErr(2, 1)},

		// Rule 4: 0 disables a limit.
		{"all disabled", Limits{},
			`{ tickets { edges { node { memos(first: 100000) { edges { node { author { login } } } } } } } }`, "", nil},
		{"page size disabled", Limits{MaxCost: 10000, MaxDepth: 10},
			`{ tickets(first: 1000) { totalCount } }`, "", nil},
		// Without the page rule a missing first/last multiplies by 1: 1 + 1*(edges 1 + node 1 + id 1) = 4.
		{"page size disabled, missing first counts as 1", Limits{MaxCost: 3},
			`{ tickets { edges { node { id } } } }`, "", costErr(4, 3)},
		{"cost disabled", Limits{MaxPageSize: 100, MaxDepth: 10},
			`{ tickets(first: 100) { edges { node { memos(first: 100) { edges { node { id } } } } } } }`, "", nil},
		{"depth disabled", Limits{MaxPageSize: 100, MaxCost: 10000},
			`{ tickets(first: 1) { edges { node { memos(first: 1) { edges { node { author { memos(first: 1) {
				edges { node { author { login } } } } } } } } } } } }`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := opContext(t, schema, tt.query, tt.vars)
			err := tt.limits.MutateOperationContext(context.Background(), rc)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v (extensions %v)", err.Message, err.Extensions)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", tt.want.msg)
			}
			if err.Message != tt.want.msg {
				t.Errorf("message\n got %q\nwant %q", err.Message, tt.want.msg)
			}
			if !reflect.DeepEqual(err.Extensions, tt.want.ext) {
				t.Errorf("extensions\n got %#v\nwant %#v", err.Extensions, tt.want.ext)
			}
			if len(err.Locations) != 1 {
				t.Errorf("locations = %v, want one", err.Locations)
			}
		})
	}
}

// unvalidated parses without validation, the only way to get a document the
// executor would never pass on (fragment cycles) or pass on slowly.
func unvalidated(t *testing.T, query string) *graphql.OperationContext {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	return &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
}

func TestFragmentCycle(t *testing.T) {
	rc := unvalidated(t, `
		{ tickets { ...A } }
		fragment A on TicketConnection { totalCount ...B }
		fragment B on TicketConnection { edges { ...A } }`)
	err := Limits{MaxCost: 100}.MutateOperationContext(context.Background(), rc)
	if err == nil || err.Message != `fragment "A" spreads itself` || err.Extensions["code"] != "BAD_USER_INPUT" {
		t.Fatalf("got %v, want the cycle rejected", err)
	}
}

// Each fragment spreads the next one twice, so the expanded operation has
// 2^39 leaves; each fragment must be walked only once.
func TestFragmentFanOutIsLinear(t *testing.T) {
	const n = 40
	var q strings.Builder
	q.WriteString("{ x { ...F1 } }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&q, "fragment F%d on T { a { ...F%d } b { ...F%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&q, "fragment F%d on T { id }\n", n)
	rc := unvalidated(t, q.String())

	// F40 = 1; Fi = 2*(1 + F(i+1)), so Fi = 3*2^(40-i) - 2; x = 1 + F1 = 3*2^39 - 1.
	// Depth: x, then a or b in F1..F39, then id: 41.
	err := Limits{MaxCost: 1 << 20, MaxDepth: 100}.MutateOperationContext(context.Background(), rc)
	if want := costErr(3<<39-1, 1<<20); err == nil || err.Message != want.msg {
		t.Fatalf("got %v, want %q", err, want.msg)
	}
	err = Limits{MaxDepth: 40}.MutateOperationContext(context.Background(), rc)
	if want := depthErr(41, 40); err == nil || err.Message != want.msg {
		t.Fatalf("got %v, want %q", err, want.msg)
	}
}

// fakeSchema is an ExecutableSchema with no resolvers: enough for Use and
// for requests the extension rejects.
type fakeSchema struct{ schema *ast.Schema }

func (f fakeSchema) Schema() *ast.Schema { return f.schema }

func (fakeSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (fakeSchema) Exec(context.Context) graphql.ResponseHandler {
	return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{}`)})
}

func TestValidate(t *testing.T) {
	es := fakeSchema{testSchema(t)}
	if err := (Limits{MaxDepth: 10, MaxCost: 10000, MaxPageSize: 100}).Validate(es); err != nil {
		t.Errorf("test schema: %v", err)
	}
	if err := (Limits{MaxCost: -1}).Validate(es); err == nil {
		t.Error("negative limit accepted")
	}
	bad, err := gqlparser.LoadSchema(&ast.Source{Input: sdl + `
		extend type Query { everything: TicketConnection! }`})
	if err != nil {
		t.Fatal(err)
	}
	err = (Limits{MaxPageSize: 100}).Validate(fakeSchema{bad})
	if err == nil || !strings.Contains(err.Error(), "Query.everything") {
		t.Errorf("connection without first/last: got %v", err)
	}
	if err := (Limits{}).Validate(fakeSchema{bad}); err != nil {
		t.Errorf("page rule disabled: %v", err)
	}
}

// TestProtocolError runs the extension inside gqlgen's executor: its error
// comes back from CreateOperationContext, and the init() registration makes
// it a KindProtocol error, which gqlgen's POST and GET transports answer with
// 400 under application/graphql-response+json (422 under application/json).
// The transports themselves need modules go.mod does not list yet.
func TestProtocolError(t *testing.T) {
	exec := executor.New(fakeSchema{testSchema(t)})
	exec.Use(Limits{MaxDepth: 10, MaxCost: 10000, MaxPageSize: 100})
	ctx := graphql.StartOperationTrace(context.Background()) // as the transports do

	_, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: `{ tickets { totalCount } }`})
	if len(errs) != 1 || errs[0].Extensions["field"] != "tickets" {
		t.Fatalf("errors = %v, want the missing first reported", errs)
	}
	if kind := errcode.GetErrorKind(errs); kind != errcode.KindProtocol {
		t.Errorf("error kind = %v, want KindProtocol", kind)
	}

	if _, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: `{ tickets(first: 1) { totalCount } }`}); errs != nil {
		t.Errorf("accepted query rejected: %v", errs)
	}
}

func BenchmarkMutateOperationContext(b *testing.B) {
	rc := opContext(b, testSchema(b), `
		{ tickets(first: 50) { totalCount edges { node { ...T } } } }
		fragment T on Ticket { id title assignee { login } memos(first: 20) { edges { node { id body author { login } } } } }`, "")
	l := Limits{MaxDepth: 10, MaxCost: 100000, MaxPageSize: 100}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.MutateOperationContext(context.Background(), rc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMaxRootFields(t *testing.T) {
	q := `query { a: categories { name } b: categories { name } ...F } fragment F on Query { c: categories { name } }`
	for _, c := range []struct {
		max  int
		fail bool
	}{{3, false}, {2, true}} {
		err := (Limits{MaxRootFields: c.max}).MutateOperationContext(context.Background(), opContext(t, testSchema(t), q, ""))
		if (err != nil) != c.fail {
			t.Errorf("MaxRootFields %d: %v", c.max, err)
		}
	}
}

// TestMeasureOf: an accepted operation leaves the cost the limit was checked
// against for the rate budgets to charge, even with every rule disabled; a
// rejected one leaves none.
func TestMeasureOf(t *testing.T) {
	schema := testSchema(t)
	tests := []struct {
		name   string
		limits Limits
		query  string
		want   Measure
		ok     bool
	}{
		// tickets 1, then 50 × (edges 1 + node 1 + title 1).
		{"page multiplies", Limits{MaxCost: 10000, MaxPageSize: 100},
			`{ tickets(first: 50) { edges { node { title } } } }`, Measure{Cost: 1 + 50*3, Depth: 4, RootFields: 1}, true},
		{"rules disabled, still measured", Limits{},
			`{ a: tickets(first: 50) { edges { node { title } } } b: users(first: 2) { totalCount } }`,
			Measure{Cost: 1 + 50*3 + 1 + 1, Depth: 4, RootFields: 2}, true},
		{"rejected: none", Limits{MaxCost: 10},
			`{ tickets(first: 50) { edges { node { title } } } }`, Measure{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := opContext(t, schema, tt.query, "")
			_ = tt.limits.MutateOperationContext(context.Background(), rc)
			got, ok := MeasureOf(rc)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("MeasureOf = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
