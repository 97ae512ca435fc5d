-- Git: an app's repository connection, and the webhook deliveries already taken.
--
-- app_repos: one connection per app. The forge token and the webhook secret are sealed
-- together (a JSON object) with the secrets key, bound to the app's row, in the three
-- columns Berth seals values into; repo is OWNER/NAME, by which a delivery finds its apps.
CREATE TABLE app_repos (
    app_id     BIGINT PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    forge      TEXT NOT NULL,
    url        TEXT NOT NULL,
    repo       TEXT NOT NULL,
    path       TEXT NOT NULL,
    branch     TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX app_repos_repo ON app_repos (forge, repo);

-- hook_deliveries: each delivery id a forge sent that Berth took, so a replay is refused.
CREATE TABLE hook_deliveries (
    forge       TEXT NOT NULL,
    delivery    TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (forge, delivery)
);
CREATE INDEX hook_deliveries_received ON hook_deliveries (received_at);
