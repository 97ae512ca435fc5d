package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdTokens returns `berth tokens`.
func NewCmdTokens(f *Factory) *cobra.Command {
	return group("tokens", "Manage API tokens", NewCmdTokensList(f, nil), NewCmdTokensCreate(f, nil), NewCmdTokensRevoke(f, nil))
}

// TokensListOptions are the inputs of `berth tokens list`.
type TokensListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	User      string
	Output    string
}

// NewCmdTokensList returns `berth tokens list`.
func NewCmdTokensList(f *Factory, runF func(*TokensListOptions) error) *cobra.Command {
	o := &TokensListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List your tokens (--user for someone else's, global admins)", Example: "  berth tokens list\n  berth tokens list --user alice",
		Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return tokensListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.User, "user", "", "whose tokens (default: yours)")
	return cmd
}

func tokensListRun(ctx context.Context, o *TokensListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ts, err := c.Tokens(ctx, o.User)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, ts, []string{"ID", "NAME", "USER", "PREFIX", "CREATED", "EXPIRES", "STATE"},
		func(t apiv1.Token) []string {
			state, expiresAt := t.State, "never"
			if t.ExpiresAt != nil {
				expiresAt = t.ExpiresAt.UTC().Format("2006-01-02 15:04")
			}
			return []string{strconv.FormatInt(t.ID, 10), t.Name, t.User, t.Prefix + "…", ago(o.IO, t.CreatedAt), expiresAt, state}
		})
}

// TokensCreateOptions are the inputs of `berth tokens create`.
type TokensCreateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	User      string
	ExpiresIn string
}

// NewCmdTokensCreate returns `berth tokens create`.
func NewCmdTokensCreate(f *Factory, runF func(*TokensCreateOptions) error) *cobra.Command {
	o := &TokensCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "create NAME", Short: "Create a token; its secret is printed once and never again",
		Example: "  berth tokens create laptop --expires-in 720h\n  berth tokens create ci --user deploy-bot", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return tokensCreateRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.User, "user", "", "owner (default: you; others need a global admin)")
	cmd.Flags().StringVar(&o.ExpiresIn, "expires-in", "", "lifetime such as 720h (default: never expires)")
	return cmd
}

func tokensCreateRun(ctx context.Context, o *TokensCreateOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	t, err := c.CreateToken(ctx, apiv1.CreateToken{Name: o.Name, User: o.User, ExpiresIn: o.ExpiresIn})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "created token %d (%s) for %s; the secret is shown only now:\n", t.ID, t.Name, t.User)
	fmt.Fprintln(o.IO.Out, t.Secret)
	return nil
}

// TokensRevokeOptions are the inputs of `berth tokens revoke`.
type TokensRevokeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// ID is the token's id as given, checked when the command runs.
	ID string
}

// NewCmdTokensRevoke returns `berth tokens revoke`.
func NewCmdTokensRevoke(f *Factory, runF func(*TokensRevokeOptions) error) *cobra.Command {
	o := &TokensRevokeOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "revoke ID", Short: "Revoke a token at once", Example: "  berth tokens revoke 7", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if runF != nil {
				return runF(o)
			}
			return tokensRevokeRun(cmd.Context(), o)
		},
	}
}

func tokensRevokeRun(ctx context.Context, o *TokensRevokeOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(o.ID, 10, 64)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("token id %q must be a number (see `berth tokens list`)", o.ID)}
	}
	t, err := c.RevokeToken(ctx, id)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "revoked token %d (%s) of %s\n", t.ID, t.Name, t.User)
	}
	return err
}
