package cli_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

func TestUsersLinkChat(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/users/alice/chat-links/slack").WithBody(apiv1.LinkChat{ChatUser: "U024BE7LH"})
	if err := h.run("users", "link-chat", "alice", "--slack", "U024BE7LH"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "linked Slack user U024BE7LH to alice\n", "")

	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/users/nobody/chat-links/slack").WithBody(apiv1.LinkChat{ChatUser: "U024BE7LH"}).
		ReplyError(404, apiv1.Error{Code: "not_found", Message: `link chat user: user "nobody": not found`})
	wantExit(t, h.run("users", "link-chat", "nobody", "--slack", "U024BE7LH"), `link chat user: user "nobody": not found`, false)
	h.wantOutput(t, "", "")

	h = newHarness(t, false)
	wantExit(t, h.run("users", "link-chat", "alice"), "--slack is required: the Slack user id (member ID) to link, such as U024BE7LH", true)
	wantExit(t, h.run("users", "link-chat", "--slack", "U024BE7LH"), "accepts 1 arg(s), received 0", true)
	h.wantOutput(t, "", "")
}

// TestUsersUnlinkChat: unlink-chat removes a Slack user's link.
func TestUsersUnlinkChat(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/chat-links/slack/U024BE7LH")
	if err := h.run("users", "unlink-chat", "--slack", "U024BE7LH"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "unlinked Slack user U024BE7LH\n", "")
	h = newHarness(t, false)
	wantExit(t, h.run("users", "unlink-chat"), "--slack is required: the Slack user id (member ID) to unlink, such as U024BE7LH", true)
}

// TestUsersLinkChatHelp: the help says what a link does and what happens without one.
func TestUsersLinkChatHelp(t *testing.T) {
	h := newHarness(t, false)
	if err := h.run("users", "link-chat", "--help"); err != nil {
		t.Fatal(err)
	}
	help := strings.Join(strings.Fields(h.out.String()), " ")
	for _, want := range []string{"/berth promote web to production", "act as the linked Berth user, with exactly that user's permissions",
		"Without a link", "email", "berth users link-chat alice --slack U024BE7LH"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, h.out)
		}
	}
}
