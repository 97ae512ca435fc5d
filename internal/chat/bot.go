package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// Request is one command a chat user sent, verified by its adapter.
type Request struct {
	Identity service.ChatIdentity
	// Text is the command's words, after the slash command or the mention.
	Text string
}

// Reply is the bot's answer, in the chat's markdown (backticks, *bold*).
type Reply struct {
	Text string
	// Private: only the asker should see it (a refusal, help).
	Private bool
}

// Bot answers commands, acting through the service as the chat user's Berth user: what the
// API lets that user do, it lets them do, and no more (the service checks, and audits).
type Bot struct {
	svc *service.Service
	log *slog.Logger
	now func() time.Time
}

// NewBot returns a Bot acting through svc.
func NewBot(svc *service.Service, log *slog.Logger) *Bot {
	return &Bot{svc: svc, log: log, now: svc.Now}
}

// Handle answers one request.
func (b *Bot) Handle(ctx context.Context, req Request) Reply {
	c, err := Parse(req.Text)
	if err != nil {
		return Reply{Text: err.Error() + "\n" + help(), Private: true}
	}
	if c.Verb == VerbHelp {
		return Reply{Text: help(), Private: true}
	}
	p, err := b.svc.ChatPrincipal(ctx, req.Identity)
	if err != nil {
		return Reply{Text: refusal(err), Private: true}
	}
	text, err := b.run(ctx, p, c)
	if err != nil {
		return Reply{Text: refusal(err), Private: true}
	}
	// What the asker may read, not everyone in the channel: status and history answer
	// them alone; a promotion or a rollback is news for the channel.
	return Reply{Text: text, Private: c.Verb == VerbStatus || c.Verb == VerbHistory || (c.Verb == VerbTrain && c.Sub == "status")}
}

// Act does what a button under one of the bot's messages asks (ActionApprove,
// ActionReject of the deploy value names), as the chat user who pressed it: the service
// decides whether they may (an admin of the team or an allowed deployer of the
// environment, never the one who asked for it), and audits the decision.
func (b *Bot) Act(ctx context.Context, id service.ChatIdentity, action, value string) Reply {
	p, err := b.svc.ChatPrincipal(ctx, id)
	if err != nil {
		return Reply{Text: refusal(err), Private: true}
	}
	deploy, err := strconv.ParseInt(value, 10, 64)
	if err != nil || deploy <= 0 {
		return Reply{Text: fmt.Sprintf("Could not: %q names no deploy", clip(value)), Private: true}
	}
	decision, verb := berth.Approved, "approved"
	switch action {
	case ActionApprove:
	case ActionReject:
		decision, verb = berth.Rejected, "rejected"
	default:
		return Reply{Text: fmt.Sprintf("Could not: Berth has no button %q", clip(action)), Private: true}
	}
	d, err := b.svc.Decide(ctx, p, deploy, decision, verb+" in chat by "+p.Name)
	if err != nil {
		return Reply{Text: refusal(err), Private: true}
	}
	return Reply{Text: fmt.Sprintf("%s %s deploy %d of %s/%s to %s", p.Name, verb, d.ID, d.Team, d.App, d.Env)}
}

func (b *Bot) run(ctx context.Context, p *authz.Principal, c Command) (string, error) {
	if c.Verb == VerbTrain {
		return b.train(ctx, p, c)
	}
	team, err := b.team(ctx, p, c)
	if err != nil {
		return "", err
	}
	switch c.Verb {
	case VerbDeploy:
		if c.Ref != "" {
			// The git job resolves the ref and queues the deploy; the Announcer posts the
			// deploy's message in the team's channel.
			j, err := b.svc.DeployRef(ctx, p, service.DeployRefRequest{Team: team, App: c.App, Ref: c.Ref, Env: c.Env})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Deploying %s at %s to %s (git job %d): the deploy's message follows", c.App, c.Ref, c.Env, j.ID), nil
		}
		return b.deployPreview(ctx, p, team, c.App, c.PR)
	case VerbStatus:
		return b.status(ctx, p, team, c.App)
	case VerbHistory:
		ds, err := b.svc.History(ctx, p, team, c.App, c.Env, 10)
		if err != nil {
			return "", err
		}
		if len(ds) == 0 {
			return fmt.Sprintf("%s/%s has no deploys yet", team, c.App), nil
		}
		lines := []string{fmt.Sprintf("*%s/%s*, the last %d deploys:", team, c.App, len(ds))}
		for _, d := range ds {
			lines = append(lines, "• "+b.deployLine(d))
		}
		return strings.Join(lines, "\n"), nil
	case VerbPromote:
		from := c.From
		if from == "" {
			if from, err = b.source(ctx, p, team, c.App, c.To); err != nil {
				return "", err
			}
		}
		d, err := b.svc.Promote(ctx, p, service.PromoteRequest{Team: team, App: c.App, From: from, To: c.To})
		if err != nil {
			return "", err
		}
		if d.State == berth.DeployAwaiting {
			return fmt.Sprintf("%s asked to promote %s/%s from %s to %s: deploy %d awaits the approval of one of %s's allowed deployers",
				p.Name, team, c.App, from, c.To, d.ID, c.To), nil
		}
		return fmt.Sprintf("%s promotes %s/%s from %s to %s: deploy %d, revision %d, queued", p.Name, team, c.App, from, c.To, d.ID, d.Revision), nil
	case VerbRollback:
		d, err := b.svc.Rollback(ctx, p, team, c.App, c.Env, c.Revision)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s rolls %s/%s in %s back to revision %d: deploy %d queued", p.Name, team, c.App, c.Env, d.Revision, d.ID), nil
	}
	return "", fmt.Errorf("Berth does not know `%s`", c.Verb)
}

// deployPreview deploys the preview of pull request pr of team's app again: the revision
// and git values its last deploy had, with the settings and resources of now.
func (b *Bot) deployPreview(ctx context.Context, p *authz.Principal, team, app string, pr int) (string, error) {
	ps, err := b.svc.Previews(ctx, p, team, app, false, 1000)
	if err != nil {
		return "", err
	}
	for _, pv := range ps {
		if pv.PR != pr {
			continue
		}
		last, err := b.svc.History(ctx, p, team, app, pv.Env, 1)
		if err != nil {
			return "", err
		}
		if len(last) == 0 {
			return "", fmt.Errorf("the preview of %s#%d has no deploy yet: it is on its way", app, pr)
		}
		d, err := b.svc.CreateDeploy(ctx, p, service.DeployRequest{Team: team, App: app, Env: pv.Env, Revision: last[0].Revision,
			Set: last[0].Args})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s deploys the preview of %s#%d (branch %s, %s) again: deploy %d queued in %s",
			p.Name, app, pr, pv.Branch, pv.SHA[:min(12, len(pv.SHA))], d.ID, pv.Env), nil
	}
	return "", fmt.Errorf("%s/%s has no open preview of pull request #%d: Berth makes one when the pull request is opened or "+
		"pushed to, if the app's berth.yaml has git: previews: {env: ...}", team, app, pr)
}

// team is the team of the command's app: --team, else the one team the user sees an app
// of that name in.
func (b *Bot) team(ctx context.Context, p *authz.Principal, c Command) (string, error) {
	if c.Team != "" {
		return c.Team, nil
	}
	apps, err := b.svc.ListAppsNamed(ctx, p, "", c.App)
	if err != nil {
		return "", err
	}
	switch len(apps) {
	case 0:
		return "", fmt.Errorf("no app called %s that you can see: %w", c.App, berth.ErrNotFound)
	case 1:
		return apps[0].Team, nil
	}
	var teams []string
	for _, a := range apps {
		teams = append(teams, a.Team)
	}
	return "", fmt.Errorf("apps called %s are in teams %s: add --team TEAM", c.App, strings.Join(teams, ", "))
}

// source is where a promotion to `to` takes what runs: the environment (no pull request's
// preview) where the app last deployed successfully.
func (b *Bot) source(ctx context.Context, p *authz.Principal, team, app, to string) (string, error) {
	sts, err := b.svc.Status(ctx, p, team, app, "")
	if err != nil {
		return "", err
	}
	var best *berth.Deploy
	for _, st := range sts {
		if st.Env == to || st.Current == nil || st.Current.Args["git.pr"] != "" { // no pull request's preview
			continue
		}
		if best == nil || st.Current.FinishedAt.After(best.FinishedAt) {
			best = st.Current
		}
	}
	if best == nil {
		return "", fmt.Errorf("%s/%s runs nowhere but %s: name the source, `promote %s to %s from ENV`", team, app, to, app, to)
	}
	return best.Env, nil
}

func (b *Bot) status(ctx context.Context, p *authz.Principal, team, app string) (string, error) {
	sts, err := b.svc.Status(ctx, p, team, app, "")
	if err != nil {
		return "", err
	}
	if len(sts) == 0 {
		return fmt.Sprintf("%s/%s is deployed nowhere yet", team, app), nil
	}
	lines := []string{fmt.Sprintf("*%s/%s*", team, app)}
	for _, st := range sts {
		line := fmt.Sprintf("• *%s*: ", st.Env)
		switch {
		case st.Current != nil:
			line += fmt.Sprintf("revision %d (deploy %d, %s)", st.Current.Revision, st.Current.ID, b.ago(st.Current.FinishedAt))
		default:
			line += "nothing succeeded yet"
		}
		if st.Latest != nil && (st.Current == nil || st.Latest.ID != st.Current.ID) {
			line += fmt.Sprintf("; latest deploy %d %s", st.Latest.ID, st.Latest.State)
		}
		if st.Live != nil {
			line += fmt.Sprintf("; %d/%d ready", st.Live.Ready, st.Live.Desired)
		} else if st.Error != "" {
			line += "; live state unknown"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

func (b *Bot) deployLine(d berth.Deploy) string {
	when := d.CreatedAt
	if !d.FinishedAt.IsZero() {
		when = d.FinishedAt
	}
	return fmt.Sprintf("%d %s: revision %d to %s, %s by %s, %s", d.ID, d.Kind, d.Revision, d.Env, d.State, d.CreatedBy, b.ago(when))
}

func (b *Bot) ago(t time.Time) string {
	d := b.now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// help lists the commands.
func help() string {
	return "Berth's commands:\n```\n" + strings.Join(Usage, "\n") + "\n```"
}

// refusal says why the bot did not act: the service's words (which never hold a secret).
func refusal(err error) string {
	var denied *authz.Denied
	switch {
	case errors.As(err, &denied):
		return "Refused: " + err.Error()
	case errors.Is(err, berth.ErrUnauthenticated):
		return "Refused: " + strings.TrimPrefix(err.Error(), berth.ErrUnauthenticated.Error()+": ")
	}
	return "Could not: " + err.Error()
}
