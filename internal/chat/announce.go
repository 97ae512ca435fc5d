package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// Poster posts and edits messages in a chat: what the Announcer needs of one.
type Poster interface {
	// Post posts m in channel and returns the message's id there (Slack's ts).
	Post(ctx context.Context, channel string, m Message) (string, error)
	// Update replaces message ts in channel with m.
	Update(ctx context.Context, channel, ts string, m Message) error
}

// Message is a message of the bot's: its text, and buttons under it.
type Message struct {
	Text    string
	Buttons []Button
}

// Button is a button under a message: pressing it sends Action with Value (a deploy's id)
// to the bot, as the user who pressed it.
type Button struct {
	Action, Label, Value string
	// Style is "primary", "danger" or "" (the chat's default).
	Style string
}

// The actions of the buttons the bot puts under a deploy awaiting approval.
const (
	ActionApprove = "berth_approve"
	ActionReject  = "berth_reject"
)

// Announcer keeps one message per deploy in its team's chat channel (`berth teams update
// --chat-channel`), posted at its first event and edited in place at each one after:
// queued, rolling 2/3, smoke tests, succeeded or failed — never a message per step.
type Announcer struct {
	svc      *service.Service
	poster   Poster
	provider string
	log      *slog.Logger
	// Poll is how often it reads new deploy events (0: a second).
	Poll time.Duration
}

// NewAnnouncer returns an Announcer posting through poster, a chat called provider.
func NewAnnouncer(svc *service.Service, poster Poster, provider string, log *slog.Logger) *Announcer {
	return &Announcer{svc: svc, poster: poster, provider: provider, log: log, Poll: time.Second}
}

// Cursor is where an Announcer is: the last deploy event and the last deploy it saw.
type Cursor struct{ Event, Deploy int64 }

// Start is the cursor at the newest deploy event and deploy now.
func (a *Announcer) Start(ctx context.Context) (Cursor, error) {
	_, ev, err := a.svc.DeployNews(ctx, -1, 0)
	if err != nil {
		return Cursor{}, err
	}
	_, d, err := a.svc.NewDeploys(ctx, -1, 0)
	return Cursor{Event: ev, Deploy: d}, err
}

// Run announces deploys until ctx ends: from the deploys and events that come after it
// started, and, first, the messages of deploys that moved on while no server announced
// them.
func (a *Announcer) Run(ctx context.Context) {
	cursor, err := a.Start(ctx)
	for err != nil {
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("chat announcer: read deploy events", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
		cursor, err = a.Start(ctx)
	}
	a.sweep(ctx)
	t := time.NewTicker(a.Poll)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cursor = a.Step(ctx, cursor)
		if time.Since(lastSweep) > time.Minute {
			a.sweep(ctx)
			lastSweep = time.Now()
		}
	}
}

// sweep brings up to date the messages that show a state their deploy has left: what a
// stopped server, a failed edit or an event read out of order left behind.
func (a *Announcer) sweep(ctx context.Context) {
	stale, err := a.svc.StaleChatMessages(ctx)
	if err != nil {
		a.log.Warn("chat announcer: stale messages", "err", err)
		return
	}
	for _, id := range stale {
		a.refresh(ctx, id)
	}
}

// Step announces the deploys queued, and those with events, after cursor, and returns
// the new cursor.
func (a *Announcer) Step(ctx context.Context, cursor Cursor) Cursor {
	ids, nextDeploy, err := a.svc.NewDeploys(ctx, cursor.Deploy, 500)
	if err != nil {
		a.log.Warn("chat announcer: read new deploys", "err", err)
		return cursor
	}
	evs, nextEvent, err := a.svc.DeployNews(ctx, cursor.Event, 500)
	if err != nil {
		a.log.Warn("chat announcer: read deploy events", "err", err)
		return cursor
	}
	for _, ev := range evs {
		ids = append(ids, ev.DeployID)
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			a.refresh(ctx, id)
		}
	}
	return Cursor{Event: nextEvent, Deploy: nextDeploy}
}

// refresh posts or edits deploy id's message.
func (a *Announcer) refresh(ctx context.Context, id int64) {
	d, evs, team, err := a.svc.DeployForChat(ctx, id)
	if err != nil || team.ChatChannel == "" {
		return
	}
	if d.Kind == berth.KindAutoRollback && d.RollbackOf != 0 {
		defer a.refresh(ctx, d.RollbackOf) // the failed deploy's message says how its rollback goes
	}
	var rollback *berth.Deploy
	if d.State == berth.DeployFailed {
		if rb, err := a.svc.AutoRollbackOf(ctx, d); err == nil {
			rollback = &rb
		}
	}
	text := DeployMessage(d, evs, rollback)
	msg := Message{Text: text}
	if d.State == berth.DeployAwaiting {
		id := strconv.FormatInt(d.ID, 10)
		msg.Buttons = []Button{{Action: ActionApprove, Label: "Approve", Value: id, Style: "primary"},
			{Action: ActionReject, Label: "Reject", Value: id, Style: "danger"}}
	}
	m, err := a.svc.DeployChatMessage(ctx, id)
	switch {
	case errors.Is(err, berth.ErrNotFound):
		// Of servers sharing the database, the one that claims it posts it.
		if ok, err := a.svc.ClaimDeployChatMessage(ctx, id, a.provider, team.ChatChannel); err != nil || !ok {
			return
		}
		ts, err := a.poster.Post(ctx, team.ChatChannel, msg)
		if err != nil {
			a.log.Warn("chat announcer: post", "deploy", id, "err", err)
			// Let go, so its next event (or the sweep) posts it.
			if err := a.svc.ReleaseDeployChatMessage(ctx, id); err != nil {
				a.log.Warn("chat announcer: release", "deploy", id, "err", err)
			}
			return
		}
		m = service.ChatMessage{Deploy: id, Provider: a.provider, Channel: team.ChatChannel, TS: ts}
	case err != nil:
		a.log.Warn("chat announcer: read message", "deploy", id, "err", err)
		return
	case m.TS == "":
		return // another server is posting it
	default:
		if err := a.poster.Update(ctx, m.Channel, m.TS, msg); err != nil {
			a.log.Warn("chat announcer: update", "deploy", id, "err", err)
			return
		}
	}
	m.Shown = string(d.State)
	if err := a.svc.SaveDeployChatMessage(ctx, m); err != nil {
		a.log.Warn("chat announcer: record message", "deploy", id, "err", err)
	}
}

// DeployMessage is the text of a deploy's message: what, where and who, then how it goes;
// for a failed deploy, how its automatic rollback goes (rollback; nil for none).
func DeployMessage(d berth.Deploy, evs []berth.DeployEvent, rollback *berth.Deploy) string {
	what := fmt.Sprintf("deploy %d", d.ID)
	switch {
	case d.Kind == berth.KindAutoRollback && d.RollbackOf != 0:
		what = fmt.Sprintf("deploy %d, automatic rollback of deploy %d", d.ID, d.RollbackOf)
	case d.Kind != berth.KindDeploy:
		what = fmt.Sprintf("deploy %d (%s)", d.ID, d.Kind)
	}
	head := fmt.Sprintf("*%s/%s* → *%s*: %s, revision %d, by %s", d.Team, d.App, d.Env, what, d.Revision, d.CreatedBy)
	var rollout *berth.DeployEvent
	passed, failed := 0, 0
	for i := range evs {
		ev := &evs[i]
		if ev.Desired > 0 {
			rollout = ev
		}
		if ev.Phase == "smoke" && d.Smoke == nil { // while they run: their events
			if strings.Contains(ev.Message, " passed") {
				passed++
			} else {
				failed++
			}
		}
	}
	if d.Smoke != nil { // once they ran: what the deploy recorded
		for _, r := range d.Smoke.Results {
			if r.Passed {
				passed++
			} else {
				failed++
			}
		}
	}
	var state []string
	switch d.State {
	case berth.DeployQueued:
		state = append(state, "queued")
	case berth.DeployAwaiting:
		state = append(state, "awaiting approval")
	case berth.DeployAwaitingMerge:
		msg := "awaiting the merge of its pull request"
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Phase == string(berth.DeployAwaitingMerge) {
				msg += ": " + evs[i].Message
				break
			}
		}
		state = append(state, msg)
	case berth.DeployRunning:
		if rollout != nil {
			state = append(state, fmt.Sprintf("rolling %d/%d ready", rollout.Ready, rollout.Desired))
		} else if len(evs) > 0 {
			state = append(state, evs[len(evs)-1].Phase)
		} else {
			state = append(state, "running")
		}
	case berth.DeploySucceeded:
		took := ""
		if !d.StartedAt.IsZero() && !d.FinishedAt.IsZero() {
			took = " in " + d.FinishedAt.Sub(d.StartedAt).Round(time.Second).String()
		}
		state = append(state, "succeeded"+took)
	case berth.DeployFailed:
		reason, _, _ := strings.Cut(d.Reason, "\n")
		if len(reason) > 300 {
			reason = reason[:300] + "…"
		}
		state = append(state, "*failed*: "+reason)
	}
	if passed+failed > 0 {
		state = append(state, fmt.Sprintf("smoke %d passed, %d failed", passed, failed))
	}
	if rollback != nil {
		state = append(state, fmt.Sprintf("rolled back automatically: deploy %d %s", rollback.ID, rollback.State))
	}
	return head + "\n" + strings.Join(state, " · ")
}
