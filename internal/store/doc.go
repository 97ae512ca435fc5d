// Package store owns Berth's persistent state: teams, users, API tokens and the dashboard
// sessions signed in with them, memberships, apps and their manifest revisions,
// environments, deploys, central config and secrets (versioned, secrets sealed with
// AES-256-GCM through internal/seal) and the hash-chained audit log.
//
// One Go implementation serves two databases: SQLite (modernc.org/sqlite, the default, a
// single file in the server's data directory) and PostgreSQL (pgx, for several server
// replicas). Queries are written once with `?` placeholders in SQL both databases accept;
// a small dialect layer rebinds placeholders, maps driver errors to [ErrConflict] and
// [ErrInvalid], and supplies the few clauses only PostgreSQL needs (row locks).
//
// Reads are methods of [Store]. Changes happen only inside [Store.Tx], whose [Tx] also
// offers every read, so that a change and its audit event ([Tx.AppendAudit]) commit or roll
// back together.
//
// Times are stored as integer microseconds since the Unix epoch (UTC) in both databases:
// exact round trips keep audit hashes stable, and range filters stay plain integer
// comparisons.
package store
