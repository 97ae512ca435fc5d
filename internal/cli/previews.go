package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdPreviews returns `berth previews`.
func NewCmdPreviews(f *Factory) *cobra.Command {
	return group("previews", "Pull requests' previews: each one's app deployed in an environment of its own",
		NewCmdPreviewsList(f, nil))
}

// PreviewsListOptions are the inputs of `berth previews list`.
type PreviewsListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App, Team string
	// All lists the closed previews too.
	All    bool
	Limit  int
	Output string
}

// NewCmdPreviewsList returns `berth previews list`.
func NewCmdPreviewsList(f *Factory, runF func(*PreviewsListOptions) error) *cobra.Command {
	o := &PreviewsListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "list [--app APP] [--team TEAM] [--all]",
		Short: "List a team's pull-request previews: the PR, its branch and commit, the environment, its state",
		Long: `Every pull request of an app whose berth.yaml asks for previews,

  git:
    previews: {env: preview}

gets a preview: the pull request's head deployed into an environment of its own, made
from the preview environment preview (` + "`berth envs create preview --preview-of staging`" + `)
and named after it, the team, the app and the pull request (preview-shop-web-pr7). Each
push deploys it again; closing or merging the pull request, or no push for the server's
--preview-ttl, closes it and removes what it ran.

This lists the active previews, newest first; --all adds the closed ones, saying why
each was closed. Name an app (its team is looked up), or a team for all of its apps.`,
		Example: `  # The previews of web's open pull requests
  berth previews list --app web

  # Every preview of team shop's apps, the closed ones too, as JSON
  berth previews list --team shop --all -o json`,
		Aliases: []string{"ls"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return previewsListRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "only this app's previews")
	cmd.Flags().StringVar(&o.Team, "team", "", "the team (default: the app's, looked up)")
	cmd.Flags().BoolVar(&o.All, "all", false, "the closed previews too")
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "at most this many, newest first (1 to 1000)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func previewsListRun(ctx context.Context, o *PreviewsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.App == "" && o.Team == "" {
		return &UsageError{Err: errors.New("name an app (--app APP) or a team (--team TEAM)")}
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
	ps, err := c.Previews(ctx, team, o.App, o.All, o.Limit)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, ps)
	}
	if len(ps) == 0 {
		fmt.Fprintln(o.IO.ErrOut, noPreviews(team, o.App, o.All))
		return nil
	}
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		sha := p.SHA
		if len(sha) > 12 {
			sha = sha[:12]
		}
		state := p.State
		if p.Reason != "" {
			state += " (" + p.Reason + ")"
		}
		rows = append(rows, []string{p.App, "#" + strconv.Itoa(p.PR), p.Branch, sha, p.Env, state, ago(o.IO, p.UpdatedAt), p.URL})
	}
	return printTable(o.IO, []string{"APP", "PR", "BRANCH", "SHA", "ENV", "STATE", "UPDATED", "URL"}, rows)
}

// noPreviews says why there is nothing to list, and what would make a preview.
func noPreviews(team, app string, all bool) string {
	of := "team " + team + "'s apps"
	if app != "" {
		of = team + "/" + app
	}
	if all {
		return fmt.Sprintf("no previews of %s yet: a pull request gets one when the app's berth.yaml has git: previews: {env: ENV}", of)
	}
	return fmt.Sprintf("no active previews of %s (--all lists the closed ones): a pull request gets one when the app's berth.yaml has git: previews: {env: ENV}", of)
}
