package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// maxTokenFile bounds what --token-file reads.
const maxTokenFile = 4 << 10

// AppsConnectOptions are the inputs of `berth apps connect`.
type AppsConnectOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App, Team string
	Repo      string
	Forge     string
	Path      string
	Branch    string
	TokenFile string
	Output    string
	// CreateWebhook has the server register the webhook, to HookURL when given.
	CreateWebhook bool
	HookURL       string
}

// NewCmdAppsConnect returns `berth apps connect`.
func NewCmdAppsConnect(f *Factory, runF func(*AppsConnectOptions) error) *cobra.Command {
	o := &AppsConnectOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "connect APP --repo URL --token-file FILE [--forge gitea|github] [--path berth.yaml] [--branch main]",
		Short: "Connect an app to its git repository, for deploys from pushes, tags and pull requests (team admins)",
		Long: `Connect an app to the repository its manifest and code live in. Berth reads the manifest
from the repository at each pushed commit, and writes commit statuses and pull-request
comments, with the forge token given by --token-file (a file, or - for standard input; it
travels in a request body and is stored encrypted like secrets). The answer shows the
webhook URL and secret to set on the repository (content type JSON), once: connecting
again makes a new secret. The rules that say what a push, a tag or a pull request deploys
are in the manifest, under git: (docs/git-flow.md).`,
		Example: `  berth apps connect web --repo http://127.0.0.1:3000/shop/web --token-file ~/.config/berth/gitea.token
  berth apps connect web --repo http://127.0.0.1:3000/shop/web --token-file gitea.token --create-webhook
  gh auth token | berth apps connect web --forge github --repo https://github.com/shop/web --token-file -
  berth apps connect api --repo https://git.example.com/shop/monorepo --path api/berth.yaml --branch trunk --token-file t`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return appsConnectRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Repo, "repo", "", "the repository's http(s) URL (required)")
	cmd.Flags().StringVar(&o.Forge, "forge", "gitea", "the forge hosting it: gitea or github")
	cmd.Flags().StringVar(&o.Path, "path", "berth.yaml", "the manifest's path in the repository")
	cmd.Flags().StringVar(&o.Branch, "branch", "main", "the repository's default branch")
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "file holding the forge token, or - for standard input (required)")
	cmd.Flags().BoolVar(&o.CreateWebhook, "create-webhook", false, "have the server register the webhook on the repository with the token")
	cmd.Flags().StringVar(&o.HookURL, "hook-url", "", "where the forge reaches the server's /hooks/FORGE (default: the server's --public-url); implies --create-webhook")
	return cmd
}

func appsConnectRun(ctx context.Context, o *AppsConnectOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	switch {
	case o.Repo == "":
		return &UsageError{Err: errors.New("--repo is required: the repository's URL")}
	case o.TokenFile == "":
		return &UsageError{Err: errors.New("--token-file is required: a file holding the forge token, or - for standard input")}
	}
	token, err := readToken(o.IO, o.TokenFile)
	if err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	conn, err := c.ConnectRepo(ctx, team, o.App, apiv1.ConnectRepo{Forge: o.Forge, URL: o.Repo, Path: o.Path, Branch: o.Branch, Token: token,
		CreateWebhook: o.CreateWebhook, HookURL: o.HookURL})
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, conn)
	}
	r := conn.Repo
	fmt.Fprintf(o.IO.Out, "connected %s/%s to %s %s (%s on %s)\n", r.Team, r.App, r.Forge, r.Repo, r.Path, r.Branch)
	if conn.HookURL != "" {
		fmt.Fprintf(o.IO.Out, "registered the repository's webhook (push and pull request events) to %s\n", conn.HookURL)
		return nil
	}
	fmt.Fprintf(o.IO.Out, "set this webhook on the repository (content type application/json; push and pull request events):\n")
	fmt.Fprintf(o.IO.Out, "  URL:    %s%s\n  secret: %s\n", c.Server(), r.HookPath, conn.HookSecret)
	fmt.Fprintln(o.IO.Out, "the secret is shown this once; connecting again makes a new one")
	return nil
}

// readToken reads a token from file, or standard input for -, without the whitespace
// around it. Its errors never quote it.
func readToken(s *IOStreams, file string) (string, error) {
	var r io.Reader
	from := file
	if file == "-" {
		r, from = s.In, "standard input"
	} else {
		fh, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read the token from %s: %w", from, err)
	}
	if len(data) > maxTokenFile {
		return "", &UsageError{Err: fmt.Errorf("the token from %s is over %d KiB", from, maxTokenFile>>10)}
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", &UsageError{Err: fmt.Errorf("the token from %s is empty", from)}
	}
	return token, nil
}

// AppsDisconnectOptions are the inputs of `berth apps disconnect`.
type AppsDisconnectOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App, Team string
}

// NewCmdAppsDisconnect returns `berth apps disconnect`.
func NewCmdAppsDisconnect(f *Factory, runF func(*AppsDisconnectOptions) error) *cobra.Command {
	o := &AppsDisconnectOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "disconnect APP", Short: "Disconnect an app from its repository: its webhooks are refused from then on (team admins)",
		Example: "  berth apps disconnect web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			c, err := o.APIClient()
			if err != nil {
				return err
			}
			team, err := resolveTeam(cmd.Context(), c, o.App, o.Team)
			if err != nil {
				return err
			}
			if err := c.DisconnectRepo(cmd.Context(), team, o.App); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "disconnected %s/%s from its repository\n", team, o.App)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	return cmd
}

// AppsGitJobsOptions are the inputs of `berth apps git-jobs`.
type AppsGitJobsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App, Team string
	Limit     int
	Output    string
}

// NewCmdAppsGitJobs returns `berth apps git-jobs`.
func NewCmdAppsGitJobs(f *Factory) *cobra.Command {
	o := &AppsGitJobsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "git-jobs APP",
		Short: "What the app's webhook deliveries asked, and what became of each: why a push deployed nothing",
		Example: `  berth apps git-jobs web
  berth apps git-jobs web --limit 5 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			return appsGitJobsRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().IntVar(&o.Limit, "limit", 20, "at most this many, newest first (1 to 1000)")
	return cmd
}

func appsGitJobsRun(ctx context.Context, o *AppsGitJobsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Limit < 1 || o.Limit > 1000 {
		return &UsageError{Err: fmt.Errorf("--limit must be 1 to 1000, not %d", o.Limit)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	js, err := c.GitJobs(ctx, team, o.App, o.Limit)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, js)
	}
	if len(js) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "no webhook deliveries for %s/%s yet: is the repository's webhook set (berth apps connect prints it)?\n", team, o.App)
		return nil
	}
	rows := make([][]string, 0, len(js))
	for _, j := range js {
		what := j.Ref
		if j.PR > 0 {
			what = fmt.Sprintf("#%d", j.PR)
		}
		sha := j.SHA
		if len(sha) > 12 {
			sha = sha[:12]
		}
		deploy := "-"
		if j.Deploy > 0 {
			deploy = strconv.FormatInt(j.Deploy, 10)
		}
		rows = append(rows, []string{strconv.FormatInt(j.ID, 10), j.Event, what, sha, j.State, deploy, ago(o.IO, j.CreatedAt), orDash(j.Reason)})
	}
	return printTable(o.IO, []string{"JOB", "EVENT", "REF", "COMMIT", "STATE", "DEPLOY", "WHEN", "WHY"}, rows)
}
