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
