package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// LinkChat links the chat user chatUser of provider (a Slack user id) to the Berth user
// called user, replacing an earlier link of that chat user.
func (tx *Tx) LinkChat(ctx context.Context, provider, chatUser, user, by string) error {
	if err := validateText("provider", provider, 32); err != nil {
		return err
	}
	if err := validateText("chat_user", chatUser, 64); err != nil {
		return err
	}
	u, err := tx.User(ctx, user)
	if err != nil {
		return fmt.Errorf("link chat user: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO chat_links (provider, chat_user, user_id, created_by, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (provider, chat_user) DO UPDATE SET user_id = excluded.user_id, created_by = excluded.created_by,
			created_at = excluded.created_at`, provider, chatUser, u.ID, by, micros(tx.stamp())); err != nil {
		return fmt.Errorf("link chat user %s: %w", chatUser, dbErr(err))
	}
	return nil
}

// ChatUser returns the Berth user the chat user chatUser of provider is linked to.
func (q queries) ChatUser(ctx context.Context, provider, chatUser string) (berth.User, error) {
	u, err := scanUser(q.queryRow(ctx, "SELECT u.id, u.name, u.email, u.is_admin, u.created_at FROM chat_links l "+
		"JOIN users u ON u.id = l.user_id WHERE l.provider = ? AND l.chat_user = ?", provider, chatUser))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("chat user", provider+"/"+chatUser)
	}
	if err != nil {
		return u, fmt.Errorf("get chat user: %w", dbErr(err))
	}
	return u, nil
}

// UserByEmail returns the user whose email is email, ignoring case.
func (q queries) UserByEmail(ctx context.Context, email string) (berth.User, error) {
	if strings.TrimSpace(email) == "" {
		return berth.User{}, notFound("user with email", email)
	}
	u, err := scanUser(q.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE email <> '' AND lower(email) = lower(?)", email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user with email", email)
	}
	if err != nil {
		return u, fmt.Errorf("get user by email: %w", dbErr(err))
	}
	return u, nil
}

// TakeChatRequest records that a chat request whose key (a signature, an event id) has
// the SHA-256 sig arrived at, to be remembered for keep, or returns berth.ErrConflict when
// one did already: each key is accepted once. Keys past their time are forgotten (the chat
// service's signing window refuses their requests by then).
func (tx *Tx) TakeChatRequest(ctx context.Context, provider, sig string, at time.Time, keep time.Duration) error {
	if err := validateSHA256("signature", sig); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM chat_requests WHERE expires_at < ?", micros(at)); err != nil {
		return fmt.Errorf("prune chat requests: %w", dbErr(err))
	}
	res, err := tx.exec(ctx, `INSERT INTO chat_requests (provider, signature, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (provider, signature) DO NOTHING`, provider, sig, micros(at.Add(keep)))
	if err != nil {
		return fmt.Errorf("take chat request: %w", dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("a chat request with this signature was taken already (a replay): %w", berth.ErrConflict)
	}
	return nil
}

// SetTeamChatChannel sets where the bot announces team's deploys ("" for nowhere).
func (tx *Tx) SetTeamChatChannel(ctx context.Context, team, channel string) error {
	if len(channel) > 64 || strings.ContainsFunc(channel, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return invalid("chatChannel", "%q is no chat channel id (at most 64 characters, no spaces)", channel)
	}
	res, err := tx.exec(ctx, "UPDATE teams SET chat_channel = ? WHERE name = ?", channel, team)
	if err != nil {
		return fmt.Errorf("set chat channel of team %q: %w", team, dbErr(err))
	}
	return mustAffect(res, notFound("team", team))
}

// ChatMessage is the message the bot keeps for one deploy.
type ChatMessage struct {
	Deploy            int64
	Provider, Channel string
	TS                string
	// Shown is the deploy's state the message last showed (a final one: it is done).
	Shown string
}

// DeployChatMessage returns the message the bot keeps for deploy id.
func (q queries) DeployChatMessage(ctx context.Context, id int64) (ChatMessage, error) {
	var m ChatMessage
	err := q.queryRow(ctx, "SELECT deploy_id, provider, channel, ts, shown FROM chat_messages WHERE deploy_id = ?", id).
		Scan(&m.Deploy, &m.Provider, &m.Channel, &m.TS, &m.Shown)
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("chat message of deploy", fmt.Sprint(id))
	}
	if err != nil {
		return m, fmt.Errorf("get chat message of deploy %d: %w", id, dbErr(err))
	}
	return m, nil
}

// SaveChatMessage records (or updates) the message the bot keeps for m.Deploy.
func (tx *Tx) SaveChatMessage(ctx context.Context, m ChatMessage) error {
	if _, err := tx.exec(ctx, `INSERT INTO chat_messages (deploy_id, provider, channel, ts, shown, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (deploy_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, shown = excluded.shown,
			updated_at = excluded.updated_at`, m.Deploy, m.Provider, m.Channel, m.TS, m.Shown, micros(tx.stamp())); err != nil {
		return fmt.Errorf("save chat message of deploy %d: %w", m.Deploy, dbErr(err))
	}
	return nil
}

// StaleChatMessages returns the deploys whose message shows a state they have left: what
// a server that was down missed.
func (q queries) StaleChatMessages(ctx context.Context, limit int) ([]int64, error) {
	ids, err := list(ctx, q, func(sc scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, `SELECT m.deploy_id FROM chat_messages m JOIN deploys d ON d.id = m.deploy_id WHERE m.shown <> d.state
		ORDER BY m.deploy_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list stale chat messages: %w", dbErr(err))
	}
	return ids, nil
}

// DeployEventsSince returns the events of every deploy with ids above after, oldest first,
// at most limit.
func (q queries) DeployEventsSince(ctx context.Context, after int64, limit int) ([]berth.DeployEvent, error) {
	return list(ctx, q, func(sc scanner) (berth.DeployEvent, error) {
		var ev berth.DeployEvent
		var at int64
		err := sc.Scan(&ev.ID, &ev.DeployID, &at, &ev.Phase, &ev.Message, &ev.Desired, &ev.Updated, &ev.Ready, &ev.Available)
		ev.At = fromMicros(at)
		return ev, err
	}, `SELECT id, deploy_id, at, phase, message, desired, updated, ready, available FROM deploy_events
		WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// LastDeployEvent returns the id of the newest deploy event (0: none).
func (q queries) LastDeployEvent(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := q.queryRow(ctx, "SELECT MAX(id) FROM deploy_events").Scan(&id); err != nil {
		return 0, fmt.Errorf("last deploy event: %w", dbErr(err))
	}
	return id.Int64, nil
}

// ClaimChatMessage reserves the posting of deploy's message for the caller, and reports
// whether it did: of servers sharing a database, only one posts it; the others find it
// claimed (with no ts until it is posted) and leave it.
func (tx *Tx) ClaimChatMessage(ctx context.Context, deploy int64, provider, channel string) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO chat_messages (deploy_id, provider, channel, ts, shown, updated_at) VALUES (?, ?, ?, '', '', ?)
		ON CONFLICT (deploy_id) DO NOTHING`, deploy, provider, channel, micros(tx.stamp()))
	if err != nil {
		return false, fmt.Errorf("claim chat message of deploy %d: %w", deploy, dbErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeploysSince returns the ids of deploys above after, oldest first, at most limit; and
// (after < 0) the newest id now, to start from there.
func (q queries) DeploysSince(ctx context.Context, after int64, limit int) ([]int64, int64, error) {
	if after < 0 {
		var id sql.NullInt64
		if err := q.queryRow(ctx, "SELECT MAX(id) FROM deploys").Scan(&id); err != nil {
			return nil, 0, fmt.Errorf("last deploy: %w", dbErr(err))
		}
		return nil, id.Int64, nil
	}
	ids, err := list(ctx, q, func(sc scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, "SELECT id FROM deploys WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, after, fmt.Errorf("list new deploys: %w", dbErr(err))
	}
	if len(ids) > 0 {
		after = ids[len(ids)-1]
	}
	return ids, after, nil
}

// ReleaseChatMessage lets go of a claim on deploy's message that was never posted.
func (tx *Tx) ReleaseChatMessage(ctx context.Context, deploy int64) error {
	if _, err := tx.exec(ctx, "DELETE FROM chat_messages WHERE deploy_id = ? AND ts = ''", deploy); err != nil {
		return fmt.Errorf("release chat message of deploy %d: %w", deploy, dbErr(err))
	}
	return nil
}

// UnlinkChat removes the link of the chat user chatUser of provider; none is ErrNotFound.
func (tx *Tx) UnlinkChat(ctx context.Context, provider, chatUser string) error {
	res, err := tx.exec(ctx, "DELETE FROM chat_links WHERE provider = ? AND chat_user = ?", provider, chatUser)
	if err != nil {
		return fmt.Errorf("unlink chat user %s: %w", chatUser, dbErr(err))
	}
	return mustAffect(res, notFound("chat link", provider+"/"+chatUser))
}

// ChatUserByEmail returns the provider's chat user linked to the Berth user whose email is
// email (ignoring case), for pinging a commit's author.
func (q queries) ChatUserByEmail(ctx context.Context, provider, email string) (string, error) {
	var id string
	err := q.queryRow(ctx, `SELECT l.chat_user FROM chat_links l JOIN users u ON u.id = l.user_id
		WHERE l.provider = ? AND u.email <> '' AND lower(u.email) = lower(?) ORDER BY l.created_at LIMIT 1`, provider, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("chat user with email", email)
	}
	if err != nil {
		return "", fmt.Errorf("chat user by email: %w", dbErr(err))
	}
	return id, nil
}
