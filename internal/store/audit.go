package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// genesisHash is the prev_hash of the first event.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditRow is an audit event as stored: the fields the hash covers, in stored form.
type auditRow struct {
	id                                          int64
	at                                          int64 // microseconds since the epoch
	actor, action, target, team, app, requestID string
	outcome, details, prevHash, hash            string
}

// hashAuditRow returns the hash that chains r to its predecessor:
//
//	hex(SHA-256("berth-audit-v1\n" + f(id) + f(occurred_at) + f(actor) + f(action) + f(target)
//	            + f(team) + f(app) + f(request_id) + f(outcome) + f(details) + f(prev_hash)))
//
// where f(v) is the netstring "<byte length>:<v>," of the field's stored text (integers in
// decimal). Length prefixes make the encoding unambiguous, so that no two different rows
// hash the same input; anyone can recompute it from a database dump.
func hashAuditRow(r auditRow) string {
	h := sha256.New()
	h.Write([]byte("berth-audit-v1\n"))
	for _, f := range []string{
		strconv.FormatInt(r.id, 10), strconv.FormatInt(r.at, 10),
		r.actor, r.action, r.target, r.team, r.app, r.requestID, r.outcome, r.details, r.prevHash,
	} {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
		h.Write([]byte{','})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func validateAuditEvent(ev berth.AuditEvent) error {
	if err := validateText("actor", ev.Actor, 254); err != nil {
		return err
	}
	if err := validateText("action", ev.Action, 128); err != nil {
		return err
	}
	if len(ev.Target) > 1024 || len(ev.Team) > 63 || len(ev.App) > 63 || len(ev.RequestID) > 128 {
		return invalid("event", "target, team, app or request id is too long")
	}
	switch ev.Outcome {
	case berth.OutcomeSuccess, berth.OutcomeDenied, berth.OutcomeFailure:
	default:
		return invalid("outcome", "%q is not one of success, denied, failure", ev.Outcome)
	}
	return nil
}

// AppendAudit appends ev to the audit log, linked into the hash chain, and returns it with
// its ID, Time (the transaction's clock when ev.Time is zero), PrevHash and Hash.
//
// The append locks the chain's head until the transaction ends, so that concurrent
// appends form one chain; call it as the last statement of a transaction, to hold that
// lock briefly.
func (tx *Tx) AppendAudit(ctx context.Context, ev berth.AuditEvent) (berth.AuditEvent, error) {
	if err := validateAuditEvent(ev); err != nil {
		return berth.AuditEvent{}, fmt.Errorf("append audit event %q: %w", ev.Action, err)
	}
	details := []byte("{}")
	if len(ev.Details) > 0 {
		var err error
		// encoding/json sorts map keys: equal details are stored as equal text.
		if details, err = json.Marshal(ev.Details); err != nil {
			return berth.AuditEvent{}, fmt.Errorf("append audit event %q: %w", ev.Action, invalid("details", "%v", err))
		}
	}
	if ev.Time.IsZero() {
		ev.Time = tx.stamp()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)

	var lastID int64
	var lastHash string
	if err := tx.queryRow(ctx, "SELECT last_id, last_hash FROM audit_head WHERE id = 1"+tx.d.forUpdate).
		Scan(&lastID, &lastHash); err != nil {
		return berth.AuditEvent{}, fmt.Errorf("append audit event %q: read chain head: %w", ev.Action, err)
	}
	r := auditRow{
		id: lastID + 1, at: micros(ev.Time),
		actor: ev.Actor, action: ev.Action, target: ev.Target, team: ev.Team, app: ev.App,
		requestID: ev.RequestID, outcome: string(ev.Outcome), details: string(details), prevHash: lastHash,
	}
	r.hash = hashAuditRow(r)
	if _, err := tx.exec(ctx, `INSERT INTO audit_events
		(id, occurred_at, actor, action, target, team, app, request_id, outcome, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.id, r.at, r.actor, r.action, r.target, r.team, r.app, r.requestID, r.outcome, r.details, r.prevHash, r.hash); err != nil {
		return berth.AuditEvent{}, fmt.Errorf("append audit event %q: %w", ev.Action, dbErr(err))
	}
	if _, err := tx.exec(ctx, "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1", r.id, r.hash); err != nil {
		return berth.AuditEvent{}, fmt.Errorf("append audit event %q: move chain head: %w", ev.Action, err)
	}
	ev.ID, ev.PrevHash, ev.Hash = r.id, r.prevHash, r.hash
	return ev, nil
}

const auditColumns = "id, occurred_at, actor, action, target, team, app, request_id, outcome, details, prev_hash, hash"

func scanAuditRow(sc scanner) (auditRow, error) {
	var r auditRow
	err := sc.Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.team, &r.app, &r.requestID,
		&r.outcome, &r.details, &r.prevHash, &r.hash)
	return r, err
}

func scanAuditEvent(sc scanner) (berth.AuditEvent, error) {
	r, err := scanAuditRow(sc)
	if err != nil {
		return berth.AuditEvent{}, err
	}
	ev := berth.AuditEvent{
		ID: r.id, Time: fromMicros(r.at), Actor: r.actor, Action: r.action, Target: r.target,
		Team: r.team, App: r.app, RequestID: r.requestID, Outcome: berth.Outcome(r.outcome),
		PrevHash: r.prevHash, Hash: r.hash,
	}
	if r.details != "{}" {
		if err := json.Unmarshal([]byte(r.details), &ev.Details); err != nil {
			return berth.AuditEvent{}, fmt.Errorf("audit event %d: details are not a JSON object: %w", r.id, err)
		}
	}
	return ev, nil
}

// ListAudit returns the events f selects, newest first.
func (q queries) ListAudit(ctx context.Context, f berth.AuditFilter) ([]berth.AuditEvent, error) {
	var where []string
	var args []any
	for _, c := range []struct {
		col, val string
	}{{"team", f.Team}, {"app", f.App}, {"actor", f.Actor}} {
		if c.val != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.val)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "occurred_at >= ?"), append(args, micros(f.Since))
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = berth.DefaultAuditLimit
	case limit > berth.MaxAuditLimit:
		limit = berth.MaxAuditLimit
	}
	query := "SELECT " + auditColumns + " FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	evs, err := list(ctx, q, scanAuditEvent, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return evs, nil
}
