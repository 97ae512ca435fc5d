-- The deployment train (docs/trains.md).
--
-- trains: a team's train, promoting from source_env to target_env on a cron schedule read
-- in time_zone; apps is a JSON array of app names in departure order ('[]': every app of
-- the team, by name); durations in seconds; held_until (micros, 0 for never) stops its
-- departures until then (`berth train freeze`).
CREATE TABLE trains (
    id               {{id}},
    team_id          BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    apps             TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    source_env       TEXT NOT NULL,
    target_env       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    announce_before  BIGINT NOT NULL,
    delay_step       BIGINT NOT NULL,
    max_delays       INTEGER NOT NULL,
    held_until       BIGINT NOT NULL DEFAULT 0,
    held_reason      TEXT NOT NULL DEFAULT '',
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (team_id, name)
);

-- train_runs: one departure of a train, for one slot of its schedule (once per slot);
-- departs_at is the slot after delays; cars a JSON array of berth.TrainCar, written in the
-- transaction that queues each car's promotion, so a departure resumed after a crash never
-- promotes a car twice.
CREATE TABLE train_runs (
    id           {{id}},
    train_id     BIGINT NOT NULL REFERENCES trains (id) ON DELETE CASCADE,
    slot         BIGINT NOT NULL,
    departs_at   BIGINT NOT NULL,
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    cars         TEXT NOT NULL DEFAULT '[]',
    delays       INTEGER NOT NULL DEFAULT 0,
    departed_by  TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    UNIQUE (train_id, slot)
);
CREATE INDEX train_runs_state ON train_runs (state, departs_at);

-- train_delays: each delay, counted per train and day (in the train's time zone); announced
-- once the train's channel was told.
CREATE TABLE train_delays (
    id          {{id}},
    train_id    BIGINT NOT NULL REFERENCES trains (id) ON DELETE CASCADE,
    run_id      BIGINT NOT NULL REFERENCES train_runs (id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    asked_by    TEXT NOT NULL,
    delay       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    announced   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX train_delays_day ON train_delays (train_id, day);

-- leases: work exactly one server does at a time (the train's schedule), held by holder
-- until expires_at (micros) and renewed while it works.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
