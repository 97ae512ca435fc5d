package apiclient

import (
	"context"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// LinkChat links chatUser, a user of the chat service provider ("slack"), to the Berth user
// called user: that chat user's commands then act as user.
func (c *Client) LinkChat(ctx context.Context, user, provider, chatUser string) error {
	return c.do(ctx, "PUT", "/api/v1/users/"+esc(user)+"/chat-links/"+esc(provider), nil, apiv1.LinkChat{ChatUser: chatUser}, nil)
}

// UnlinkChat removes the link of the chat user chatUser of provider.
func (c *Client) UnlinkChat(ctx context.Context, provider, chatUser string) error {
	return c.do(ctx, "DELETE", "/api/v1/chat-links/"+esc(provider)+"/"+esc(chatUser), nil, nil, nil)
}

// SetTeamChatChannel sets the chat channel (a Slack channel id) where the bot announces
// team's deploys; "" clears it. It returns the team.
func (c *Client) SetTeamChatChannel(ctx context.Context, team, channel string) (apiv1.Team, error) {
	var out apiv1.Team
	return out, c.do(ctx, "PUT", "/api/v1/teams/"+esc(team)+"/chat-channel", nil, apiv1.SetTeamChatChannel{Channel: channel}, &out)
}
