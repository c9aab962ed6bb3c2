package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/internal/events"
	"socdesk/internal/netkey"
	"socdesk/internal/tickets"
	"socdesk/internal/trend"
)

const (
	syntheticSpan = 365 * 24 * time.Hour
	// pgBatchSize is the number of tickets COPYed per transaction on PostgreSQL.
	pgBatchSize = 10_000
	// entBatchSize is the number of tickets per transaction elsewhere.
	entBatchSize = 1_000
)

// Synthetic generates n tickets of realistic shape for benchmarks, in batches,
// printing a progress line per batch to w (which may be nil), such as
// "tickets 120000/1000000 (12%) 45s, 2650/s".
//
// The tickets reference 20 sites, 60 categories (10 of them
// INCIDENT_RESPONSE), 2,000 users (five of them service accounts registering
// SYSTEM tickets) and 200 tags; those that are missing are created, existing
// ones are reused by name (login). Every ticket has 1-3 assignees, 0-3 tags
// and 0-2 approvers, was created within the year before now (numbers follow
// creation times), is in any status of its category's workflow and has its
// status history as TicketEvent rows. (Unlike Demo's, NEW and TRIAGE tickets
// have assignees too; their CREATED event still records NEW or TRIAGE.)
//
// With dialect "postgres", db must be the database of client opened with
// github.com/lib/pq: tickets get ids after the current maximum (the range is
// reserved up front by moving the tickets' identity sequence, so tickets
// created meanwhile get later numbers) and are written with COPY, one
// transaction per 10,000 tickets, two transactions at a time. If it fails
// midway, the batches committed so far stay. With any other dialect the
// tickets are written through the ent client (db is unused), which is slow and
// meant for small n.
func Synthetic(ctx context.Context, client *ent.Client, db *sql.DB, dialect string, n int, w io.Writer) error {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	if w == nil {
		w = io.Discard
	}
	now := time.Now().UTC().Truncate(time.Second)
	r, err := ensureRefs(ctx, client, now.Add(-syntheticSpan-30*24*time.Hour),
		siteSpecs, syntheticCategories(), syntheticTags(), syntheticUsers())
	if err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	g := newGenerator(syntheticSeed, now, syntheticSpan, r, false)
	p := &progress{w: w, n: n, start: time.Now()}
	if dialect == "postgres" {
		if db == nil {
			return errors.New("seed: Synthetic on postgres needs the *sql.DB")
		}
		err = syntheticPostgres(ctx, db, g, n, p)
	} else {
		err = syntheticEnt(ctx, client, g, n, p)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	if err := trend.Rebuild(ctx, client, dialect); err != nil {
		return fmt.Errorf("seed: rolling up the trend: %w", err)
	}
	fmt.Fprintf(w, "trend rollups rebuilt in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// syntheticUsers are the 2,000 users of the benchmark data set.
func syntheticUsers() []userSpec {
	rng := rand.New(rand.NewPCG(7, 11))
	names := map[string]string{
		detectorLogin: "Detection Engine", "edr-connector": "EDR Connector", "siem-connector": "SIEM Connector",
		"mail-gateway": "Mail Gateway", "ids-sensor": "IDS Sensor",
	}
	specs := make([]userSpec, 0, 2000)
	for _, l := range serviceLogins {
		specs = append(specs, userSpec{login: l, displayName: names[l], perms: permEdit, service: true})
	}
	for _, f := range firstNames {
		for _, l := range lastNames {
			if len(specs) == 2000 {
				return specs
			}
			u := userSpec{
				login:       strings.ToLower(f + "." + l),
				displayName: f + " " + l,
				perms:       permEdit,
			}
			if rng.IntN(10) == 0 {
				u.perms = permView
			}
			for _, s := range rng.Perm(len(siteSpecs))[:1+rng.IntN(3)] {
				u.sites = append(u.sites, s)
			}
			specs = append(specs, u)
		}
	}
	return specs
}

type progress struct {
	w     io.Writer
	n     int
	start time.Time
}

func (p *progress) report(done int) {
	el := time.Since(p.start)
	rate := float64(done) / max(el.Seconds(), 1e-9)
	fmt.Fprintf(p.w, "tickets %d/%d (%d%%) %s, %.0f/s\n", done, p.n, done*100/p.n, el.Round(time.Second), rate)
}

// batch generates tickets off..off+k-1 of n. Creation times increase with the
// index, so ticket numbers follow creation times.
func (g *generator) batch(off, k, n, firstID int) []*genTicket {
	ts := make([]*genTicket, k)
	for i := range ts {
		age := 1 - (float64(off+i)+g.rng.Float64())/float64(n)
		ts[i] = g.ticket(spec{age: age, hasAge: true})
		if firstID != 0 {
			ts[i].id = firstID + off + i
		}
	}
	return ts
}

// pipeline generates batches in a goroutine while workers goroutines store
// the previous ones with write.
func pipeline[T any](ctx context.Context, n, size, workers int, gen func(off, k int) T, write func(T) error, p *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		v T
		k int
	}
	ch := make(chan item, 1)
	go func() {
		defer close(ch)
		for off := 0; off < n && ctx.Err() == nil; off += size {
			k := min(size, n-off)
			select {
			case ch <- item{gen(off, k), k}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu    sync.Mutex
		done  int
		first error
		wg    sync.WaitGroup
	)
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if ctx.Err() != nil {
					return // another worker failed
				}
				if err := write(it.v); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				mu.Lock()
				done += it.k
				p.report(done)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func syntheticEnt(ctx context.Context, client *ent.Client, g *generator, n int, p *progress) error {
	return pipeline(ctx, n, entBatchSize, 1,
		func(off, k int) []*genTicket { return g.batch(off, k, n, 0) },
		func(ts []*genTicket) error {
			tx, err := client.Tx(ctx)
			if err != nil {
				return fmt.Errorf("seed: starting transaction: %w", err)
			}
			if err := writeEnt(ctx, tx.Client(), ts); err != nil {
				_ = tx.Rollback()
				return err
			}
			return tx.Commit()
		}, p)
}

// The columns COPY writes; see ent/migrate/schema.go.
var (
	ticketColumns = []string{
		"id", "created_at", "updated_at", "title", "kind", "body", "body_format",
		"detection_template", "first_detected_at", "last_detected_at", "src_ip", "dst_ip",
		"src_port", "dst_port", "protocol", "host", "custom_fields",
		"priority", "priority_rank", "status", "attack_verdict", "incident", "origin",
		"duplicate_count", "closed_at", "version", "category_id", "site_id", "registered_by_id",
		"src_ip_key", "dst_ip_key", "host_key", // what the Ticket's hook derives (COPY bypasses it)
	}
	eventColumns = []string{"kind", "created_at", "ticket_number", "site_id", "changes", "ticket_id", "actor_id", "status"}
)

// pgWorkers is the number of concurrent COPY transactions. The load is bound
// by the server's CPU (index maintenance and foreign key checks), and
// generating is much cheaper, so two writers keep two cores busy.
var pgWorkers = 2

// copyTable is the rows of one table for COPY.
type copyTable struct {
	table   string
	columns []string
	rows    [][]any
}

func syntheticPostgres(ctx context.Context, db *sql.DB, g *generator, n int, p *progress) error {
	// Continue after the highest ticket id and the identity's last value (ids
	// are never reused), and reserve the range so that tickets created
	// meanwhile get numbers after it.
	var maxID, lastValue sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT (SELECT max(id) FROM tickets),
		pg_sequence_last_value(pg_get_serial_sequence('tickets', 'id')::regclass)`).Scan(&maxID, &lastValue)
	if err != nil {
		return fmt.Errorf("seed: reading the tickets' last id: %w", err)
	}
	first := ent.TicketIDFromNumber(1)
	if maxID.Valid && int(maxID.Int64) >= first {
		first = int(maxID.Int64) + 1
	}
	if lastValue.Valid && int(lastValue.Int64) >= first {
		first = int(lastValue.Int64) + 1
	}
	if _, err := db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('tickets', 'id'), $1)`, first+n-1); err != nil {
		return fmt.Errorf("seed: reserving ticket ids: %w", err)
	}

	err = pipeline(ctx, n, pgBatchSize, pgWorkers,
		func(off, k int) []copyTable { return copyRows(g.batch(off, k, n, first)) },
		func(tables []copyTable) error { return copyIn(ctx, db, tables) }, p)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))`); err != nil {
		return fmt.Errorf("seed: moving the tickets' id sequence: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM (ANALYZE) tickets, ticket_assignees, ticket_approvers, ticket_tags, ticket_events`); err != nil {
		return fmt.Errorf("seed: analyzing tables: %w", err)
	}
	return nil
}

// key is the pivot key fn derives from v, or NULL.
func key(fn func(string) (string, bool), v string) any {
	if k, ok := fn(v); ok {
		return k
	}
	return nil
}

// copyRows turns tickets into the rows of the tables COPY fills.
func copyRows(ts []*genTicket) []copyTable {
	tickets := copyTable{table: "tickets", columns: ticketColumns, rows: make([][]any, 0, len(ts))}
	assignees := copyTable{table: "ticket_assignees", columns: []string{"ticket_id", "user_id"}}
	approvers := copyTable{table: "ticket_approvers", columns: []string{"ticket_id", "user_id"}}
	tags := copyTable{table: "ticket_tags", columns: []string{"ticket_id", "tag_id"}}
	events := copyTable{table: "ticket_events", columns: eventColumns, rows: make([][]any, 0, 4*len(ts))}
	var buf []byte
	for _, t := range ts {
		id := int64(t.id)
		row := []any{
			id, t.createdAt, t.updatedAt, t.title, string(t.kind), t.body, string(t.bodyFormat),
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			string(t.priority), int64(priorityRank(t.priority)), string(t.status), nil, t.incident, string(t.origin),
			int64(t.duplicateCount), nil, int64(len(t.events)), int64(t.categoryID), int64(t.siteID), nil,
			nil, nil, nil,
		}
		if d := t.det; d != nil {
			row[7], row[8], row[9] = string(d.template), d.firstSeen, d.lastSeen
			row[10], row[11] = nullString(d.srcIP), nullString(d.dstIP)
			row[12], row[13] = nullInt(d.srcPort), nullInt(d.dstPort)
			row[14], row[15] = nullString(d.protocol), nullString(d.host)
			row[29], row[30], row[31] = key(netkey.IPKey, d.srcIP), key(netkey.IPKey, d.dstIP), key(netkey.HostKey, d.host)
			b, _ := json.Marshal(d.custom)
			row[16] = string(b)
		}
		if t.verdict != nil {
			row[20] = string(*t.verdict)
		}
		if t.closedAt != nil {
			row[24] = *t.closedAt
		}
		row[28] = nullInt(t.registeredBy)
		tickets.rows = append(tickets.rows, row)
		for _, u := range t.assignees {
			assignees.rows = append(assignees.rows, []any{id, int64(u)})
		}
		for _, u := range t.approvers {
			approvers.rows = append(approvers.rows, []any{id, int64(u)})
		}
		for _, tg := range t.tags {
			tags.rows = append(tags.rows, []any{id, int64(tg)})
		}
		number := int64(ent.TicketNumber(t.id))
		for _, e := range t.events {
			buf = appendChanges(buf[:0], e.changes)
			events.rows = append(events.rows, []any{
				string(e.kind), e.at, number, int64(t.siteID), string(buf), id, nullInt(e.actor), eventStatus(e.changes),
			})
		}
	}
	return []copyTable{tickets, assignees, approvers, tags, events}
}

// eventStatus is the status column of an event: the status it set, or NULL.
func eventStatus(changes []schematype.FieldChange) any {
	if st, ok := tickets.StatusSet(changes); ok {
		return string(st)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// copyIn writes the tables in one transaction, with one COPY each.
func copyIn(ctx context.Context, db *sql.DB, tables []copyTable) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: starting transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, events.RegisterWriterSQL); err != nil {
		return fmt.Errorf("seed: registering as a history writer: %w", err)
	}
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		if err := copyTableIn(ctx, tx, t); err != nil {
			return fmt.Errorf("seed: copying %s: %w", t.table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: committing: %w", err)
	}
	return nil
}

func copyTableIn(ctx context.Context, tx *sql.Tx, t copyTable) error {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = `"` + c + `"`
	}
	// The statement pq.CopyIn builds; lib/pq turns it into the COPY protocol.
	stmt, err := tx.PrepareContext(ctx, `COPY "`+t.table+`" (`+strings.Join(cols, ", ")+`) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("%w (COPY needs the github.com/lib/pq driver)", err)
	}
	defer stmt.Close()
	for _, row := range t.rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	return stmt.Close()
}

// appendChanges appends the JSON of a ticket event's changes, as
// encoding/json would write them, without reflection.
func appendChanges(b []byte, cs []schematype.FieldChange) []byte {
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = appendJSONString(b, string(c.Field))
		b = append(b, `,"from":`...)
		b = appendJSONValue(b, c.From)
		b = append(b, `,"to":`...)
		b = appendJSONValue(b, c.To)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, v)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
