// Package deploy is the deploy engine. Workers claim queued deploys from the store under a
// lease and take each one through render → store the objects → apply → prune → watch the
// rollout, to exactly one final state; a failed rollout queues an automatic rollback to the
// last good deploy, unless the deploy (--no-auto-rollback) or the app's manifest
// (deploy.autoRollback: false) turned that off. A worker that dies leaves its deploy to be
// reclaimed when the lease expires; every step is safe to repeat (rendering is pure,
// server-side apply idempotent).
package deploy
