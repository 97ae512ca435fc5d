// Package deploy is the deploy engine. Workers claim queued deploys from the store under a
// lease and take each one through an ordered list of stages (run.go: render and store the
// objects → resolve their secrets → apply → prune → wait for the rollout), to exactly one
// final state. Each stage records its own events and fails with a typed failure: terminal,
// a failed rollout (the one an automatic rollback can mend), or retry (a lost lease leaves
// the deploy to its next worker). A failed rollout queues an automatic rollback to the
// last good deploy, unless the deploy (--no-auto-rollback) or the app's manifest
// (deploy.autoRollback: false) turned that off. A worker that dies leaves its deploy to be
// reclaimed when the lease expires; every step is safe to repeat (rendering is pure,
// server-side apply idempotent).
package deploy
