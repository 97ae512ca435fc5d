package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// SettingsOptions are what the `berth config` and `berth secrets` commands share: which
// kind of setting, and the level (scope) the flags name.
type SettingsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Secret    bool // secrets rather than config
	Team      string
	App       string
	Env       string
}

func (o *SettingsOptions) noun() string {
	if o.Secret {
		return "secrets"
	}
	return "config"
}

func (o *SettingsOptions) bindScope(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Team, "team", "", "the team's level (with --app: the app's team, default looked up)")
	f.StringVar(&o.App, "app", "", "the app's level")
	f.StringVar(&o.Env, "env", "", "with --app: the level of the app in this environment")
}

// scope turns the flags into a level; no flags is the global level.
func (o *SettingsOptions) scope(ctx context.Context, c *apiclient.Client) (apiclient.Scope, error) {
	if o.Env != "" && o.App == "" {
		return apiclient.Scope{}, &UsageError{Err: errors.New("--env needs --app: environment-specific settings belong to an app")}
	}
	sc := apiclient.Scope{Team: o.Team, App: o.App, Env: o.Env}
	if o.App != "" {
		var err error
		if sc.Team, err = resolveTeam(ctx, c, o.App, o.Team); err != nil {
			return sc, err
		}
	}
	return sc, nil
}

// SettingsSetOptions are the inputs of `berth config set` and `berth secrets set`.
type SettingsSetOptions struct {
	SettingsOptions
	// Pairs are the arguments: KEY=VALUE, or (secrets) one KEY whose value is read from
	// stdin or a prompt.
	Pairs []string
	// Redeploy redeploys the apps a change affects, and waits for them.
	Redeploy bool
}

// SettingsUnsetOptions are the inputs of `berth config unset` and `berth secrets unset`.
type SettingsUnsetOptions struct {
	SettingsOptions
	Keys     []string
	Redeploy bool
}

// SettingsListOptions are the inputs of `berth config list` and `berth secrets list`.
type SettingsListOptions struct {
	SettingsOptions
	// Resolved lists what a deploy of --app to --env gets, from every level.
	Resolved bool
	Output   string
}

// levelName names where a setting is set: global, team shop, app shop/web, app shop/web in
// staging.
func levelName(level, team, app, env string) string {
	switch level {
	case "team":
		return "team " + team
	case "app":
		return "app " + team + "/" + app
	case "app+env":
		return "app " + team + "/" + app + " in " + env
	}
	return level
}

func scopeName(sc apiclient.Scope) string {
	switch {
	case sc.Env != "":
		return levelName("app+env", sc.Team, sc.App, sc.Env)
	case sc.App != "":
		return levelName("app", sc.Team, sc.App, "")
	case sc.Team != "":
		return levelName("team", sc.Team, "", "")
	}
	return "global"
}

const scopeHelp = `Settings live at four levels; a deploy gets, for each key, the most specific one:

  (no flag)                  global: every app of every team (global admins set these)
  --team T                   every app of team T (team admins)
  --app A [--team T]         app A in every environment (team admins)
  --app A --env E            app A in environment E (team admins)

Manifests read them as ${config.KEY} and ${secrets.KEY}. At deploy time they become the
ConfigMap <app>-config and the Secret <app>-secrets in the app's namespace, and the
variables that name them read them from there; the annotation env.berth.dev/from:
config,secrets in the manifest's metadata gives the containers all of them. A key no level
sets fails the deploy before anything is applied.`

// NewCmdConfig returns `berth config`.
func NewCmdConfig(f *Factory) *cobra.Command {
	return newSettingsCmd(false, NewCmdConfigSet(f, nil), NewCmdConfigUnset(f, nil), NewCmdConfigList(f, nil))
}

// NewCmdSecrets returns `berth secrets`.
func NewCmdSecrets(f *Factory) *cobra.Command {
	return newSettingsCmd(true, NewCmdSecretsSet(f, nil), NewCmdSecretsUnset(f, nil), NewCmdSecretsList(f, nil))
}

func newSettingsCmd(secret bool, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Args: cobra.NoArgs}
	if secret {
		cmd.Use = "secrets"
		cmd.Short = "Manage secrets injected into apps at deploy time: set, unset, list (never shown)"
		cmd.Long = "Secrets are encrypted at rest in the server's database and written only into the\n" +
			"Kubernetes Secret of each app. Listings show names, levels and versions, never values.\n\n" + scopeHelp
	} else {
		cmd.Short = "Manage central config injected into apps at deploy time: set, unset, list"
		cmd.Long = scopeHelp
	}
	cmd.AddCommand(subs...)
	return cmd
}

// NewCmdConfigSet returns `berth config set`.
func NewCmdConfigSet(f *Factory, runF func(*SettingsSetOptions) error) *cobra.Command {
	return newSettingsSetCmd(f, false, runF)
}

// NewCmdSecretsSet returns `berth secrets set`.
func NewCmdSecretsSet(f *Factory, runF func(*SettingsSetOptions) error) *cobra.Command {
	return newSettingsSetCmd(f, true, runF)
}

func newSettingsSetCmd(f *Factory, secret bool, runF func(*SettingsSetOptions) error) *cobra.Command {
	o := &SettingsSetOptions{SettingsOptions: SettingsOptions{IO: f.IO, APIClient: f.apiClient, Secret: secret}}
	cmd := &cobra.Command{
		Use:   "set KEY=VALUE... [--team T | --app A [--env E]] [--redeploy]",
		Short: "Set config values at one level (a new version of each)",
		Example: `  berth config set LOG_FORMAT=json                             # global
  berth config set REGION=eu-west-1 --team insights
  berth config set FEATURES=beta --app reports --env staging --redeploy`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pairs = args
			if runF != nil {
				return runF(o)
			}
			return settingsSetRun(cmd.Context(), o)
		},
	}
	if o.Secret {
		cmd.Use = "set KEY[=VALUE]... [--team T | --app A [--env E]] [--redeploy]"
		cmd.Short = "Set secrets at one level; a KEY without a value is read from stdin or a hidden prompt"
		cmd.Long = `Sets each secret to a new version. A KEY given without =VALUE is read from standard input
(all of it, without its final newline) or, on a terminal, from a hidden prompt, so that the
value stays out of shell history and process listings. The value is never printed.`
		cmd.Example = `  berth secrets set DB_PASSWORD --app reports --env production      # prompts
  vault read -field=key secret/stripe | berth secrets set STRIPE_KEY --team payments
  berth secrets set TLS_KEY --app web < tls.key
  berth secrets set API_TOKEN --app reports --redeploy`
	}
	o.bindScope(cmd)
	cmd.Flags().BoolVar(&o.Redeploy, "redeploy", false, "redeploy the deployed apps that read a changed key, and wait for them")
	return cmd
}

// NewCmdConfigUnset returns `berth config unset`.
func NewCmdConfigUnset(f *Factory, runF func(*SettingsUnsetOptions) error) *cobra.Command {
	return newSettingsUnsetCmd(f, false, runF)
}

// NewCmdSecretsUnset returns `berth secrets unset`.
func NewCmdSecretsUnset(f *Factory, runF func(*SettingsUnsetOptions) error) *cobra.Command {
	return newSettingsUnsetCmd(f, true, runF)
}

func newSettingsUnsetCmd(f *Factory, secret bool, runF func(*SettingsUnsetOptions) error) *cobra.Command {
	o := &SettingsUnsetOptions{SettingsOptions: SettingsOptions{IO: f.IO, APIClient: f.apiClient, Secret: secret}}
	cmd := &cobra.Command{
		Use:   "unset KEY... [--team T | --app A [--env E]] [--redeploy]",
		Short: "Remove keys from one level (a less specific level's value, if any, applies again)",
		Example: fmt.Sprintf(`  berth %[1]s unset OLD_FLAG
  berth %[1]s unset REGION --app reports --env staging --redeploy`, o.noun()),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Keys = args
			if runF != nil {
				return runF(o)
			}
			return settingsUpdate(cmd.Context(), &o.SettingsOptions, o.Redeploy, apiv1.UpdateSettings{Unset: o.Keys})
		},
	}
	o.bindScope(cmd)
	cmd.Flags().BoolVar(&o.Redeploy, "redeploy", false, "redeploy the deployed apps that read a removed key, and wait for them")
	return cmd
}

// NewCmdConfigList returns `berth config list`.
func NewCmdConfigList(f *Factory, runF func(*SettingsListOptions) error) *cobra.Command {
	return newSettingsListCmd(f, false, runF)
}

// NewCmdSecretsList returns `berth secrets list`.
func NewCmdSecretsList(f *Factory, runF func(*SettingsListOptions) error) *cobra.Command {
	return newSettingsListCmd(f, true, runF)
}

func newSettingsListCmd(f *Factory, secret bool, runF func(*SettingsListOptions) error) *cobra.Command {
	o := &SettingsListOptions{SettingsOptions: SettingsOptions{IO: f.IO, APIClient: f.apiClient, Secret: secret}}
	cmd := &cobra.Command{
		Use:     "list [--team T | --app A [--env E]] [--resolved]",
		Aliases: []string{"ls"},
		Short:   "List the config values set at one level, or with --resolved what an app gets from all levels",
		Example: `  berth config list
  berth config list --team insights -o json
  berth config list --app reports --env staging --resolved`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return settingsListRun(cmd.Context(), o)
		},
	}
	if o.Secret {
		cmd.Short = "List the secrets set at one level (names, versions, never values), or with --resolved what an app gets"
		cmd.Example = `  berth secrets list --app reports
  berth secrets list --app reports --env production --resolved -o yaml`
	}
	o.bindScope(cmd)
	cmd.Flags().BoolVar(&o.Resolved, "resolved", false, "with --app and --env: each key a deploy gets, and the level it comes from")
	bindOutput(cmd, &o.Output)
	return cmd
}

func settingsSetRun(ctx context.Context, o *SettingsSetOptions) error {
	set := map[string]string{}
	var prompt string
	for _, a := range o.Pairs {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case k == "":
			return &UsageError{Err: fmt.Errorf("%q: want KEY=VALUE", a)}
		case !ok && !o.Secret:
			return &UsageError{Err: fmt.Errorf("%q: want KEY=VALUE (to remove a key, use `berth config unset %s`)", a, a)}
		case !ok && prompt != "":
			return &UsageError{Err: fmt.Errorf("only one secret can be read from stdin or a prompt: give %s as KEY=VALUE, or set it separately", k)}
		case !ok:
			prompt = k
			continue
		}
		if _, dup := set[k]; dup {
			return &UsageError{Err: fmt.Errorf("%s is given twice", k)}
		}
		set[k] = v
	}
	if prompt != "" {
		if _, dup := set[prompt]; dup {
			return &UsageError{Err: fmt.Errorf("%s is given twice", prompt)}
		}
		v, err := readSecretValue(o.IO, prompt)
		if err != nil {
			return err
		}
		set[prompt] = v
	}
	return settingsUpdate(ctx, &o.SettingsOptions, o.Redeploy, apiv1.UpdateSettings{Set: set})
}

// readSecretValue reads a value from a hidden prompt on a terminal, or all of stdin
// without its final newline, so that multi-line values (keys, certificates) work.
func readSecretValue(s *IOStreams, key string) (string, error) {
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(s.ErrOut, "Value of %s (hidden): ", key)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			return "", fmt.Errorf("no value given for %s", key)
		}
		return string(b), nil
	}
	b, err := io.ReadAll(io.LimitReader(s.In, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read %s from standard input: %w", key, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("no value for %s on standard input: pipe it in, or run on a terminal to be prompted", key)
	}
	return v, nil
}

// settingsUpdate makes one change at o's level, prints it and, with redeploy, waits for
// the redeploys it queued.
func settingsUpdate(ctx context.Context, o *SettingsOptions, redeploy bool, in apiv1.UpdateSettings) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	sc, err := o.scope(ctx, c)
	if err != nil {
		return err
	}
	in.Redeploy = redeploy
	versions := map[string]int64{}
	var deploys []apiv1.Deploy
	if o.Secret {
		out, err := c.UpdateSecrets(ctx, sc, in)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			versions[it.Key] = it.Version
		}
		deploys = out.Deploys
	} else {
		out, err := c.UpdateConfig(ctx, sc, in)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			versions[it.Key] = it.Version
		}
		deploys = out.Deploys
	}
	what := "config"
	if o.Secret {
		what = "secret"
	}
	where := scopeName(sc)
	for _, k := range sortedKeys(in.Set) {
		fmt.Fprintf(o.IO.Out, "set %s %s (version %d) at %s\n", what, k, versions[k], where)
	}
	for _, k := range in.Unset {
		fmt.Fprintf(o.IO.Out, "unset %s %s at %s\n", what, k, where)
	}
	if !redeploy {
		return nil
	}
	if len(deploys) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "no deployed app reads the changed keys from this level: nothing to redeploy")
		return nil
	}
	fmt.Fprintf(o.IO.ErrOut, "redeploying %d app environment(s) with the new %s\n", len(deploys), o.noun())
	return waitAll(ctx, o.IO, c, deploys)
}

func settingsListRun(ctx context.Context, o *SettingsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Resolved && (o.App == "" || o.Env == "") {
		return &UsageError{Err: errors.New("--resolved needs --app and --env: what a deploy of the app to the environment gets")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	sc, err := o.scope(ctx, c)
	if err != nil {
		return err
	}
	var config []apiv1.ConfigValue
	var secrets []apiv1.Secret
	switch {
	case o.Resolved:
		r, err := c.ResolvedSettings(ctx, sc.Team, sc.App, sc.Env)
		if err != nil {
			return err
		}
		config, secrets = r.Config, r.Secrets
	case o.Secret:
		if secrets, err = c.Secrets(ctx, sc); err != nil {
			return err
		}
	default:
		if config, err = c.Config(ctx, sc); err != nil {
			return err
		}
	}
	if o.Secret {
		if secrets == nil {
			secrets = []apiv1.Secret{}
		}
		if o.Output != "table" {
			return printData(o.IO.Out, o.Output, secrets)
		}
		rows := make([][]string, len(secrets))
		for i, s := range secrets {
			rows[i] = []string{s.Key, levelName(s.Level, s.Team, s.App, s.Env), strconv.FormatInt(s.Version, 10), s.KeyID,
				s.UpdatedBy, ago(o.IO, s.UpdatedAt)}
		}
		return printTable(o.IO, []string{"KEY", "LEVEL", "VERSION", "KEY ID", "UPDATED BY", "UPDATED"}, rows)
	}
	if config == nil {
		config = []apiv1.ConfigValue{}
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, config)
	}
	rows := make([][]string, len(config))
	for i, v := range config {
		rows[i] = []string{v.Key, showValue(v.Value), levelName(v.Level, v.Team, v.App, v.Env), strconv.FormatInt(v.Version, 10),
			v.UpdatedBy, ago(o.IO, v.UpdatedAt)}
	}
	return printTable(o.IO, []string{"KEY", "VALUE", "LEVEL", "VERSION", "UPDATED BY", "UPDATED"}, rows)
}

// showValue fits a config value in a table cell: quoted when it has control characters or
// spaces at its ends, cut at 60 characters.
func showValue(v string) string {
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.TrimSpace(v) != v || v == "" {
		v = strconv.Quote(v)
	}
	return truncate(v, 60)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
