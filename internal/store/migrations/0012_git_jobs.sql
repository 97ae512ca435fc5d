-- The work webhooks ask for, and where a revision's manifest came from.
--
-- app_revisions.source: '' for a manifest sent by a user; for one read from a connected
-- repository, a JSON object (berth.GitSource: forge, repo, sha, ref, pr).
ALTER TABLE app_revisions ADD COLUMN source TEXT NOT NULL DEFAULT '';

-- git_jobs: one per delivery and connected app, queued in the transaction that took the
-- delivery (hook_deliveries), so a server killed after answering the forge still does the
-- work. Workers claim jobs under a lease, as deploys; a job that queued a deploy waits in
-- 'deploying' for it to end, to report the end on the commit, then is done. event is the
-- part of the payload Berth acts on (berth.GitEvent, JSON), never the whole payload.
CREATE TABLE git_jobs (
    id            {{id}},
    app_id        BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    forge         TEXT NOT NULL,
    delivery      TEXT NOT NULL,
    event         TEXT NOT NULL,
    state         TEXT NOT NULL,             -- queued, running, deploying, done, failed
    reason        TEXT NOT NULL DEFAULT '',
    deploy_id     BIGINT REFERENCES deploys (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_expires BIGINT NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX git_jobs_state ON git_jobs (state, id);
CREATE INDEX git_jobs_app ON git_jobs (app_id, id);
