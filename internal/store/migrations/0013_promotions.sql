-- Promotions and approvals.
--
-- deploys.images: the digest of each image the deploy's pods run, as its images stage found
-- them in their registries (a JSON object: image as named -> sha256:...), '' when it did
-- not look; a promotion starts from its source's and pins them.
-- deploys.promoted_from: a promotion's source deploy, in the environment promoted from.
ALTER TABLE deploys ADD COLUMN images TEXT NOT NULL DEFAULT '';
ALTER TABLE deploys ADD COLUMN promoted_from BIGINT REFERENCES deploys (id);

-- approvals: a deploy to a protected environment that waits (state awaiting-approval) for
-- one of its allowed deployers, not its requester, to approve or reject it.
CREATE TABLE approvals (
    deploy_id    BIGINT PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decision     TEXT NOT NULL DEFAULT '',   -- '', approved, rejected
    decided_by   TEXT NOT NULL DEFAULT '',
    decided_at   BIGINT,
    reason       TEXT NOT NULL DEFAULT ''
);

-- hook_deliveries.body_sha256: a delivery's body is taken once too. The signature covers
-- the body only, not the delivery id, so the same signed body sent again under a new id
-- is a replay as much as the same id is.
ALTER TABLE hook_deliveries ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX hook_deliveries_body ON hook_deliveries (forge, body_sha256) WHERE body_sha256 <> '';
