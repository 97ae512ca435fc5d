package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// row is an audit_events row as stored.
type row struct {
	id, at                                               int64
	actor, action, target, team, app, requestID, outcome string
	details, prevHash, hash                              string
}

// hashRow recomputes an audit hash from the encoding documented in the store, as an
// outside verifier (or a forger) would.
func hashRow(r row) string {
	h := sha256.New()
	h.Write([]byte("berth-audit-v1\n"))
	for _, f := range []string{strconv.FormatInt(r.id, 10), strconv.FormatInt(r.at, 10),
		r.actor, r.action, r.target, r.team, r.app, r.requestID, r.outcome, r.details, r.prevHash} {
		fmt.Fprintf(h, "%d:%s,", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readRow(t *testing.T, st *store.Store, id int64) row {
	t.Helper()
	var r row
	err := st.DB().QueryRowContext(t.Context(), fmt.Sprintf(`SELECT id, occurred_at, actor, action, target, team, app,
		request_id, outcome, details, prev_hash, hash FROM audit_events WHERE id = %d`, id)).
		Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.team, &r.app, &r.requestID, &r.outcome, &r.details, &r.prevHash, &r.hash)
	must(t, fmt.Sprintf("read audit row %d", id), err)
	return r
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func insertRow(t *testing.T, st *store.Store, r row) {
	t.Helper()
	raw(t, st, fmt.Sprintf(`INSERT INTO audit_events (id, occurred_at, actor, action, target, team, app, request_id,
		outcome, details, prev_hash, hash) VALUES (%d, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)`,
		r.id, r.at, quote(r.actor), quote(r.action), quote(r.target), quote(r.team), quote(r.app), quote(r.requestID),
		quote(r.outcome), quote(r.details), quote(r.prevHash), quote(r.hash)))
}

// raw runs SQL on the database directly, past the store.
func raw(t *testing.T, st *store.Store, query string) {
	t.Helper()
	if _, err := st.DB().ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// allowTampering removes the triggers that keep audit_events append-only, as an attacker
// with database access could.
func allowTampering(t *testing.T, st *store.Store) {
	t.Helper()
	switch st.Dialect() {
	case store.DialectSQLite:
		raw(t, st, "DROP TRIGGER audit_events_no_update")
		raw(t, st, "DROP TRIGGER audit_events_no_delete")
	case store.DialectPostgres:
		raw(t, st, "ALTER TABLE audit_events DISABLE TRIGGER USER")
	default:
		t.Fatalf("unknown dialect %q", st.Dialect())
	}
}

func appendEvents(t *testing.T, st *store.Store, evs ...berth.AuditEvent) []berth.AuditEvent {
	t.Helper()
	var out []berth.AuditEvent
	for _, ev := range evs {
		tx(t, st, func(tx *store.Tx) error {
			got, err := tx.AppendAudit(t.Context(), ev)
			out = append(out, got)
			return err
		})
	}
	return out
}

func event(actor, action, target, team, app string) berth.AuditEvent {
	return berth.AuditEvent{Actor: actor, Action: action, Target: target, Team: team, App: app, Outcome: berth.OutcomeSuccess}
}

func testAudit(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	at := epoch.Add(-time.Hour).Add(123 * time.Nanosecond) // kept to the microsecond
	evs := appendEvents(t, st,
		berth.AuditEvent{Time: at, Actor: "ann", Action: "membership.set", Target: "team/web/member/bob", Team: "web",
			RequestID: "req-1", Outcome: berth.OutcomeSuccess, Details: map[string]any{"role": "deployer", "user": "bob"}},
		berth.AuditEvent{Actor: "bob", Action: "app.create", Target: "app/web/frontend", Team: "web", App: "frontend",
			Outcome: berth.OutcomeDenied},
		event("system", "server.start", "server", "", ""),
	)
	for i, ev := range evs {
		if ev.ID != int64(i+1) {
			t.Errorf("event %d has id %d", i, ev.ID)
		}
	}
	if !evs[0].Time.Equal(at.Truncate(time.Microsecond)) || !evs[1].Time.Equal(epoch) {
		t.Errorf("times = %v, %v; want %v and the clock's %v", evs[0].Time, evs[1].Time, at.Truncate(time.Microsecond), epoch)
	}
	if evs[0].PrevHash != genesis || evs[1].PrevHash != evs[0].Hash || evs[2].PrevHash != evs[1].Hash {
		t.Errorf("events are not chained: %+v", evs)
	}
	for _, ev := range evs {
		if r := readRow(t, st, ev.ID); hashRow(r) != ev.Hash {
			t.Errorf("event %d: hash %s does not follow the documented encoding (%s)", ev.ID, ev.Hash, hashRow(r))
		}
	}

	got, err := st.ListAudit(ctx, berth.AuditFilter{})
	must(t, "ListAudit", err)
	equal(t, "ListAudit", got, []berth.AuditEvent{evs[2], evs[1], evs[0]})
	checked, problems, err := st.VerifyAudit(ctx)
	must(t, "VerifyAudit", err)
	equal(t, "VerifyAudit of an intact log", problems, []berth.AuditProblem(nil))
	equal(t, "events VerifyAudit checked", checked, int64(len(evs)))
}

func testListAudit(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	step := func(ev berth.AuditEvent) berth.AuditEvent { h.clock.Advance(time.Minute); return ev }
	for _, ev := range []berth.AuditEvent{
		event("ann", "app.create", "app/web/frontend", "web", "frontend"),
		event("bob", "team.update", "team/web", "web", ""),
		event("ann", "app.create", "app/data/etl", "data", "etl"),
		event("system", "server.start", "server", "", ""),
	} {
		appendEvents(t, st, step(ev))
	}
	ids := func(f berth.AuditFilter) []int64 {
		t.Helper()
		evs, err := st.ListAudit(ctx, f)
		must(t, "ListAudit", err)
		var out []int64
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    berth.AuditFilter
		want []int64
	}{
		{"all", berth.AuditFilter{}, []int64{4, 3, 2, 1}},
		{"team", berth.AuditFilter{Team: "web"}, []int64{2, 1}},
		{"team and app", berth.AuditFilter{Team: "web", App: "frontend"}, []int64{1}},
		{"actor", berth.AuditFilter{Actor: "ann"}, []int64{3, 1}},
		{"since", berth.AuditFilter{Since: epoch.Add(3 * time.Minute)}, []int64{4, 3}},
		{"before id", berth.AuditFilter{BeforeID: 3}, []int64{2, 1}},
		{"limit", berth.AuditFilter{Limit: 2}, []int64{4, 3}},
		{"next page", berth.AuditFilter{Limit: 2, BeforeID: 3}, []int64{2, 1}},
		{"nothing", berth.AuditFilter{Team: "nope"}, nil},
	} {
		equal(t, "ListAudit "+tc.name, ids(tc.f), tc.want)
	}
}

func testAuditValidation(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	ok := event("ann", "team.create", "team/web", "web", "")
	for _, tc := range []struct {
		what string
		edit func(*berth.AuditEvent)
	}{
		{"no actor", func(ev *berth.AuditEvent) { ev.Actor = "" }},
		{"no action", func(ev *berth.AuditEvent) { ev.Action = "" }},
		{"no outcome", func(ev *berth.AuditEvent) { ev.Outcome = "" }},
		{"unknown outcome", func(ev *berth.AuditEvent) { ev.Outcome = "maybe" }},
		{"details not JSON", func(ev *berth.AuditEvent) { ev.Details = map[string]any{"f": func() {}} }},
		{"team too long", func(ev *berth.AuditEvent) { ev.Team = strings.Repeat("t", 64) }},
	} {
		ev := ok
		tc.edit(&ev)
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.AppendAudit(ctx, ev); return err })
		wantErr(t, "AppendAudit "+tc.what, err, berth.ErrInvalid)
	}
	// Refused events leave no trace: the next one is the first.
	got := appendEvents(t, st, ok)
	if got[0].ID != 1 || got[0].PrevHash != genesis {
		t.Errorf("first event after refusals = %+v", got[0])
	}
}

func testAuditAppendOnly(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	appendEvents(t, st, event("ann", "team.create", "team/web", "web", ""))
	for _, q := range []string{
		"UPDATE audit_events SET actor = 'mallory'",
		"DELETE FROM audit_events",
	} {
		if _, err := st.DB().ExecContext(ctx, q); err == nil {
			t.Errorf("%s: succeeded on the append-only audit log", q)
		}
	}
	if st.Dialect() == store.DialectPostgres {
		if _, err := st.DB().ExecContext(ctx, "TRUNCATE audit_events"); err == nil {
			t.Errorf("TRUNCATE succeeded on the append-only audit log")
		}
	}
	_, problems, err := st.VerifyAudit(ctx)
	must(t, "VerifyAudit", err)
	equal(t, "VerifyAudit", problems, []berth.AuditProblem(nil))
}

// testAuditTampering edits, deletes and inserts audit rows behind the store's back and
// checks that VerifyAudit reports each, at the right row.
func testAuditTampering(t *testing.T, h *harness) {
	type finding struct {
		ID   int64
		Kind berth.AuditProblemKind
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, st *store.Store)
		want   []finding
	}{
		{"edit", func(t *testing.T, st *store.Store) {
			raw(t, st, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3")
		}, []finding{{3, berth.AuditEdited}}},
		{"edit details", func(t *testing.T, st *store.Store) {
			raw(t, st, `UPDATE audit_events SET details = '{"role":"admin"}' WHERE id = 2`)
		}, []finding{{2, berth.AuditEdited}}},
		{"edit time", func(t *testing.T, st *store.Store) {
			raw(t, st, "UPDATE audit_events SET occurred_at = occurred_at + 1 WHERE id = 5")
		}, []finding{{5, berth.AuditEdited}}},
		{"edit and rehash", func(t *testing.T, st *store.Store) {
			r := readRow(t, st, 3)
			r.actor = "mallory"
			raw(t, st, fmt.Sprintf("UPDATE audit_events SET actor = 'mallory', hash = %s WHERE id = 3", quote(hashRow(r))))
		}, []finding{{4, berth.AuditBrokenLink}}},
		{"edit and rehash the last", func(t *testing.T, st *store.Store) {
			r := readRow(t, st, 6)
			r.outcome = "denied"
			raw(t, st, fmt.Sprintf("UPDATE audit_events SET outcome = 'denied', hash = %s WHERE id = 6", quote(hashRow(r))))
		}, []finding{{6, berth.AuditEdited}}},
		{"delete", func(t *testing.T, st *store.Store) {
			raw(t, st, "DELETE FROM audit_events WHERE id = 3")
		}, []finding{{3, berth.AuditDeleted}}},
		{"delete the first", func(t *testing.T, st *store.Store) {
			raw(t, st, "DELETE FROM audit_events WHERE id = 1")
		}, []finding{{1, berth.AuditDeleted}}},
		{"delete a run", func(t *testing.T, st *store.Store) {
			raw(t, st, "DELETE FROM audit_events WHERE id IN (2, 3, 4)")
		}, []finding{{2, berth.AuditDeleted}}},
		{"delete the last", func(t *testing.T, st *store.Store) {
			raw(t, st, "DELETE FROM audit_events WHERE id = 6")
		}, []finding{{6, berth.AuditDeleted}}},
		{"delete everything", func(t *testing.T, st *store.Store) {
			raw(t, st, "DELETE FROM audit_events")
		}, []finding{{1, berth.AuditDeleted}}},
		{"insert after the head", func(t *testing.T, st *store.Store) {
			last := readRow(t, st, 6)
			r := row{id: 7, at: last.at + 1, actor: "mallory", action: "app.delete", target: "app/web/x", team: "web",
				outcome: "success", details: "{}", prevHash: last.hash}
			r.hash = hashRow(r) // a well-forged row
			insertRow(t, st, r)
		}, []finding{{7, berth.AuditInserted}}},
		{"insert out of sequence", func(t *testing.T, st *store.Store) {
			r := row{id: 0, at: 1, actor: "mallory", action: "x", target: "x", outcome: "success", details: "{}", prevHash: genesis}
			r.hash = hashRow(r)
			insertRow(t, st, r)
		}, []finding{{0, berth.AuditInserted}}},
		{"replace", func(t *testing.T, st *store.Store) {
			prev := readRow(t, st, 2)
			r := readRow(t, st, 3)
			raw(t, st, "DELETE FROM audit_events WHERE id = 3")
			r.actor, r.prevHash = "mallory", prev.hash
			r.hash = hashRow(r)
			insertRow(t, st, r)
		}, []finding{{4, berth.AuditBrokenLink}}},
		{"edit, delete and insert", func(t *testing.T, st *store.Store) {
			raw(t, st, "UPDATE audit_events SET target = 'team/other' WHERE id = 2")
			raw(t, st, "DELETE FROM audit_events WHERE id = 4")
			insertRow(t, st, row{id: 9, at: 1, actor: "mallory", action: "x", target: "x", outcome: "success", details: "{}",
				prevHash: genesis, hash: genesis})
		}, []finding{{2, berth.AuditEdited}, {4, berth.AuditDeleted}, {9, berth.AuditInserted}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{newDSN: h.newDSN}
			st := h.store(t)
			for i := range 6 {
				h.clock.Advance(time.Second)
				appendEvents(t, st, berth.AuditEvent{Actor: "ann", Action: "app.deploy", Target: fmt.Sprintf("app/web/a%d", i),
					Team: "web", App: fmt.Sprintf("a%d", i), Outcome: berth.OutcomeSuccess, Details: map[string]any{"n": strconv.Itoa(i)}})
			}
			allowTampering(t, st)
			tc.tamper(t, st)
			_, problems, err := st.VerifyAudit(t.Context())
			must(t, "VerifyAudit", err)
			var got []finding
			for _, p := range problems {
				got = append(got, finding{p.ID, p.Kind})
				if p.Detail == "" || !strings.Contains(p.String(), strconv.FormatInt(p.ID, 10)) {
					t.Errorf("problem %+v does not explain itself", p)
				}
			}
			equal(t, "VerifyAudit findings", got, tc.want)
			if t.Failed() {
				for _, p := range problems {
					t.Log(p)
				}
			}
		})
	}
}
