package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// ChatWindow is how old a chat service's signed request may be: Slack's five minutes.
const ChatWindow = 5 * time.Minute

// ChatIdentity is who a chat service says sent a request: its user id there, and the email
// the service says that user verified ("" when it says none).
type ChatIdentity struct {
	Provider, User string
	Email          string
}

// chatActor is how a chat user appears in the audit log before they are known.
func chatActor(id ChatIdentity) string { return "chat:" + id.Provider + ":" + id.User }

// TakeChatRequest accepts a chat request's key once (its signature, an event's id): a
// second request with the same key (a replay, a retry) is berth.ErrConflict, audited as
// denied. Keys are kept for keep (at least twice ChatWindow: a timestamp may be five
// minutes either side of this clock). The adapter checked the signature and its time first.
func (s *Service) TakeChatRequest(ctx context.Context, provider, key string, keep time.Duration) error {
	sum := sha256.Sum256([]byte(key))
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		return tx.TakeChatRequest(ctx, provider, hex.EncodeToString(sum[:]), s.now(), max(keep, 2*ChatWindow))
	})
	if errors.Is(err, berth.ErrConflict) {
		s.AuditDenied(ctx, &authz.Principal{Name: "chat:" + provider}, "chat.receive", "chat/"+provider)
	}
	return storeErr(err)
}

// MaxChatRefusalAudits is how many refused chat requests a minute are audited one by one;
// past it, until the minute ends, they are counted, and the count audited with the next.
const MaxChatRefusalAudits = 30

// refusalLimiter counts the refused chat requests of the current minute.
type refusalLimiter struct {
	mu         sync.Mutex
	minute     time.Time
	n          int
	suppressed int
}

// take reports whether a refusal at now is audited, and how many were left out before it.
func (l *refusalLimiter) take(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := now.Truncate(time.Minute); !m.Equal(l.minute) {
		l.minute, l.n = m, 0
	}
	if l.n >= MaxChatRefusalAudits {
		l.suppressed++
		return false, 0
	}
	l.n++
	left := l.suppressed
	l.suppressed = 0
	return true, left
}

// RefuseChat audits a chat request refused before it reached the bot (a bad signature, a
// stale time, a body over the limit), with why: at most MaxChatRefusalAudits a minute one
// by one, since anyone can send them; the rest are counted into the next event, and logged.
func (s *Service) RefuseChat(ctx context.Context, provider, why string) {
	audited, left := s.refusals.take(s.now())
	if !audited {
		s.log.WarnContext(ctx, "chat request refused (not audited one by one: too many this minute)", "provider", provider, "reason", why)
		return
	}
	details := map[string]any{"reason": why}
	if left > 0 {
		details["refusedWithoutEvent"] = left
	}
	s.audit(ctx, &authz.Principal{Name: "chat:" + provider}, &change{action: "chat.receive", target: "chat/" + provider,
		details: details}, berth.OutcomeDenied)
}

// ChatPrincipal is the Berth user a chat user acts as: the one a platform admin linked
// (`berth users link-chat`), else the one whose email is the chat user's verified email.
// Neither is berth.ErrUnauthenticated, audited as denied, saying how to get linked.
func (s *Service) ChatPrincipal(ctx context.Context, id ChatIdentity) (*authz.Principal, error) {
	u, err := s.st.ChatUser(ctx, id.Provider, id.User)
	if errors.Is(err, berth.ErrNotFound) && id.Email != "" {
		u, err = s.st.UserByEmail(ctx, id.Email)
	}
	if errors.Is(err, berth.ErrNotFound) {
		s.AuditDenied(ctx, &authz.Principal{Name: chatActor(id)}, "chat.command", "chat/"+id.Provider)
		return nil, fmt.Errorf("%w: your %s user (%s) is linked to no Berth user, and no Berth user has your verified email: "+
			"a platform admin links you with `berth users link-chat USER --%s %s`", berth.ErrUnauthenticated, id.Provider, id.User, id.Provider, id.User)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	ms, err := s.st.Memberships(ctx, store.MembershipFilter{User: u.Name})
	if err != nil {
		return nil, storeErr(err)
	}
	return principalOf(berth.TokenAuth{User: u, Memberships: ms}), nil
}

// LinkChat links the chat user chatUser of provider to the Berth user called user (platform
// admins), audited.
func (s *Service) LinkChat(ctx context.Context, p *authz.Principal, user, provider, chatUser string) error {
	c := change{action: "user.link-chat", target: "user/" + user, details: map[string]any{"provider": provider, "chatUser": chatUser}}
	return s.mutate(ctx, p, &c, allowed(p, authz.UserCreate, authz.Resource{}), func(tx *store.Tx) error {
		return tx.LinkChat(ctx, provider, chatUser, user, p.Name)
	})
}

// ChatMessage is the message the bot keeps for one deploy.
type ChatMessage = store.ChatMessage

// SetTeamChatChannel sets where the bot announces team's deploys (team admins; "" for
// nowhere), audited.
func (s *Service) SetTeamChatChannel(ctx context.Context, p *authz.Principal, team, channel string) error {
	c := change{action: "team.chat-channel", target: "team/" + team, team: team, details: map[string]any{"channel": channel}}
	return s.mutate(ctx, p, &c, allowed(p, authz.MemberManage, authz.Resource{Team: team}), func(tx *store.Tx) error {
		return tx.SetTeamChatChannel(ctx, team, channel)
	})
}

// DeployNews is what the chat announcer reads: deploy events after after (at most limit),
// and, when after is negative, where the events end now (to start from there).
func (s *Service) DeployNews(ctx context.Context, after int64, limit int) ([]berth.DeployEvent, int64, error) {
	if after < 0 {
		last, err := s.st.LastDeployEvent(ctx)
		return nil, last, storeErr(err)
	}
	evs, err := s.st.DeployEventsSince(ctx, after, limit)
	if err != nil {
		return nil, after, storeErr(err)
	}
	if len(evs) > 0 {
		after = evs[len(evs)-1].ID
	}
	return evs, after, nil
}

// AutoRollbackOf returns the automatic rollback that answered the failed deploy
// (berth.ErrNotFound: none), for its message.
func (s *Service) AutoRollbackOf(ctx context.Context, failed berth.Deploy) (berth.Deploy, error) {
	d, err := s.st.AutoRollbackOf(ctx, failed)
	return d, storeErr(err)
}

// DeployForChat returns a deploy, its events and its team, for the message the bot keeps:
// the announcer's own read, not a user's.
func (s *Service) DeployForChat(ctx context.Context, id int64) (berth.Deploy, []berth.DeployEvent, berth.Team, error) {
	d, err := s.st.Deploy(ctx, id)
	if err != nil {
		return d, nil, berth.Team{}, storeErr(err)
	}
	evs, err := s.st.DeployEvents(ctx, id, 0)
	if err != nil {
		return d, nil, berth.Team{}, storeErr(err)
	}
	t, err := s.st.Team(ctx, d.Team)
	return d, evs, t, storeErr(err)
}

// DeployChatMessage returns the message the bot keeps for deploy id (berth.ErrNotFound
// before it posted one).
func (s *Service) DeployChatMessage(ctx context.Context, id int64) (ChatMessage, error) {
	m, err := s.st.DeployChatMessage(ctx, id)
	return m, storeErr(err)
}

// SaveDeployChatMessage records the message the bot keeps for m.Deploy.
func (s *Service) SaveDeployChatMessage(ctx context.Context, m ChatMessage) error {
	return storeErr(s.st.Tx(ctx, func(tx *store.Tx) error { return tx.SaveChatMessage(ctx, m) }))
}

// StaleChatMessages returns deploys whose message shows a state they have left.
func (s *Service) StaleChatMessages(ctx context.Context) ([]int64, error) {
	ids, err := s.st.StaleChatMessages(ctx, 100)
	return ids, storeErr(err)
}

// ClaimDeployChatMessage reserves the posting of deploy's message for this server.
func (s *Service) ClaimDeployChatMessage(ctx context.Context, deploy int64, provider, channel string) (bool, error) {
	var ok bool
	err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
		ok, err = tx.ClaimChatMessage(ctx, deploy, provider, channel)
		return err
	})
	return ok, storeErr(err)
}

// NewDeploys returns the ids of deploys queued (or awaiting approval) after the deploy
// after, and the new cursor; after < 0 starts from the newest now.
func (s *Service) NewDeploys(ctx context.Context, after int64, limit int) ([]int64, int64, error) {
	ids, next, err := s.st.DeploysSince(ctx, after, limit)
	return ids, next, storeErr(err)
}

// ReleaseDeployChatMessage lets go of this server's claim on a deploy's message it could not
// post.
func (s *Service) ReleaseDeployChatMessage(ctx context.Context, deploy int64) error {
	return storeErr(s.st.Tx(ctx, func(tx *store.Tx) error { return tx.ReleaseChatMessage(ctx, deploy) }))
}

// UnlinkChat removes the link of the chat user chatUser of provider (platform admins),
// audited; they then act as the Berth user of their confirmed email, if any.
func (s *Service) UnlinkChat(ctx context.Context, p *authz.Principal, provider, chatUser string) error {
	c := change{action: "user.unlink-chat", target: "chat/" + provider + "/" + chatUser, details: map[string]any{"provider": provider, "chatUser": chatUser}}
	return s.mutate(ctx, p, &c, allowed(p, authz.UserCreate, authz.Resource{}), func(tx *store.Tx) error {
		return tx.UnlinkChat(ctx, provider, chatUser)
	})
}
