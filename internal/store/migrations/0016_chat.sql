-- The chat bot (docs/chat.md).
--
-- chat_links: a chat user (Slack's user id, per workspace) linked to a Berth user by a
-- platform admin (`berth users link-chat`); without a link the bot takes the Berth user
-- whose email the chat service says the chat user verified.
CREATE TABLE chat_links (
    provider    TEXT NOT NULL,
    chat_user   TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, chat_user)
);

-- chat_requests: the SHA-256 of each key a chat request came with (its signature, an
-- event's id), taken once (a replay or a retry is refused), kept until expires_at.
CREATE TABLE chat_requests (
    provider     TEXT NOT NULL,
    signature    TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, signature)
);
CREATE INDEX chat_requests_expires ON chat_requests (expires_at);

-- teams.chat_channel: where the bot announces the team's deploys ('' for nowhere).
ALTER TABLE teams ADD COLUMN chat_channel TEXT NOT NULL DEFAULT '';

-- chat_messages: the one message the bot keeps per deploy, updated in place as the deploy
-- goes on: where it is (provider, channel, ts) and the deploy state it last showed.
CREATE TABLE chat_messages (
    deploy_id   BIGINT PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    provider    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    shown       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
