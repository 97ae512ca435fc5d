package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestSetTeamChatChannel: a team admin sets where the bot announces the team's deploys, the
// team shows it and an empty channel clears it; a deployer, an unknown team and a channel
// that is no channel id are refused, changing nothing.
func TestSetTeamChatChannel(t *testing.T) {
	f := newFixture(t)
	getAlpha := func() (apiv1.Team, string) {
		t.Helper()
		status, data := f.do(ownViewer, "GET", "/api/v1/teams/alpha", nil)
		var team apiv1.Team
		if status != 200 || json.Unmarshal(data, &team) != nil {
			t.Fatalf("get team: %d %s", status, data)
		}
		return team, string(data)
	}
	if team, data := getAlpha(); team.ChatChannel != "" || strings.Contains(data, "chatChannel") {
		t.Fatalf("a new team has a chat channel: %s", data)
	}

	status, data := f.do(teamAdmin, "PUT", "/api/v1/teams/alpha/chat-channel", apiv1.SetTeamChatChannel{Channel: "C0123DEPLOY"})
	var team apiv1.Team
	if status != 200 || json.Unmarshal(data, &team) != nil || team.Name != "alpha" || team.ChatChannel != "C0123DEPLOY" {
		t.Fatalf("set: %d %s, want team alpha with chat channel C0123DEPLOY", status, data)
	}
	if team, data := getAlpha(); team.ChatChannel != "C0123DEPLOY" {
		t.Errorf("after set, get shows %s", data)
	}
	ev := lastAudit(t, f)
	if want := map[string]any{"channel": "C0123DEPLOY"}; ev.Action != "team.chat-channel" || ev.Target != "team/alpha" ||
		ev.Actor != "ada" || ev.Outcome != "success" || !cmp.Equal(want, ev.Details) {
		t.Errorf("audit event %+v, want ada's team.chat-channel of team/alpha with details %v", ev, want)
	}

	before := f.auditCount()
	for _, c := range []struct {
		name, caller, team, channel string
		status                      int
		field, message              string
	}{
		{"deployer", deployer, "alpha", "C0OTHER", 403, "", ""},
		{"unknown team", globalAdmin, "nope", "C0OTHER", 404, "", `"nope"`},
		{"space", teamAdmin, "alpha", "C0 OTHER", 400, "chatChannel", "no chat channel id"},
		{"too long", teamAdmin, "alpha", strings.Repeat("C", 65), 400, "chatChannel", "at most 64 characters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, data := f.do(c.caller, "PUT", "/api/v1/teams/"+c.team+"/chat-channel", apiv1.SetTeamChatChannel{Channel: c.channel})
			var e apiv1.Error
			if err := json.Unmarshal(data, &e); err != nil || status != c.status || e.Field != c.field || !strings.Contains(e.Message, c.message) {
				t.Fatalf("%d %s, want %d naming field %q and %q", status, data, c.status, c.field, c.message)
			}
		})
	}
	if n := f.auditCount() - before; n != 1 {
		t.Errorf("refused calls wrote %d audit events, want 1 (the denial)", n)
	}
	if team, data := getAlpha(); team.ChatChannel != "C0123DEPLOY" {
		t.Errorf("after the refusals, get shows %s, want still C0123DEPLOY", data)
	}

	status, data = f.do(teamAdmin, "PUT", "/api/v1/teams/alpha/chat-channel", apiv1.SetTeamChatChannel{})
	if status != 200 || strings.Contains(string(data), "chatChannel") {
		t.Fatalf("clear: %d %s, want the team without a chat channel", status, data)
	}
	if team, data := getAlpha(); team.ChatChannel != "" {
		t.Errorf("after clear, get shows %s", data)
	}
}
