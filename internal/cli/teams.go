package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdTeams returns `berth teams`.
func NewCmdTeams(f *Factory) *cobra.Command {
	return group("teams", "Manage teams and their members",
		NewCmdTeamsList(f, nil), NewCmdTeamsGet(f, nil), NewCmdTeamsCreate(f, nil), NewCmdTeamsUpdate(f, nil), NewCmdTeamsDelete(f, nil),
		NewCmdTeamsMembers(f, nil), NewCmdTeamsAddMember(f, nil), NewCmdTeamsRemoveMember(f, nil))
}

// TeamsListOptions are the inputs of `berth teams list`.
type TeamsListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdTeamsList returns `berth teams list`.
func NewCmdTeamsList(f *Factory, runF func(*TeamsListOptions) error) *cobra.Command {
	o := &TeamsListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List your teams (all teams, for global admins)", Example: "  berth teams list\n  berth teams list -o json",
		Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return teamsListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func teamsListRun(ctx context.Context, o *TeamsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	teams, err := c.Teams(ctx)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, teams, []string{"NAME", "CHAT-CHANNEL", "CREATED"},
		func(t apiv1.Team) []string { return []string{t.Name, orDash(t.ChatChannel), ago(o.IO, t.CreatedAt)} })
}

// TeamsGetOptions are the inputs of `berth teams get`.
type TeamsGetOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	Output    string
}

// NewCmdTeamsGet returns `berth teams get`.
func NewCmdTeamsGet(f *Factory, runF func(*TeamsGetOptions) error) *cobra.Command {
	o := &TeamsGetOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "get NAME", Short: "Show a team: the chat channel its deploys are announced in, and when it was created",
		Example: "  berth teams get insights\n  berth teams get insights -o json", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return teamsGetRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func teamsGetRun(ctx context.Context, o *TeamsGetOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	t, err := c.Team(ctx, o.Name)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, t)
	}
	return printFields(o.IO, [][2]string{
		{"name", t.Name},
		{"chat channel", orDash(t.ChatChannel)},
		{"created", ago(o.IO, t.CreatedAt)},
	})
}

// TeamsCreateOptions are the inputs of `berth teams create`.
type TeamsCreateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdTeamsCreate returns `berth teams create`.
func NewCmdTeamsCreate(f *Factory, runF func(*TeamsCreateOptions) error) *cobra.Command {
	o := &TeamsCreateOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "create NAME", Short: "Create a team (global admins)", Example: "  berth teams create insights", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return teamsCreateRun(cmd.Context(), o)
		},
	}
}

func teamsCreateRun(ctx context.Context, o *TeamsCreateOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	t, err := c.CreateTeam(ctx, o.Name)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "created team %s\n", t.Name)
	}
	return err
}

// TeamsUpdateOptions are the inputs of `berth teams update`: the settings to change, as the
// flags give them (nil: not given).
type TeamsUpdateOptions struct {
	IO          *IOStreams
	APIClient   func() (*apiclient.Client, error)
	Name        string
	ChatChannel *string
}

// NewCmdTeamsUpdate returns `berth teams update`.
func NewCmdTeamsUpdate(f *Factory, runF func(*TeamsUpdateOptions) error) *cobra.Command {
	o := &TeamsUpdateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "update NAME --chat-channel ID",
		Short: "Change a team's chat channel, where its deploys are announced (team admins)",
		Long: `Change a team's settings.

--chat-channel is the Slack channel where the chat bot announces the deploys of the team's
apps: one message per deploy, posted when the deploy is queued and edited in place as it
goes on (queued, rolling 2/3 ready, smoke tests passed or failed, then succeeded or failed
with its reason), so the channel gets one message per deploy, not one per step. Give the channel's
id, such as C0123DEPLOY (in Slack: the channel's details, at the bottom), not its name.
Invite the Berth app to the channel first (/invite @Berth, with your Slack app's name):
the bot posts only in channels it is a member of. The server announces deploys only when it
runs with a Slack bot token (--slack-token-file; see docs/chat.md). --chat-channel ""
stops the announcements.`,
		Example: `  berth teams update insights --chat-channel C0123DEPLOY
  berth teams update insights --chat-channel ""`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if !cmd.Flags().Changed("chat-channel") {
				o.ChatChannel = nil
			}
			if runF != nil {
				return runF(o)
			}
			return teamsUpdateRun(cmd.Context(), o)
		},
	}
	o.ChatChannel = new(string)
	cmd.Flags().StringVar(o.ChatChannel, "chat-channel", "", `Slack channel id where the team's deploys are announced, such as C0123DEPLOY ("" stops them)`)
	return cmd
}

func teamsUpdateRun(ctx context.Context, o *TeamsUpdateOptions) error {
	if o.ChatChannel == nil {
		return &UsageError{Err: errors.New("nothing to change: give --chat-channel")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	t, err := c.SetTeamChatChannel(ctx, o.Name, *o.ChatChannel)
	if err != nil {
		return err
	}
	channel := "no chat channel"
	if t.ChatChannel != "" {
		channel = "chat channel " + t.ChatChannel
	}
	fmt.Fprintf(o.IO.Out, "updated team %s (%s)\n", t.Name, channel)
	return nil
}

// TeamsDeleteOptions are the inputs of `berth teams delete`.
type TeamsDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdTeamsDelete returns `berth teams delete`.
func NewCmdTeamsDelete(f *Factory, runF func(*TeamsDeleteOptions) error) *cobra.Command {
	o := &TeamsDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "delete NAME", Short: "Delete a team that has no apps (global admins)", Example: "  berth teams delete insights", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return teamsDeleteRun(cmd.Context(), o)
		},
	}
}

func teamsDeleteRun(ctx context.Context, o *TeamsDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.DeleteTeam(ctx, o.Name)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "deleted team %s\n", o.Name)
	}
	return err
}

// TeamsMembersOptions are the inputs of `berth teams members`.
type TeamsMembersOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Output    string
}

// NewCmdTeamsMembers returns `berth teams members`.
func NewCmdTeamsMembers(f *Factory, runF func(*TeamsMembersOptions) error) *cobra.Command {
	o := &TeamsMembersOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "members TEAM", Short: "List a team's members and their roles", Example: "  berth teams members insights",
		// "ls" is list's alias too, and list comes first: this one is never used. Kept as it was.
		Aliases: []string{"ls"}, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Team = args[0]
			if runF != nil {
				return runF(o)
			}
			return teamsMembersRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func teamsMembersRun(ctx context.Context, o *TeamsMembersOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ms, err := c.Members(ctx, o.Team)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, ms, []string{"USER", "ROLE"}, func(m apiv1.Member) []string { return []string{m.User, m.Role} })
}

// TeamsAddMemberOptions are the inputs of `berth teams add-member`.
type TeamsAddMemberOptions struct {
	IO         *IOStreams
	APIClient  func() (*apiclient.Client, error)
	Team, User string
	Role       string
}

// NewCmdTeamsAddMember returns `berth teams add-member`.
func NewCmdTeamsAddMember(f *Factory, runF func(*TeamsAddMemberOptions) error) *cobra.Command {
	o := &TeamsAddMemberOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "add-member TEAM USER --role viewer|deployer|admin", Short: "Give a user a role in a team (team admins)",
		Example: "  berth teams add-member insights alice --role deployer", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Team, o.User = args[0], args[1]
			if runF != nil {
				return runF(o)
			}
			return teamsAddMemberRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Role, "role", "viewer", "viewer, deployer or admin")
	return cmd
}

func teamsAddMemberRun(ctx context.Context, o *TeamsAddMemberOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	m, err := c.SetMember(ctx, o.Team, o.User, o.Role)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "%s is now %s in team %s\n", m.User, m.Role, o.Team)
	}
	return err
}

// TeamsRemoveMemberOptions are the inputs of `berth teams remove-member`.
type TeamsRemoveMemberOptions struct {
	IO         *IOStreams
	APIClient  func() (*apiclient.Client, error)
	Team, User string
}

// NewCmdTeamsRemoveMember returns `berth teams remove-member`.
func NewCmdTeamsRemoveMember(f *Factory, runF func(*TeamsRemoveMemberOptions) error) *cobra.Command {
	o := &TeamsRemoveMemberOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "remove-member TEAM USER", Short: "Take a user out of a team (team admins)", Example: "  berth teams remove-member insights alice",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Team, o.User = args[0], args[1]
			if runF != nil {
				return runF(o)
			}
			return teamsRemoveMemberRun(cmd.Context(), o)
		},
	}
}

func teamsRemoveMemberRun(ctx context.Context, o *TeamsRemoveMemberOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.RemoveMember(ctx, o.Team, o.User)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "removed %s from team %s\n", o.User, o.Team)
	}
	return err
}
