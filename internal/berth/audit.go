package berth

import (
	"fmt"
	"time"
)

// Outcome is how an audited call ended.
type Outcome string

// The outcomes of an audited call.
const (
	OutcomeSuccess Outcome = "success" // the change was made
	OutcomeDenied  Outcome = "denied"  // authorization refused it
	OutcomeFailure Outcome = "failure" // it was allowed but failed
)

// AuditEvent is one entry of the append-only audit log. Details must never hold a secret
// value: names, versions and ids only.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Actor     string // user name, or "system"
	Action    string // e.g. "team.create", "token.revoke"
	Target    string // what was acted on, e.g. "team/insights"
	Team      string // the team the target belongs to
	App       string // the app the target belongs to
	RequestID string
	Outcome   Outcome
	Details   map[string]any
	PrevHash  string
	Hash      string
}

// AuditProblemKind says what a verification of the audit log found wrong.
type AuditProblemKind string

// The kinds of audit log tampering a verification tells apart.
const (
	// AuditEdited: a row's fields no longer match its hash, or the last row was rewritten
	// with a recomputed hash (it no longer matches the chain head).
	AuditEdited AuditProblemKind = "edited"
	// AuditDeleted: ids that were appended are missing.
	AuditDeleted AuditProblemKind = "deleted"
	// AuditInserted: a row that was never appended — beyond the chain head, or with an id
	// out of sequence.
	AuditInserted AuditProblemKind = "inserted"
	// AuditBrokenLink: a row's prev_hash is not its predecessor's hash, though both rows
	// match their own hashes: the predecessor was rewritten and re-hashed, or this row was
	// replaced by one with a forged link.
	AuditBrokenLink AuditProblemKind = "broken-link"
)

// AuditProblem is one finding of an audit log verification: which event, what kind, and
// the evidence.
type AuditProblem struct {
	ID     int64 // the event's id; for a run of deleted events, the first
	Kind   AuditProblemKind
	Detail string
}

func (p AuditProblem) String() string {
	return fmt.Sprintf("audit event %d: %s: %s", p.ID, p.Kind, p.Detail)
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Team  string
	App   string
	Actor string
	Since time.Time // events at or after Since
	// BeforeID pages backwards: only events with a smaller id, e.g. the oldest id of the
	// previous page.
	BeforeID int64
	// Limit caps the number of events: DefaultAuditLimit when zero, at most MaxAuditLimit.
	Limit int
}

// Page sizes of an audit log listing.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)
