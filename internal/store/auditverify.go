package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

// VerifyAudit walks the audit log in id order and recomputes its hash chain. It returns
// no problems for an intact log, and otherwise one problem for each edited, deleted,
// inserted or re-linked row. The walk reads one consistent snapshot, so appends running
// meanwhile are neither reported nor blocked.
//
// The chain cannot expose a rewrite that recomputes every later hash and the chain head
// too; that needs the head's hash kept outside the database (e.g. logged periodically).
func (s *Store) VerifyAudit(ctx context.Context) (checked int64, problems []berth.AuditProblem, err error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d == postgresDialect {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.rdb.BeginTx(ctx, opts)
	if err != nil {
		return 0, nil, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()
	q := queries{q: tx, d: s.d}

	var headID int64
	var headHash string
	if err := q.queryRow(ctx, "SELECT last_id, last_hash FROM audit_head WHERE id = 1").Scan(&headID, &headHash); err != nil {
		return 0, nil, fmt.Errorf("verify audit log: read chain head: %w", err)
	}
	rows, err := q.query(ctx, "SELECT "+auditColumns+" FROM audit_events ORDER BY id")
	if err != nil {
		return 0, nil, fmt.Errorf("verify audit log: %w", err)
	}
	defer rows.Close()

	report := func(id int64, kind berth.AuditProblemKind, format string, args ...any) {
		problems = append(problems, berth.AuditProblem{ID: id, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	prevID, prevHash, prevEdited := int64(0), genesisHash, false
	for rows.Next() {
		r, err := scanAuditRow(rows)
		if err != nil {
			return 0, nil, fmt.Errorf("verify audit log: %w", err)
		}
		checked++
		switch {
		case r.id <= 0:
			report(r.id, berth.AuditInserted, "id is out of sequence (ids start at 1)")
			continue
		case r.id > headID:
			report(r.id, berth.AuditInserted, "row is beyond the chain head (the last appended event is %d)", headID)
			continue
		}
		gap := r.id > prevID+1
		if gap {
			if r.id == prevID+2 {
				report(prevID+1, berth.AuditDeleted, "event is missing (event %d follows event %d)", r.id, prevID)
			} else {
				report(prevID+1, berth.AuditDeleted, "events %d to %d are missing", prevID+1, r.id-1)
			}
		}
		edited := hashAuditRow(r) != r.hash
		switch {
		case edited:
			report(r.id, berth.AuditEdited, "stored fields do not match the event's hash")
		case !gap && r.prevHash != prevHash:
			if prevID == 0 {
				report(r.id, berth.AuditBrokenLink, "the first event's prev_hash is not the genesis hash")
			} else {
				report(r.id, berth.AuditBrokenLink, "prev_hash does not match event %d's hash: event %d was rewritten with a recomputed hash, or event %d was replaced", prevID, prevID, r.id)
			}
		}
		prevID, prevHash, prevEdited = r.id, r.hash, edited
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("verify audit log: %w", err)
	}
	switch {
	case prevID < headID:
		if prevID+1 == headID {
			report(headID, berth.AuditDeleted, "the last appended event is missing")
		} else {
			report(prevID+1, berth.AuditDeleted, "events %d to %d, the end of the log, are missing", prevID+1, headID)
		}
	case headID > 0 && prevHash != headHash && !prevEdited:
		report(prevID, berth.AuditEdited, "hash differs from the chain head's: the event was rewritten with a recomputed hash")
	}
	return checked, problems, nil
}
