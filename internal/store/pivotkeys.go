package store

import (
	"context"
	"database/sql"
	"fmt"

	"socdesk/internal/netkey"
)

// pivotKeyBatch is how many tickets one transaction of the backfill keys.
const pivotKeyBatch = 1000

// backfillPivotKeys gives the tickets written before the pivots' keys
// existed (migration 20261202072004) their keys, as the Ticket's hook
// computes them for every write since (package netkey): in batches of
// pivotKeyBatch tickets, each its own transaction, so it resumes where a
// stopped start left it. Idempotent: it keys only a field whose key is
// missing, and a value that is no IP stays without one (it is looked at
// once per start). Raw SQL, not ent: this derives columns, it changes no
// ticket (no version, no history).
func (s *Store) backfillPivotKeys(ctx context.Context) error {
	after := 0
	for {
		rows, err := s.DB.QueryContext(ctx, `SELECT id, src_ip, dst_ip, host FROM tickets
			WHERE id > $1 AND ((src_ip <> '' AND src_ip_key IS NULL) OR (dst_ip <> '' AND dst_ip_key IS NULL) OR (host <> '' AND host_key IS NULL))
			ORDER BY id LIMIT $2`, after, pivotKeyBatch)
		if err != nil {
			return fmt.Errorf("backfilling pivot keys: %w", err)
		}
		type keys struct {
			id             int
			src, dst, host sql.NullString
		}
		var batch []keys
		n := 0
		for rows.Next() {
			var (
				k              keys
				src, dst, host sql.NullString
			)
			if err := rows.Scan(&k.id, &src, &dst, &host); err != nil {
				rows.Close()
				return err
			}
			n++
			after = k.id
			k.src.String, k.src.Valid = netkey.IPKey(src.String)
			k.dst.String, k.dst.Valid = netkey.IPKey(dst.String)
			k.host.String, k.host.Valid = netkey.HostKey(host.String)
			if k.src.Valid || k.dst.Valid || k.host.Valid {
				batch = append(batch, k)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			tx, err := s.DB.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for _, k := range batch {
				if _, err := tx.ExecContext(ctx, `UPDATE tickets SET src_ip_key = $1, dst_ip_key = $2, host_key = $3 WHERE id = $4`,
					k.src, k.dst, k.host, k.id); err != nil {
					_ = tx.Rollback()
					return fmt.Errorf("backfilling pivot keys of ticket %d: %w", k.id, err)
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		if n < pivotKeyBatch {
			return nil
		}
	}
}
