package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// The commands in this file manage the server's resources. Each is a thin shell: parse
// flags, call one apiclient method, print a table or -o json|yaml.

// listCmd builds a `list` command that prints items as JSON/YAML or as a table.
func listCmd[T any](s *IOStreams, use, short, example string, bind func(*cobra.Command),
	fetch func(*cobra.Command, *apiclient.Client) ([]T, error), header []string, row func(T) []string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example, Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := client()
			if err != nil {
				return err
			}
			items, err := fetch(cmd, c)
			if err != nil {
				return err
			}
			if items == nil {
				items = []T{}
			}
			if output != "table" {
				return printData(s.Out, output, items)
			}
			rows := make([][]string, len(items))
			for i, it := range items {
				rows[i] = row(it)
			}
			return printTable(s, header, rows)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	if bind != nil {
		bind(cmd)
	}
	return cmd
}

// actionCmd builds a command that calls the API and prints one line.
func actionCmd(use, short, example string, args cobra.PositionalArgs, bind func(*cobra.Command),
	run func(cmd *cobra.Command, c *apiclient.Client, args []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			return run(cmd, c, args)
		},
	}
	if bind != nil {
		bind(cmd)
	}
	return cmd
}

func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subs...)
	return cmd
}

// NewCmdTeams returns `berth teams`.
func NewCmdTeams(s *IOStreams) *cobra.Command {
	var role string
	return group("teams", "Manage teams and their members",
		listCmd(s, "list", "List your teams (all teams, for global admins)", "  berth teams list\n  berth teams list -o json", nil,
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.Team, error) { return c.Teams(cmd.Context()) },
			[]string{"NAME", "CREATED"}, func(t apiv1.Team) []string { return []string{t.Name, ago(s, t.CreatedAt)} }),
		actionCmd("create NAME", "Create a team (global admins)", "  berth teams create insights", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				t, err := c.CreateTeam(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(s.Out, "created team %s\n", t.Name)
				}
				return err
			}),
		actionCmd("delete NAME", "Delete a team that has no apps (global admins)", "  berth teams delete insights", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				err := c.DeleteTeam(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(s.Out, "deleted team %s\n", args[0])
				}
				return err
			}),
		listCmd(s, "members TEAM", "List a team's members and their roles", "  berth teams members insights",
			func(cmd *cobra.Command) { cmd.Args = cobra.ExactArgs(1) },
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.Member, error) {
				return c.Members(cmd.Context(), cmd.Flags().Arg(0))
			}, []string{"USER", "ROLE"}, func(m apiv1.Member) []string { return []string{m.User, m.Role} }),
		actionCmd("add-member TEAM USER --role viewer|deployer|admin", "Give a user a role in a team (team admins)",
			"  berth teams add-member insights alice --role deployer", cobra.ExactArgs(2),
			func(cmd *cobra.Command) { cmd.Flags().StringVar(&role, "role", "viewer", "viewer, deployer or admin") },
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				m, err := c.SetMember(cmd.Context(), args[0], args[1], role)
				if err == nil {
					fmt.Fprintf(s.Out, "%s is now %s in team %s\n", m.User, m.Role, args[0])
				}
				return err
			}),
		actionCmd("remove-member TEAM USER", "Take a user out of a team (team admins)", "  berth teams remove-member insights alice", cobra.ExactArgs(2), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				err := c.RemoveMember(cmd.Context(), args[0], args[1])
				if err == nil {
					fmt.Fprintf(s.Out, "removed %s from team %s\n", args[1], args[0])
				}
				return err
			}),
	)
}

// NewCmdUsers returns `berth users`.
func NewCmdUsers(s *IOStreams) *cobra.Command {
	var email string
	var admin bool
	return group("users", "Manage users (global admins)",
		listCmd(s, "list", "List users", "  berth users list", nil,
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.User, error) { return c.Users(cmd.Context()) },
			[]string{"NAME", "EMAIL", "GLOBAL ADMIN", "CREATED"},
			func(u apiv1.User) []string {
				return []string{u.Name, orDash(u.Email), strconv.FormatBool(u.GlobalAdmin), ago(s, u.CreatedAt)}
			}),
		actionCmd("create NAME", "Create a user; then give them a token with `berth tokens create`",
			"  berth users create alice --email alice@example.com\n  berth tokens create laptop --user alice", cobra.ExactArgs(1),
			func(cmd *cobra.Command) {
				cmd.Flags().StringVar(&email, "email", "", "email address")
				cmd.Flags().BoolVar(&admin, "global-admin", false, "make the user a global admin")
			},
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				u, err := c.CreateUser(cmd.Context(), apiv1.CreateUser{Name: args[0], Email: email, GlobalAdmin: admin})
				if err == nil {
					fmt.Fprintf(s.Out, "created user %s\n", u.Name)
				}
				return err
			}),
		actionCmd("delete NAME", "Delete a user with their tokens and memberships", "  berth users delete alice", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				err := c.DeleteUser(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(s.Out, "deleted user %s\n", args[0])
				}
				return err
			}),
	)
}

// NewCmdTokens returns `berth tokens`.
func NewCmdTokens(s *IOStreams) *cobra.Command {
	var user, expires string
	return group("tokens", "Manage API tokens",
		listCmd(s, "list", "List your tokens (--user for someone else's, global admins)", "  berth tokens list\n  berth tokens list --user alice",
			func(cmd *cobra.Command) { cmd.Flags().StringVar(&user, "user", "", "whose tokens (default: yours)") },
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.Token, error) {
				return c.Tokens(cmd.Context(), user)
			},
			[]string{"ID", "NAME", "USER", "PREFIX", "CREATED", "EXPIRES", "STATE"},
			func(t apiv1.Token) []string {
				state, expiresAt := "active", "never"
				if t.ExpiresAt != nil {
					expiresAt = t.ExpiresAt.UTC().Format("2006-01-02 15:04")
				}
				if t.RevokedAt != nil {
					state = "revoked"
				}
				return []string{strconv.FormatInt(t.ID, 10), t.Name, t.User, t.Prefix + "…", ago(s, t.CreatedAt), expiresAt, state}
			}),
		actionCmd("create NAME", "Create a token; its secret is printed once and never again",
			"  berth tokens create laptop --expires-in 720h\n  berth tokens create ci --user deploy-bot", cobra.ExactArgs(1),
			func(cmd *cobra.Command) {
				cmd.Flags().StringVar(&user, "user", "", "owner (default: you; others need a global admin)")
				cmd.Flags().StringVar(&expires, "expires-in", "", "lifetime such as 720h (default: never expires)")
			},
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				t, err := c.CreateToken(cmd.Context(), apiv1.CreateToken{Name: args[0], User: user, ExpiresIn: expires})
				if err != nil {
					return err
				}
				fmt.Fprintf(s.ErrOut, "created token %d (%s) for %s; the secret is shown only now:\n", t.ID, t.Name, t.User)
				fmt.Fprintln(s.Out, t.Secret)
				return nil
			}),
		actionCmd("revoke ID", "Revoke a token at once", "  berth tokens revoke 7", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return &UsageError{Err: fmt.Errorf("token id %q must be a number (see `berth tokens list`)", args[0])}
				}
				t, err := c.RevokeToken(cmd.Context(), id)
				if err == nil {
					fmt.Fprintf(s.Out, "revoked token %d (%s) of %s\n", t.ID, t.Name, t.User)
				}
				return err
			}),
	)
}

// NewCmdApps returns `berth apps`.
func NewCmdApps(s *IOStreams) *cobra.Command {
	var team, file string
	teamFlag := func(cmd *cobra.Command) { cmd.Flags().StringVar(&team, "team", "", "owning team") }
	return group("apps", "Manage apps",
		listCmd(s, "list", "List apps (of one team with --team)", "  berth apps list\n  berth apps list --team insights -o json", teamFlag,
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.App, error) { return c.Apps(cmd.Context(), team) },
			[]string{"TEAM", "NAME", "REVISION", "CREATED"},
			func(a apiv1.App) []string {
				return []string{a.Team, a.Name, strconv.FormatInt(a.Revision, 10), ago(s, a.CreatedAt)}
			}),
		actionCmd("create NAME --team TEAM [-f berth.yaml]", "Register an app, optionally with its manifest as revision 1",
			"  berth apps create reports --team insights -f berth.yaml", cobra.ExactArgs(1),
			func(cmd *cobra.Command) {
				teamFlag(cmd)
				cmd.Flags().StringVarP(&file, "file", "f", "", "manifest to store as the first revision")
			},
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				if team == "" {
					return &UsageError{Err: errors.New("--team is required")}
				}
				var text string
				if file != "" {
					data, err := os.ReadFile(file)
					if err != nil {
						return err
					}
					text = string(data)
				}
				a, err := c.CreateApp(cmd.Context(), team, apiv1.CreateApp{Name: args[0], Manifest: text})
				if err == nil {
					fmt.Fprintf(s.Out, "created app %s/%s (revision %d)\n", a.Team, a.Name, a.Revision)
				}
				return err
			}),
		actionCmd("delete NAME --team TEAM", "Remove an app from Berth (team admins)", "  berth apps delete reports --team insights", cobra.ExactArgs(1), teamFlag,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				if team == "" {
					return &UsageError{Err: errors.New("--team is required")}
				}
				err := c.DeleteApp(cmd.Context(), team, args[0])
				if err == nil {
					fmt.Fprintf(s.Out, "deleted app %s/%s\n", team, args[0])
				}
				return err
			}),
	)
}

// NewCmdEnvs returns `berth envs`.
func NewCmdEnvs(s *IOStreams) *cobra.Command {
	var in apiv1.CreateEnvironment
	return group("envs", "Manage environments: where apps are deployed",
		listCmd(s, "list", "List environments", "  berth envs list", nil,
			func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.Environment, error) {
				return c.Environments(cmd.Context())
			},
			[]string{"NAME", "CLUSTER", "NAMESPACE", "PROTECTED"},
			func(e apiv1.Environment) []string {
				cluster := "in-cluster"
				if !e.InCluster {
					cluster = e.Kubeconfig
					if e.Context != "" {
						cluster += " (" + e.Context + ")"
					}
				}
				return []string{e.Name, cluster, e.NamespaceTemplate, strconv.FormatBool(e.Protected)}
			}),
		actionCmd("create NAME (--kubeconfig PATH [--context C] | --in-cluster)", "Define an environment (global admins)",
			`  berth envs create staging --kubeconfig ~/.kube/config --context staging
  berth envs create production --kubeconfig /etc/berth/prod.kubeconfig --protected --allow-deployer release-bot
  berth envs create local --kubeconfig $(berth dev cluster kubeconfig) --namespace-template '{team}-{app}-local'`,
			cobra.ExactArgs(1),
			func(cmd *cobra.Command) {
				f := cmd.Flags()
				f.StringVar(&in.Kubeconfig, "kubeconfig", "", "kubeconfig path on the server's machine")
				f.StringVar(&in.Context, "context", "", "kubeconfig context (default: its current context)")
				f.BoolVar(&in.InCluster, "in-cluster", false, "use the server's own service account")
				f.StringVar(&in.NamespaceTemplate, "namespace-template", "", "namespace per app: {team}, {env} and {app} are replaced (default {team}-{env})")
				f.BoolVar(&in.Protected, "protected", false, "only team admins and allowed deployers deploy here")
				f.StringArrayVar(&in.AllowedDeployers, "allow-deployer", nil, "user allowed to deploy to a protected environment (repeatable)")
			},
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				in.Name = args[0]
				e, err := c.CreateEnvironment(cmd.Context(), in)
				if err == nil {
					fmt.Fprintf(s.Out, "created environment %s (namespaces %s)\n", e.Name, e.NamespaceTemplate)
				}
				return err
			}),
		actionCmd("delete NAME", "Remove an environment from Berth; its cluster is not touched", "  berth envs delete staging", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
				err := c.DeleteEnvironment(cmd.Context(), args[0])
				if err == nil {
					fmt.Fprintf(s.Out, "deleted environment %s\n", args[0])
				}
				return err
			}),
	)
}

// NewCmdAudit returns `berth audit`.
func NewCmdAudit(s *IOStreams) *cobra.Command {
	var f apiclient.AuditFilter
	cmd := listCmd(s, "audit", "Show the audit log: who did what, when, with what outcome",
		"  berth audit --team insights --since 24h\n  berth audit --app reports -o json\n  berth audit verify",
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&f.Team, "team", "", "only this team's events")
			cmd.Flags().StringVar(&f.App, "app", "", "only this app's events")
			cmd.Flags().StringVar(&f.Actor, "actor", "", "only this user's events")
			cmd.Flags().StringVar(&f.Since, "since", "", "only events since a duration ago (24h) or an RFC 3339 time")
			cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many events")
		},
		func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.AuditEvent, error) {
			return c.Audit(cmd.Context(), f)
		},
		[]string{"ID", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"},
		func(e apiv1.AuditEvent) []string {
			return []string{strconv.FormatInt(e.ID, 10), ago(s, e.Time), e.Actor, e.Action, e.Target, e.Outcome}
		})
	cmd.Aliases = nil
	cmd.AddCommand(&cobra.Command{
		Use:     "verify",
		Short:   "Check the audit log's hash chain for edited, inserted or deleted events (global admins)",
		Example: "  berth audit verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			v, err := c.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if v.OK {
				fmt.Fprintln(s.Out, "audit log intact")
				return nil
			}
			for _, p := range v.Problems {
				fmt.Fprintf(s.Out, "event %d: %s\n", p.ID, p.Problem)
			}
			return fmt.Errorf("audit log tampered with: %d problem(s)", len(v.Problems))
		},
	})
	return cmd
}
