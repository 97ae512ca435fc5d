package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdUsers returns `berth users`.
func NewCmdUsers(f *Factory) *cobra.Command {
	return group("users", "Manage users (global admins)", NewCmdUsersList(f, nil), NewCmdUsersCreate(f, nil), NewCmdUsersDelete(f, nil),
		NewCmdUsersLinkChat(f, nil), NewCmdUsersUnlinkChat(f, nil))
}

// UsersListOptions are the inputs of `berth users list`.
type UsersListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdUsersList returns `berth users list`.
func NewCmdUsersList(f *Factory, runF func(*UsersListOptions) error) *cobra.Command {
	o := &UsersListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List users", Example: "  berth users list", Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return usersListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func usersListRun(ctx context.Context, o *UsersListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	us, err := c.Users(ctx)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, us, []string{"NAME", "EMAIL", "GLOBAL ADMIN", "CREATED"},
		func(u apiv1.User) []string {
			return []string{u.Name, orDash(u.Email), strconv.FormatBool(u.GlobalAdmin), ago(o.IO, u.CreatedAt)}
		})
}

// UsersCreateOptions are the inputs of `berth users create`.
type UsersCreateOptions struct {
	IO          *IOStreams
	APIClient   func() (*apiclient.Client, error)
	Name        string
	Email       string
	GlobalAdmin bool
}

// NewCmdUsersCreate returns `berth users create`.
func NewCmdUsersCreate(f *Factory, runF func(*UsersCreateOptions) error) *cobra.Command {
	o := &UsersCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "create NAME", Short: "Create a user; then give them a token with `berth tokens create`",
		Example: "  berth users create alice --email alice@example.com\n  berth tokens create laptop --user alice", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return usersCreateRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Email, "email", "", "email address")
	cmd.Flags().BoolVar(&o.GlobalAdmin, "global-admin", false, "make the user a global admin")
	return cmd
}

func usersCreateRun(ctx context.Context, o *UsersCreateOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	u, err := c.CreateUser(ctx, apiv1.CreateUser{Name: o.Name, Email: o.Email, GlobalAdmin: o.GlobalAdmin})
	if err == nil {
		fmt.Fprintf(o.IO.Out, "created user %s\n", u.Name)
	}
	return err
}

// UsersDeleteOptions are the inputs of `berth users delete`.
type UsersDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdUsersDelete returns `berth users delete`.
func NewCmdUsersDelete(f *Factory, runF func(*UsersDeleteOptions) error) *cobra.Command {
	o := &UsersDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "delete NAME", Short: "Delete a user with their tokens and memberships", Example: "  berth users delete alice", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return usersDeleteRun(cmd.Context(), o)
		},
	}
}

func usersDeleteRun(ctx context.Context, o *UsersDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.DeleteUser(ctx, o.Name)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "deleted user %s\n", o.Name)
	}
	return err
}

// UsersLinkChatOptions are the inputs of `berth users link-chat`.
type UsersLinkChatOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	// Slack is the Slack user id to link: one flag per chat service, and one of them is given.
	Slack string
}

// NewCmdUsersLinkChat returns `berth users link-chat`.
func NewCmdUsersLinkChat(f *Factory, runF func(*UsersLinkChatOptions) error) *cobra.Command {
	o := &UsersLinkChatOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "link-chat USER --slack ID",
		Short: "Link a Slack user to a user: their chat commands act as that user",
		Long: `Link a Slack user to a Berth user. Chat commands (/berth promote web to production) then
act as the linked Berth user, with exactly that user's permissions: link each person to
their own Berth user, never to a shared or admin one. Without a link, the bot acts as the
Berth user whose email is the one Slack says the chat user confirmed, and refuses a chat
user it cannot match. Linking the chat user again moves the link. A Slack user's id is in
their Slack profile (⋮, Copy member ID).`,
		Example: "  berth users link-chat alice --slack U024BE7LH",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return usersLinkChatRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Slack, "slack", "", "the Slack user id (member ID) to link, such as U024BE7LH")
	return cmd
}

func usersLinkChatRun(ctx context.Context, o *UsersLinkChatOptions) error {
	if o.Slack == "" {
		return &UsageError{Err: errors.New("--slack is required: the Slack user id (member ID) to link, such as U024BE7LH")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.LinkChat(ctx, o.Name, "slack", o.Slack)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "linked Slack user %s to %s\n", o.Slack, o.Name)
	}
	return err
}

// NewCmdUsersUnlinkChat returns `berth users unlink-chat`.
func NewCmdUsersUnlinkChat(f *Factory, runF func(*UsersLinkChatOptions) error) *cobra.Command {
	o := &UsersLinkChatOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "unlink-chat --slack ID",
		Short: "Remove a Slack user's link to a user",
		Long: `Remove the link of a Slack user (berth users link-chat). Their chat commands then act as
the Berth user whose email Slack says they confirmed, or are refused when there is none.`,
		Example: "  berth users unlink-chat --slack U024BE7LH",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			if o.Slack == "" {
				return &UsageError{Err: errors.New("--slack is required: the Slack user id (member ID) to unlink, such as U024BE7LH")}
			}
			c, err := o.APIClient()
			if err != nil {
				return err
			}
			if err := c.UnlinkChat(cmd.Context(), "slack", o.Slack); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "unlinked Slack user %s\n", o.Slack)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Slack, "slack", "", "the Slack user id (member ID) to unlink")
	return cmd
}
