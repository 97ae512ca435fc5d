package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/service"
)

// TestLinkChat: a global admin links a Slack user to a Berth user, and the chat bot then
// acts as exactly that user; linking again moves the link. Others are refused, and so are
// an unknown user, an unknown provider and a body without its chat user.
func TestLinkChat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc := service.New(f.st, slog.New(slog.DiscardHandler), f.clock.Now)
	slackUser := service.ChatIdentity{Provider: "slack", User: "U024BE7LH"}
	if _, err := svc.ChatPrincipal(ctx, slackUser); err == nil {
		t.Fatal("an unlinked chat user without an email has a principal")
	}

	if status, data := f.do(globalAdmin, "PUT", "/api/v1/users/dan/chat-links/slack", apiv1.LinkChat{ChatUser: "U024BE7LH"}); status != 204 || len(data) != 0 {
		t.Fatalf("link: %d %s", status, data)
	}
	p, err := svc.ChatPrincipal(ctx, slackUser)
	if err != nil || p.Name != "dan" || p.GlobalAdmin || p.RoleIn("alpha") != authz.Deployer {
		t.Fatalf("linked chat user acts as %+v (%v), want dan, deployer of alpha", p, err)
	}
	if status, data := f.do(globalAdmin, "PUT", "/api/v1/users/vera/chat-links/slack", apiv1.LinkChat{ChatUser: "U024BE7LH"}); status != 204 {
		t.Fatalf("link again: %d %s", status, data)
	}
	if p, err := svc.ChatPrincipal(ctx, slackUser); err != nil || p.Name != "vera" {
		t.Fatalf("relinked chat user acts as %+v (%v), want vera", p, err)
	}

	for _, c := range []struct {
		name, caller, path string
		body               any
		status             int
		field, message     string
	}{
		{"team admin", teamAdmin, "/api/v1/users/ada/chat-links/slack", apiv1.LinkChat{ChatUser: "U0ADA"}, 403, "", ""},
		{"unknown user", globalAdmin, "/api/v1/users/nobody/chat-links/slack", apiv1.LinkChat{ChatUser: "U0NOBODY"}, 404, "", "nobody"},
		{"unknown provider", globalAdmin, "/api/v1/users/dan/chat-links/teams", apiv1.LinkChat{ChatUser: "U0DAN"}, 400, "provider", "slack"},
		{"no chat user", globalAdmin, "/api/v1/users/dan/chat-links/slack", map[string]any{}, 400, "chatUser", "U024BE7LH"},
		{"chat user too long", globalAdmin, "/api/v1/users/dan/chat-links/slack", apiv1.LinkChat{ChatUser: strings.Repeat("U", 65)}, 400, "chatUser", "64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, data := f.do(c.caller, "PUT", c.path, c.body)
			var e apiv1.Error
			if err := json.Unmarshal(data, &e); err != nil || status != c.status || e.Field != c.field || !strings.Contains(e.Message, c.message) {
				t.Fatalf("%d %s, want %d naming field %q and %q", status, data, c.status, c.field, c.message)
			}
		})
	}
	if p, err := svc.ChatPrincipal(ctx, slackUser); err != nil || p.Name != "vera" {
		t.Errorf("after the refusals the chat user acts as %+v (%v), want still vera", p, err)
	}
}
