package main

import (
	_ "time/tzdata" // trains read their time zones wherever the server runs

	"context"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/chat"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/slackbot"
	"github.com/berth-dev/berth/internal/train"
)

// trainForges opens a connection's forge for the deployment trains: internal/forge's
// client, whose Compare is what internal/train declares.
func trainForges(r berth.AppRepo, token string) (train.Forge, error) {
	return forge.NewClient(r.Forge, r.URL, token)
}

// trainChat is the Slack adapter behind the chat internal/train (and internal/backup, for
// stale backups and failed drills) announces in.
type trainChat struct{ h *slackbot.Handler }

func (c trainChat) Post(ctx context.Context, channel, text string) (string, error) {
	return c.h.Post(ctx, channel, chat.Message{Text: text})
}

func (c trainChat) Update(ctx context.Context, channel, id, text string) error {
	return c.h.Update(ctx, channel, id, chat.Message{Text: text})
}

func (c trainChat) UserByEmail(ctx context.Context, email string) (string, error) {
	return c.h.UserByEmail(ctx, email)
}

func (trainChat) Mention(user string) string { return slackbot.Mention(user) }

func (trainChat) Provider() string { return slackbot.Provider }
