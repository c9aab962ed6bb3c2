package seed

import (
	"context"
	"os"
	"testing"
	"time"

	"entgo.io/ent/dialect"
)

func TestZZProfile(t *testing.T) {
	if os.Getenv("SEED_PROFILE") == "" {
		t.Skip()
	}
	db, client := scratchPostgres(t, "socdesk_seed_prof")
	ctx := context.Background()
	if err := Synthetic(ctx, client, db, dialect.Postgres, 0, nil); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SEED_PROFILE") == "nogin" {
		db.Exec("DROP INDEX ticket_title_trgm; DROP INDEX ticket_body_trgm")
	}
	now := time.Now()
	r, err := ensureRefs(allow(), client, now, siteSpecs, syntheticCategories(), syntheticTags(), syntheticUsers())
	if err != nil {
		t.Fatal(err)
	}
	g := newGenerator(1, now, syntheticSpan, r, false)
	n := 50000
	var genT, rowsT time.Duration
	per := map[string]time.Duration{}
	for off := 0; off < n; off += 10000 {
		s := time.Now()
		ts := g.batch(off, 10000, n, 25769803776+1+off)
		genT += time.Since(s)
		s = time.Now()
		tables := copyRows(ts)
		rowsT += time.Since(s)
		tx, _ := db.Begin()
		for _, tb := range tables {
			s = time.Now()
			if err := copyTableIn(ctx, tx, tb); err != nil {
				t.Fatal(err)
			}
			per[tb.table] += time.Since(s)
		}
		s = time.Now()
		tx.Commit()
		per["commit"] += time.Since(s)
	}
	t.Logf("gen %s rows %s per-table %v", genT, rowsT, per)
}
