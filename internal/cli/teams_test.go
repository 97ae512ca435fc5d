package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

var teamsTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// TestTeamsUpdateChatChannel: --chat-channel sets the team's chat channel, and "" clears it.
func TestTeamsUpdateChatChannel(t *testing.T) {
	for _, c := range []struct {
		name, channel, out string
	}{
		{"set", "C0123DEPLOY", "updated team insights (chat channel C0123DEPLOY)\n"},
		{"clear", "", "updated team insights (no chat channel)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.api.Expect("PUT", "/api/v1/teams/insights/chat-channel").WithBody(apiv1.SetTeamChatChannel{Channel: c.channel}).
				Reply(200, apiv1.Team{Name: "insights", ChatChannel: c.channel, CreatedAt: teamsTime})
			if err := h.run("teams", "update", "insights", "--chat-channel", c.channel); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, c.out, "")
		})
	}
}

// TestTeamsUpdateErrors: without a flag there is nothing to change, a usage error before any
// request (the harness fails on any); the server's refusals reach the user as it worded
// them, exit 1.
func TestTeamsUpdateErrors(t *testing.T) {
	h := newHarness(t, false)
	wantExit(t, h.run("teams", "update", "insights"), "nothing to change: give --chat-channel", true)
	wantExit(t, h.run("teams", "update", "--chat-channel", "C0123DEPLOY"), "accepts 1 arg(s), received 0", true)
	h.wantOutput(t, "", "")

	for _, c := range []struct {
		team, channel string
		status        int
		e             apiv1.Error
		msg           string
	}{
		{"insights", "C0 DEPLOY", 400, apiv1.Error{Code: "invalid", Field: "chatChannel",
			Message: `"C0 DEPLOY" is no chat channel id (at most 64 characters, no spaces)`},
			`chatChannel: "C0 DEPLOY" is no chat channel id (at most 64 characters, no spaces)`},
		{"insights", "C0123DEPLOY", 403, apiv1.Error{Code: "forbidden", Message: "member.manage needs role admin in team insights; dan has deployer"},
			"member.manage needs role admin in team insights; dan has deployer"},
		{"nope", "C0123DEPLOY", 404, apiv1.Error{Code: "not_found", Message: `team "nope": not found`}, `team "nope": not found`},
	} {
		t.Run(c.e.Code, func(t *testing.T) {
			h := newHarness(t, false)
			h.api.Expect("PUT", "/api/v1/teams/"+c.team+"/chat-channel").WithBody(apiv1.SetTeamChatChannel{Channel: c.channel}).
				ReplyError(c.status, c.e)
			wantExit(t, h.run("teams", "update", c.team, "--chat-channel", c.channel), c.msg, false)
			h.wantOutput(t, "", "")
		})
	}
}

// TestTeamsUpdateHelp: the help says what the bot posts in the channel, how to name the
// channel and what to do in Slack first.
func TestTeamsUpdateHelp(t *testing.T) {
	h := newHarness(t, false)
	if err := h.run("teams", "update", "--help"); err != nil {
		t.Fatal(err)
	}
	help := strings.Join(strings.Fields(h.out.String()), " ")
	for _, want := range []string{"one message per deploy", "edited in place", "queued, rolling 2/3 ready, smoke tests",
		"succeeded or failed", "C0123DEPLOY", "Invite the Berth app to the channel first", `--chat-channel "" stops the announcements`,
		`berth teams update insights --chat-channel ""`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, h.out)
		}
	}
}

// TestTeamsListAndGet show each team's chat channel, "-" for none, in tables and in -o json.
func TestTeamsListAndGet(t *testing.T) {
	insights := apiv1.Team{Name: "insights", ChatChannel: "C0123DEPLOY", CreatedAt: teamsTime}
	shop := apiv1.Team{Name: "shop", CreatedAt: teamsTime}
	teams := apiv1.List[apiv1.Team]{Items: []apiv1.Team{insights, shop}}

	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams").Reply(200, teams)
	if err := h.run("teams", "list"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"NAME      CHAT-CHANNEL  CREATED\n"+
		"insights  C0123DEPLOY   2026-03-04T05:06:07Z\n"+
		"shop      -             2026-03-04T05:06:07Z\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams").Reply(200, teams)
	if err := h.run("teams", "list", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Team
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(teams.Items, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		team apiv1.Team
		out  string
	}{
		{insights, "name:         insights\nchat channel: C0123DEPLOY\ncreated:      2026-03-04T05:06:07Z\n"},
		{shop, "name:         shop\nchat channel: -\ncreated:      2026-03-04T05:06:07Z\n"},
	} {
		h = newHarness(t, false)
		h.api.Expect("GET", "/api/v1/teams/"+c.team.Name).Reply(200, c.team)
		if err := h.run("teams", "get", c.team.Name); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, c.out, "")
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/insights").Reply(200, insights)
	if err := h.run("teams", "get", "insights", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.out.String(), `"chatChannel": "C0123DEPLOY"`) {
		t.Errorf("-o json lacks the chat channel:\n%s", h.out)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/nope").ReplyError(404, apiv1.Error{Code: "not_found", Message: `team "nope": not found`})
	wantExit(t, h.run("teams", "get", "nope"), `team "nope": not found`, false)
	h.wantOutput(t, "", "")
}
