-- Dashboard sessions. The browser's cookie holds a random secret; only its SHA-256 is
-- stored, so the table cannot be used to sign in. A session acts with the API token it was
-- signed in with and goes with it (a deleted user's tokens take their sessions along);
-- revocation and expiry of the token are checked on every request.

CREATE TABLE sessions (
    id            {{id}},
    hash          TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the cookie's secret
    token_id      BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,        -- for the idle limit; written about once a minute
    expires_at    BIGINT NOT NULL,        -- the absolute end
    ended_at      BIGINT                  -- signed out
);
CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
