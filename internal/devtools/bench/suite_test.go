package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
)

// The cursor the suite builds decodes, with entgql's own decoder, to the row
// it was built from.
func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s, err := Cursor(4294967301, at)
	if err != nil {
		t.Fatal(err)
	}
	var c entgql.Cursor[int]
	if err := c.UnmarshalGQL(s); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Value.(time.Time)
	if c.ID != 4294967301 || !ok || !got.Equal(at) {
		t.Fatalf("decoded %+v (%T), want id 4294967301 and %s", c, c.Value, at)
	}
}

func TestGlobalIDs(t *testing.T) {
	// graph/scalar.EncodeID(42) is base64url("sd:42").
	if g := gid(42); g != "c2Q6NDI" {
		t.Fatalf("gid(42) = %q", g)
	}
	if id, err := idOf(gid(4294967301)); err != nil || id != 4294967301 {
		t.Fatalf("idOf: %d, %v", id, err)
	}
	if _, err := idOf("bm9wZQ"); err == nil {
		t.Fatal("idOf accepted an id without the prefix")
	}
}

func TestMedianRatio(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if r := Ratio(2, 3); r != 0.667 {
		t.Errorf("Ratio(2, 3) = %v", r)
	}
	if r := Ratio(1, 0); r != 0 {
		t.Errorf("Ratio(1, 0) = %v", r)
	}
}

func TestRunningSums(t *testing.T) {
	got := runningSums([][]int{{1, 0}, {2, -1}, {0, 3}})
	want := [][]int{{1, 0}, {3, -1}, {3, 2}}
	for d := range want {
		for i := range want[d] {
			if got[d][i] != want[d][i] {
				t.Fatalf("runningSums = %v, want %v", got, want)
			}
		}
	}
}

// Every round runs every pair once; rounds differ in order.
func TestRoundOrder(t *testing.T) {
	a, b := roundOrder(5, 0), roundOrder(5, 1)
	if len(a) != 10 || len(b) != 10 {
		t.Fatalf("lengths %d %d", len(a), len(b))
	}
	seen := map[pair]bool{}
	for _, p := range a {
		seen[p] = true
	}
	if len(seen) != 10 {
		t.Fatalf("round 0 repeats a pair: %v", a)
	}
	same := true
	for i := range a {
		same = same && a[i] == b[i]
	}
	if same {
		t.Fatal("rounds 0 and 1 have the same order")
	}
}

func TestSpread(t *testing.T) {
	ts := []*moveTicket{{id: 1}, {id: 2}, {id: 3}}
	out := spread(ts, 2) // more tickets than workers: disjoint
	if len(out[0]) != 2 || len(out[1]) != 1 || out[0][0].id != 1 || out[1][0].id != 2 || out[0][1].id != 3 {
		t.Fatalf("spread(3, 2) = %v", out)
	}
	out = spread(ts, 4) // fewer: shared, every worker has one
	for w, own := range out {
		if len(own) != 1 {
			t.Fatalf("worker %d has %d tickets", w, len(own))
		}
	}
}

// A suite of two sizes aggregates to medians and ratios, and the goals and
// the text say which were met.
func TestReport(t *testing.T) {
	run := func(sc, v string, round int, tput, p50, p99 float64) Run {
		return Run{Scenario: sc, Variant: v, Round: round, Stats: RunStats{Throughput: tput, Latency: Summary{P50MS: p50, P99MS: p99}}}
	}
	small := &SizeRuns{Tickets: 10000, Fixture: &Fixture{}, Scenarios: []ScenarioInfo{{"list", "the list"}},
		Statements: map[string]StatementInfo{"list": {Min: 9, Max: 9}}}
	for r := 1; r <= 3; r++ {
		small.Runs = append(small.Runs, run("list", VariantGraphQL, r, 100, 10, 20), run("list", VariantSQL, r, 200, 5, 10))
	}
	full := &SizeRuns{Tickets: 1000000, Fixture: &Fixture{DeepOffset: 400000},
		Scenarios:  []ScenarioInfo{{"list", "the list"}, {"search", "search"}},
		Statements: map[string]StatementInfo{"list": {Min: 9, Max: 9}, "nocount": {Min: 4, Max: 4}}}
	full.Runs = []Run{
		run("list", VariantGraphQL, 1, 90, 10, 25), run("list", VariantGraphQL, 2, 150, 10, 50), run("list", VariantGraphQL, 3, 120, 10, 30),
		run("list", VariantSQL, 1, 200, 5, 10), run("list", VariantSQL, 2, 200, 5, 10), run("list", VariantSQL, 3, 200, 5, 10),
		run("search", VariantGraphQL, 1, 10, 150, 300), run("search", VariantSQL, 1, 20, 120, 200),
	}
	s := &Suite{Config: SuiteConfig{Tickets: 1000000, Concurrency: 32, Rounds: 3, Duration: time.Second}, Sizes: []*SizeRuns{small, full}}
	rep := NewReport(s, map[string]string{"search": "no trigram index on body"})
	r := findRow(rep.Rows, 1000000, "list", VariantGraphQL)
	if r == nil || r.Throughput != 120 || r.P99MS != 30 || r.ThroughputRatio != 0.6 || r.Rounds != 3 {
		t.Fatalf("list row: %+v", r)
	}
	status := map[string]string{}
	for _, g := range rep.Goals {
		status[g.Scenario+": "+g.Goal] = g.Status
	}
	for goal, want := range map[string]string{
		"list: throughput ≥ 0.6× the floor":                     GoalMet,
		"list: p99 flat (≤ 1.5×) from 10000 to 1000000 tickets": GoalMet, // 30 / 20
		"list: constant SQL statements per request":             GoalMet,
		"search: p50 ≤ 100 ms":                                  GoalMissed,
		"nocount: totalCount not computed unless selected":      GoalMet,
		"fan-out: commit-to-receipt p99 ≤ 250 ms at 1 event/s":  GoalNotMeasured,
		"trend-90: p50 ≤ 50 ms":                                 GoalNotMeasured,
	} {
		if status[goal] != want {
			t.Errorf("%s: %q, want %q (goals: %v)", goal, status[goal], want, status)
		}
	}
	var b strings.Builder
	rep.WriteText(&b)
	for _, want := range []string{"== 1000000 tickets", "MISSED", "no trigram index on body", "0.60"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, b.String())
		}
	}
}

// The counter counts simple queries and executes, after the startup.
func TestStatementCounterParsing(t *testing.T) {
	var in bytes.Buffer
	startup := make([]byte, 8)
	binary.BigEndian.PutUint32(startup, 8)
	binary.BigEndian.PutUint32(startup[4:], 196608)
	in.Write(startup)
	msg := func(typ byte, body string) {
		in.WriteByte(typ)
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(4+len(body)))
		in.Write(l[:])
		in.WriteString(body)
	}
	msg('Q', "SELECT 1\x00")
	msg('P', "\x00SELECT COUNT(*) FROM t\x00\x00\x00")
	msg('B', "\x00\x00\x00\x00\x00\x00\x00\x00")
	msg('E', "\x00\x00\x00\x00\x00")
	msg('S', "")
	p := &StatementCounter{}
	var out bytes.Buffer
	want := in.Len()
	_ = p.forward(bufio.NewReader(&in), &out)
	if out.Len() != want {
		t.Fatalf("forwarded %d bytes of %d", out.Len(), want)
	}
	n, texts := p.Since(0, 0)
	if n != 2 || len(texts) != 2 || texts[1] != "SELECT COUNT(*) FROM t" {
		t.Fatalf("counted %d, texts %q", n, texts)
	}
}
