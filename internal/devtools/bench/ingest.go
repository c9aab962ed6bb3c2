package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Ingestion: events per second through POST /ingest/{rule}, each event
// its own request and transaction, new attacks and repeats of one apart.

const ingestRule = "bench-ingest"

// ingestBatch is the array size of ingest-new-batch.
const ingestBatch = 20

// ingestState is the rule the ingestion scenarios send through, made on
// first use.
type ingestState struct {
	once   sync.Once
	err    error
	url    string
	ruleID int
	catID  int
	seq    atomic.Int64
	sqlSeq atomic.Int64
}

func (f *Fixture) ingestSetup(ctx context.Context) (*ingestState, error) {
	st := f.ingest
	st.once.Do(func() {
		if st.err = f.DB.QueryRowContext(ctx, `SELECT id FROM categories WHERE workflow <> 'TASK' ORDER BY id LIMIT 1`).Scan(&st.catID); st.err != nil {
			return
		}
		var out struct {
			CreateDetectionRule struct{ ID string } `json:"createDetectionRule"`
		}
		st.err = f.GQL.do(ctx, `mutation($in: DetectionRuleInput!) { createDetectionRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"key": ingestRule, "name": "Bench scan", "categoryID": gid(st.catID), "siteID": gid(f.SiteID), "priority": "HIGH",
			"dedupFields": []string{"src.ip", "dst.ip", "attack"}, "titleTemplate": "Scan from {{.src.ip}}", "evidenceBound": 100,
			"paths": map[string]any{"sourceIP": "src.ip", "destinationIP": "dst.ip", "sourcePort": "src.port", "destinationPort": "dst.port", "protocol": "proto"},
		}}, &out)
		if st.err == nil {
			st.err = f.DB.QueryRowContext(ctx, `SELECT id FROM detection_rules WHERE key = $1`, ingestRule).Scan(&st.ruleID)
		}
	})
	return st, st.err
}

func benchEvent(attack string, n int64) map[string]any {
	return map[string]any{"attack": attack, "seq": n, "proto": "tcp",
		"src": map[string]any{"ip": fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255), "port": 40000 + n%1000},
		"dst": map[string]any{"ip": "192.0.2.10", "port": 443}}
}

func (f *Fixture) postEvent(ctx context.Context, st *ingestState, ev any) error {
	b, _ := json.Marshal(ev)
	c := f.gql(ctx) // the counting run's server has its own
	url := strings.TrimSuffix(c.url, "/graphql") + "/ingest/" + ingestRule
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /ingest: %d %s", resp.StatusCode, body)
	}
	return nil
}

// IngestScenarios are ingest-new (every event a new attack: a ticket) and
// ingest-duplicate (each worker repeats its own attack: counted on one
// ticket per worker, the evidence bound reached).
func (f *Fixture) IngestScenarios() []Scenario {
	if f.ingest == nil {
		f.ingest = &ingestState{}
	}
	newOp := func(ctx context.Context, w, i int) error {
		st, err := f.ingestSetup(ctx)
		if err != nil {
			return err
		}
		n := st.seq.Add(1)
		return f.postEvent(ctx, st, benchEvent(fmt.Sprintf("new-%d", n), n))
	}
	dupOp := func(ctx context.Context, w, i int) error {
		st, err := f.ingestSetup(ctx)
		if err != nil {
			return err
		}
		return f.postEvent(ctx, st, benchEvent(fmt.Sprintf("dup-%d", w), int64(w)))
	}
	return []Scenario{
		{Name: "ingest-new", What: "POST /ingest/{rule}, one event a request, each a new attack (a DETECTION ticket, its evidence, fingerprint and history); floor: INSERT fingerprint, ticket, evidence, history in one transaction",
			GraphQL: newOp, SQL: func(ctx context.Context, w, i int) error {
				return f.ingestSQL(ctx, fmt.Sprintf("sql-new-%d", f.ingest.sqlSeq.Add(1)))
			}},
		{Name: "ingest-new-batch", What: fmt.Sprintf("POST /ingest/{rule} with an array of %d new attacks (one transaction): events/s = req/s × %[1]d; floor: the same statements for the %[1]d events in one transaction", ingestBatch),
			GraphQL: func(ctx context.Context, w, i int) error {
				st, err := f.ingestSetup(ctx)
				if err != nil {
					return err
				}
				evs := make([]any, ingestBatch)
				for j := range evs {
					n := st.seq.Add(1)
					evs[j] = benchEvent(fmt.Sprintf("new-%d", n), n)
				}
				return f.postEvent(ctx, st, evs)
			},
			SQL: func(ctx context.Context, w, i int) error {
				attacks := make([]string, ingestBatch)
				for j := range attacks {
					attacks[j] = fmt.Sprintf("sql-new-%d", f.ingest.sqlSeq.Add(1))
				}
				return f.ingestSQL(ctx, attacks...)
			}},
		{Name: "ingest-duplicate", What: "POST /ingest/{rule}, one event a request, each worker repeating its own attack (duplicateCount + 1, evidence appended past the bound of 100, DUPLICATE history); floor: the fingerprint row locked, UPDATE ticket, INSERT evidence and history",
			GraphQL: dupOp, SQL: func(ctx context.Context, w, i int) error { return f.ingestSQL(ctx, fmt.Sprintf("sql-dup-%d", w)) }},
	}
}

// ingestSQL is the floor of one event: the attack's fingerprint row
// inserted or locked, then a new ticket with its evidence and history, or
// the repeat counted on the ticket with its evidence and history.
func (f *Fixture) ingestSQL(ctx context.Context, attacks ...string) (err error) {
	st, err := f.ingestSetup(ctx)
	if err != nil {
		return err
	}
	tx, err := f.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, attack := range attacks {
		if err = f.ingestOneSQL(ctx, tx, st, attack); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (f *Fixture) ingestOneSQL(ctx context.Context, tx *sql.Tx, st *ingestState, attack string) (err error) {
	h := sha256.Sum256([]byte(attack))
	fp := hex.EncodeToString(h[:])
	if _, err = tx.ExecContext(ctx, `INSERT INTO detection_fingerprints (rule_id, fingerprint, last_seen_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING`, st.ruleID, fp); err != nil {
		return err
	}
	var fpID int
	var ticketID *int
	if err = tx.QueryRowContext(ctx, `SELECT id, ticket_id FROM detection_fingerprints WHERE rule_id = $1 AND fingerprint = $2 FOR UPDATE`, st.ruleID, fp).Scan(&fpID, &ticketID); err != nil {
		return err
	}
	record, _ := json.Marshal(benchEvent(attack, 1))
	var id int
	if ticketID == nil {
		err = tx.QueryRowContext(ctx, `INSERT INTO tickets (created_at, updated_at, title, kind, body, body_format, category_id, site_id, priority, priority_rank, status, incident, origin, registered_by_id, duplicate_count, version, detection_template, src_ip, dst_ip, evidence_dropped)
			VALUES (now(), now(), $1, 'DETECTION', '', 'JSON', $2, $3, 'HIGH', 1, 'NEW', false, 'SYSTEM', $4, 0, 1, 'NETWORK', '10.0.0.1', '192.0.2.10', 0) RETURNING id`,
			"Scan "+attack, st.catID, f.SiteID, f.AdminID).Scan(&id)
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE detection_fingerprints SET ticket_id = $1, last_seen_at = now() WHERE id = $2`, id, fpID)
		}
	} else {
		id = *ticketID
		if _, err = tx.ExecContext(ctx, `UPDATE tickets SET duplicate_count = duplicate_count + 1, last_detected_at = now(), version = version + 1, updated_at = now() WHERE id = $1`, id); err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE detection_fingerprints SET last_seen_at = now() WHERE id = $1`, fpID)
		}
	}
	if err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO evidences (ticket_id, record, created_at) VALUES ($1, $2, now())`, id, string(record)); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO ticket_events (kind, created_at, ticket_number, site_id, changes, ticket_id, actor_id) VALUES ('DUPLICATE', now(), $1, $2, '[]', $3, $4)`,
		id-f.NumberOffset, f.SiteID, id, f.AdminID); err != nil {
		return err
	}
	return nil
}
