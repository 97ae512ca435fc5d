-- Kubernetes events of the apps' objects (pods scheduled, images pulled, replica sets
-- scaled, probes failing), kept past the cluster's one-hour retention by the server's
-- event watcher (internal/service KeepClusterEvents).
--
-- One row per Kubernetes event (uid) in an environment: the cluster updates an event that
-- happens again (count, last seen), and so does the watcher, so a crash loop is one row, not
-- thousands. Team and app are names, not references: the server bounds the rows per app and
-- environment by count and age, and drops those of apps that no longer exist.
CREATE TABLE cluster_events (
    id        {{id}},
    env_id    BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    uid       TEXT NOT NULL,
    team      TEXT NOT NULL,
    app       TEXT NOT NULL,
    type      TEXT NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    object    TEXT NOT NULL,
    message   TEXT NOT NULL DEFAULT '',
    count     BIGINT NOT NULL,
    first_at  BIGINT NOT NULL,
    last_at   BIGINT NOT NULL,
    UNIQUE (env_id, uid)
);
CREATE INDEX cluster_events_app ON cluster_events (team, app, env_id, last_at);
CREATE INDEX cluster_events_last ON cluster_events (last_at);
