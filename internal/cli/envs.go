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
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
)

// NewCmdEnvs returns `berth envs`.
func NewCmdEnvs(f *Factory) *cobra.Command {
	return group("envs", "Manage environments: where apps are deployed", NewCmdEnvsList(f, nil), NewCmdEnvsGet(f, nil),
		NewCmdEnvsCreate(f, nil), NewCmdEnvsUpdate(f, nil), NewCmdEnvsSetPostgres(f, nil), NewCmdEnvsDelete(f, nil),
		NewCmdEnvsFreeze(f, nil), NewCmdEnvsFreezes(f, nil), NewCmdEnvsUnfreeze(f, nil),
		NewCmdEnvsSetGitOps(f, nil), NewCmdEnvsGitOps(f, nil), NewCmdEnvsUnsetGitOps(f, nil),
		NewCmdEnvsSetBackupStore(f, nil), NewCmdEnvsSetProbe(f, nil), NewCmdEnvsProbe(f, nil))
}

// EnvsListOptions are the inputs of `berth envs list`.
type EnvsListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdEnvsList returns `berth envs list`.
func NewCmdEnvsList(f *Factory, runF func(*EnvsListOptions) error) *cobra.Command {
	o := &EnvsListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List environments", Example: "  berth envs list", Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return envsListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsListRun(ctx context.Context, o *EnvsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	es, err := c.Environments(ctx)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, es, []string{"NAME", "CLUSTER", "NAMESPACE", "PROTECTED", "NODE-SELECTOR", "TOLERATIONS",
		"BASE-DOMAIN", "STORAGE-CLASS", "POSTGRES", "PREVIEW"},
		func(e apiv1.Environment) []string {
			return []string{e.Name, envCluster(e), e.NamespaceTemplate, strconv.FormatBool(e.Protected),
				orDash(strings.Join(nodeSelectorText(e.NodeSelector), ",")), orDash(strings.Join(tolerationsText(e.Tolerations), ",")),
				orDash(e.BaseDomain), orDash(e.StorageClass), orDash(e.Postgres), envPreview(e)}
		})
}

// envPreview says what an environment has to do with previews: a preview environment
// names its fallback ("of staging"), the environment of one pull request's preview the
// preview environment it was made from ("PR of preview"); other environments have none.
func envPreview(e apiv1.Environment) string {
	switch {
	case e.PreviewOf != "":
		return "of " + e.PreviewOf
	case e.PreviewBase != "":
		return "PR of " + e.PreviewBase
	}
	return "-"
}

func envCluster(e apiv1.Environment) string {
	if e.InCluster {
		return "in-cluster"
	}
	if e.Context != "" {
		return e.Kubeconfig + " (" + e.Context + ")"
	}
	return e.Kubeconfig
}

// nodeSelectorText is a node selector as the flags take it: KEY=VALUE, sorted.
func nodeSelectorText(sel map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		out = append(out, k+"="+sel[k])
	}
	return out
}

// tolerationsText is tolerations as the flags take them: KEY=VALUE:EFFECT or KEY:EFFECT.
func tolerationsText(ts []apiv1.Toleration) []string {
	var out []string
	for _, t := range apiv1.ToTolerations(ts) {
		out = append(out, t.String())
	}
	return out
}

// EnvsGetOptions are the inputs of `berth envs get`.
type EnvsGetOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	Output    string
}

// NewCmdEnvsGet returns `berth envs get`.
func NewCmdEnvsGet(f *Factory, runF func(*EnvsGetOptions) error) *cobra.Command {
	o := &EnvsGetOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "get NAME", Short: "Show an environment: its cluster, namespaces, protection, scheduling defaults and resource settings",
		Example: "  berth envs get staging\n  berth envs get staging -o json", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsGetRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsGetRun(ctx context.Context, o *EnvsGetOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	e, err := c.Environment(ctx, o.Name)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, e)
	}
	rows := [][2]string{
		{"name", e.Name},
		{"cluster", envCluster(e)},
		{"namespaces", e.NamespaceTemplate},
		{"protected", strconv.FormatBool(e.Protected)},
		{"allowed deployers", orDash(strings.Join(e.AllowedDeployers, ", "))},
		{"node selector", orDash(strings.Join(nodeSelectorText(e.NodeSelector), ", "))},
		{"tolerations", orDash(strings.Join(tolerationsText(e.Tolerations), ", "))},
		{"base domain", orDash(e.BaseDomain)},
		{"storage class", orDash(e.StorageClass)},
		{"postgres", orDash(e.Postgres)},
		{"created", ago(o.IO, e.CreatedAt)},
	}
	if e.PreviewOf != "" {
		rows = append(rows, [2]string{"preview of", e.PreviewOf + " (previews' dependencies fall back to it)"})
	}
	if e.PreviewBase != "" {
		rows = append(rows, [2]string{"preview", "a pull request's, made from the preview environment " + e.PreviewBase})
	}
	return printFields(o.IO, rows)
}

// EnvsCreateOptions are the inputs of `berth envs create`: the environment to define, and
// its scheduling defaults as the flags give them (KEY=VALUE; KEY=VALUE:EFFECT or KEY:EFFECT).
type EnvsCreateOptions struct {
	IO           *IOStreams
	APIClient    func() (*apiclient.Client, error)
	Env          apiv1.CreateEnvironment
	NodeSelector []string
	Tolerations  []string
}

// NewCmdEnvsCreate returns `berth envs create`.
func NewCmdEnvsCreate(f *Factory, runF func(*EnvsCreateOptions) error) *cobra.Command {
	o := &EnvsCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "create NAME (--kubeconfig PATH [--context C] | --in-cluster)", Short: "Define an environment (global admins)",
		Long: `Define an environment: the cluster Berth deploys to (a kubeconfig on the server's machine,
or the server's own service account), the namespace each team's (or app's) apps get, and
who may deploy to it.

Scheduling defaults go into every pod Berth renders for the environment: --node-selector
labels are merged into the pod's node selector, and --toleration tolerations are added to
its tolerations. A toleration is written like the taint it tolerates: KEY=VALUE:EFFECT
(operator Equal) or KEY:EFFECT (operator Exists, any value), with EFFECT one of
NoSchedule, PreferNoSchedule or NoExecute. Change them later with ` + "`berth envs update`" + `.`,
		Example: `  berth envs create staging --kubeconfig ~/.kube/config --context staging
  berth envs create production --kubeconfig /etc/berth/prod.kubeconfig --protected --allow-deployer release-bot
  berth envs create preview --kubeconfig ~/.kube/config --preview-of staging
  berth envs create local --kubeconfig $(berth dev cluster kubeconfig) --namespace-template '{team}-{app}-local'
  berth envs create dev --kubeconfig $(berth dev cluster kubeconfig) \
      --node-selector berth.dev/real-node=true --toleration berth.dev/real-node=true:NoSchedule`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsCreateRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Env.Kubeconfig, "kubeconfig", "", "kubeconfig path on the server's machine")
	fl.StringVar(&o.Env.Context, "context", "", "kubeconfig context (default: its current context)")
	fl.BoolVar(&o.Env.InCluster, "in-cluster", false, "use the server's own service account")
	fl.StringVar(&o.Env.NamespaceTemplate, "namespace-template", "", "namespace per app: {team}, {env} and {app} are replaced (default {team}-{env})")
	fl.BoolVar(&o.Env.Protected, "protected", false, "only team admins and allowed deployers deploy here")
	fl.StringArrayVar(&o.Env.AllowedDeployers, "allow-deployer", nil, "user allowed to deploy to a protected environment (repeatable)")
	fl.StringVar(&o.Env.PreviewOf, "preview-of", "", "make it a preview environment (git.previews in berth.yaml) whose previews' dependencies fall back to this environment")
	bindSchedulingFlags(cmd, &o.NodeSelector, &o.Tolerations)
	return cmd
}

func envsCreateRun(ctx context.Context, o *EnvsCreateOptions) error {
	in := o.Env
	var err error
	if len(o.NodeSelector) > 0 {
		if in.NodeSelector, err = parseNodeSelector(o.NodeSelector); err != nil {
			return err
		}
	}
	if len(o.Tolerations) > 0 {
		if in.Tolerations, err = parseTolerations(o.Tolerations); err != nil {
			return err
		}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	e, err := c.CreateEnvironment(ctx, in)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "created environment %s (namespaces %s%s)\n", e.Name, e.NamespaceTemplate, schedulingSummary(e))
	}
	return err
}

// EnvsUpdateOptions are the inputs of `berth envs update`: the scheduling defaults, base
// domain and storage class to set, as the flags give them (nil: not given).
type EnvsUpdateOptions struct {
	IO              *IOStreams
	APIClient       func() (*apiclient.Client, error)
	Name            string
	NodeSelector    []string
	Tolerations     []string
	ClearScheduling bool
	BaseDomain      *string
	StorageClass    *string
}

// NewCmdEnvsUpdate returns `berth envs update`.
func NewCmdEnvsUpdate(f *Factory, runF func(*EnvsUpdateOptions) error) *cobra.Command {
	o := &EnvsUpdateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "update NAME [--node-selector K=V]... [--toleration K=V:EFFECT]... [--clear-scheduling] [--base-domain D] [--storage-class C]",
		Short: "Change an environment's scheduling defaults, base domain or storage class (global admins)",
		Long: `Change the scheduling defaults Berth adds to every pod it renders for the environment, or
what its built-in provisioners give resources there.

--node-selector, when given, replaces the whole node selector with the labels given;
--toleration, when given, replaces all the tolerations with those given; what is not given
stays. --clear-scheduling removes both first, so with it the flags given are all that is
left. A toleration is written like the taint it tolerates: KEY=VALUE:EFFECT (operator
Equal) or KEY:EFFECT (operator Exists, any value), with EFFECT one of NoSchedule,
PreferNoSchedule or NoExecute.

--base-domain is the domain under which dns resources get host names (a dns resource of
the app shop of team web gets shop.web.DOMAIN), for routes to serve; --storage-class is
the storage class volume resources claim from (without one they get emptyDir volumes).
Each is set on its own, keeping the other; an empty value (--base-domain "") removes it.

Apps get the new defaults at their next deploy that renders them: a deploy of a manifest
or a revision, ` + "`berth deploy APP --env ENV --refresh`" + `, or
` + "`berth redeploy team --team TEAM --env ENV --refresh`" + `. Rollbacks, and redeploys
without --refresh, re-apply exactly what ran before.`,
		Example: `  berth envs update dev --node-selector berth.dev/real-node=true --toleration berth.dev/real-node=true:NoSchedule
  berth envs update gpu --toleration nvidia.com/gpu:NoSchedule --toleration dedicated=ml:NoExecute
  berth envs update dev --clear-scheduling
  berth envs update dev --clear-scheduling --node-selector kubernetes.io/os=linux
  berth envs update dev --base-domain dev.localhost --storage-class local-path
  berth envs update dev --storage-class ""`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if !cmd.Flags().Changed("base-domain") {
				o.BaseDomain = nil
			}
			if !cmd.Flags().Changed("storage-class") {
				o.StorageClass = nil
			}
			if runF != nil {
				return runF(o)
			}
			return envsUpdateRun(cmd.Context(), o)
		},
	}
	bindSchedulingFlags(cmd, &o.NodeSelector, &o.Tolerations)
	cmd.Flags().BoolVar(&o.ClearScheduling, "clear-scheduling", false, "remove the node selector and tolerations (before setting those given)")
	o.BaseDomain, o.StorageClass = new(string), new(string)
	cmd.Flags().StringVar(o.BaseDomain, "base-domain", "", `domain dns and route resources get host names under ("" removes it)`)
	cmd.Flags().StringVar(o.StorageClass, "storage-class", "", `storage class volume resources claim from ("" removes it)`)
	return cmd
}

func envsUpdateRun(ctx context.Context, o *EnvsUpdateOptions) error {
	var in apiv1.UpdateEnvironment
	if o.ClearScheduling {
		in.NodeSelector, in.Tolerations = &map[string]string{}, &[]apiv1.Toleration{}
	}
	if len(o.NodeSelector) > 0 {
		sel, err := parseNodeSelector(o.NodeSelector)
		if err != nil {
			return err
		}
		in.NodeSelector = &sel
	}
	if len(o.Tolerations) > 0 {
		ts, err := parseTolerations(o.Tolerations)
		if err != nil {
			return err
		}
		in.Tolerations = &ts
	}
	in.BaseDomain, in.StorageClass = o.BaseDomain, o.StorageClass
	if in.NodeSelector == nil && in.Tolerations == nil && in.BaseDomain == nil && in.StorageClass == nil {
		return &UsageError{Err: errors.New("nothing to change: give --node-selector, --toleration, --clear-scheduling, --base-domain or --storage-class")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	e, err := c.UpdateEnvironment(ctx, o.Name, in)
	if err != nil {
		return err
	}
	summary := schedulingSummary(e) + domainsSummary(e)
	if summary == "" {
		summary = "; no scheduling defaults"
	}
	fmt.Fprintf(o.IO.Out, "updated environment %s (%s)\n", e.Name, strings.TrimPrefix(summary, "; "))
	return nil
}

// bindSchedulingFlags adds the flags of an environment's scheduling defaults.
func bindSchedulingFlags(cmd *cobra.Command, nodeSelector, tolerations *[]string) {
	cmd.Flags().StringArrayVar(nodeSelector, "node-selector", nil, "KEY=VALUE: a label every pod's node must have (repeatable)")
	cmd.Flags().StringArrayVar(tolerations, "toleration", nil, "KEY=VALUE:EFFECT or KEY:EFFECT: a taint every pod tolerates (repeatable)")
}

// parseNodeSelector reads --node-selector flags, checked as the server checks them.
func parseNodeSelector(labels []string) (map[string]string, error) {
	sel := map[string]string{}
	for _, l := range labels {
		k, v, err := berth.ParseLabel(l)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--node-selector %q: %w", l, err)}
		}
		if _, dup := sel[k]; dup {
			return nil, &UsageError{Err: fmt.Errorf("--node-selector %q: %s is given twice", l, k)}
		}
		sel[k] = v
	}
	return sel, nil
}

// parseTolerations reads --toleration flags, checked as the server checks them.
func parseTolerations(specs []string) ([]apiv1.Toleration, error) {
	var seen []berth.Toleration
	out := make([]apiv1.Toleration, 0, len(specs))
	for _, s := range specs {
		t, err := berth.ParseToleration(s)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--toleration %q: %w", s, err)}
		}
		if slices.Contains(seen, t) {
			return nil, &UsageError{Err: fmt.Errorf("--toleration %q is given twice", s)}
		}
		seen = append(seen, t)
		out = append(out, apiv1.Toleration{Key: t.Key, Operator: string(t.Operator), Value: t.Value, Effect: string(t.Effect)})
	}
	return out, nil
}

// schedulingSummary is "; node selector K=V; tolerations K:EFFECT", or "" without defaults.
func schedulingSummary(e apiv1.Environment) string {
	var out string
	if sel := nodeSelectorText(e.NodeSelector); len(sel) > 0 {
		out += "; node selector " + strings.Join(sel, ",")
	}
	if ts := tolerationsText(e.Tolerations); len(ts) > 0 {
		out += "; tolerations " + strings.Join(ts, ",")
	}
	return out
}

// domainsSummary is "; base domain D; storage class C", leaving out what is not set.
func domainsSummary(e apiv1.Environment) string {
	var out string
	if e.BaseDomain != "" {
		out += "; base domain " + e.BaseDomain
	}
	if e.StorageClass != "" {
		out += "; storage class " + e.StorageClass
	}
	return out
}

// EnvsSetPostgresOptions are the inputs of `berth envs set-postgres`: where the DSN comes
// from (DSN "-" is standard input), or Clear.
type EnvsSetPostgresOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	DSN       string
	DSNFile   string
	Clear     bool
	Output    string
}

// maxDSN bounds a DSN read from a file or standard input.
const maxDSN = 64 << 10

// NewCmdEnvsSetPostgres returns `berth envs set-postgres`.
func NewCmdEnvsSetPostgres(f *Factory, runF func(*EnvsSetPostgresOptions) error) *cobra.Command {
	o := &EnvsSetPostgresOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "set-postgres ENV (--dsn-file FILE | --dsn - | --dsn DSN | --clear)",
		Short: "Register the PostgreSQL server the environment's postgres resources get databases on (global admins)",
		Long: `Register the PostgreSQL server on which Berth makes a database and a login role for each
postgres resource an app declares in the environment. The DSN is a URL
(postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require) or a keyword/value string
(host=... port=... user=... password=... dbname=...) whose role may create databases and
roles (CREATEDB and CREATEROLE, or a superuser), on PostgreSQL 13 or newer. The server
connects with it first and refuses a DSN it cannot use, changing nothing.

The server keeps the DSN encrypted with its secrets key and shows it only without its
password (berth envs get); the audit log records the host, port and that form. The DSN
travels in the request's body, never in a URL. Give it with --dsn-file FILE or --dsn -
(standard input) rather than --dsn DSN, which leaves the password in your shell's history
and in the process list.

--clear unregisters the server: the databases on it stay, deploys of apps with postgres
resources fail until a server is registered again, and ` + "`berth resources delete`" + ` cannot
drop their databases.`,
		Example: `  berth envs set-postgres staging --dsn-file ~/.config/berth/staging-postgres.dsn
  pass show platform/staging-postgres | berth envs set-postgres staging --dsn -
  berth envs set-postgres dev --dsn 'postgres://berth@127.0.0.1:5432/postgres?sslmode=disable'
  berth envs set-postgres staging --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			given := 0
			for _, name := range []string{"dsn", "dsn-file", "clear"} {
				if cmd.Flags().Changed(name) {
					given++
				}
			}
			if given != 1 {
				return &UsageError{Err: errors.New("give one of --dsn-file FILE, --dsn - (standard input), --dsn DSN or --clear")}
			}
			if runF != nil {
				return runF(o)
			}
			return envsSetPostgresRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DSN, "dsn", "", "the server's DSN, - to read it from standard input")
	cmd.Flags().StringVar(&o.DSNFile, "dsn-file", "", "a file holding the server's DSN")
	cmd.Flags().BoolVar(&o.Clear, "clear", false, "unregister the environment's server")
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsSetPostgresRun(ctx context.Context, o *EnvsSetPostgresOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	var dsn string
	if !o.Clear {
		var err error
		if dsn, err = readDSN(o); err != nil {
			return err
		}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	var e apiv1.Environment
	if o.Clear {
		e, err = c.ClearEnvironmentPostgres(ctx, o.Name)
	} else {
		e, err = c.SetEnvironmentPostgres(ctx, o.Name, dsn)
	}
	if err != nil {
		return err
	}
	switch {
	case o.Output != "table":
		return printData(o.IO.Out, o.Output, e)
	case o.Clear:
		fmt.Fprintf(o.IO.Out, "environment %s: PostgreSQL server unregistered; the databases on it stay\n", e.Name)
	default:
		fmt.Fprintf(o.IO.Out, "environment %s: PostgreSQL server %s registered (checked: its role may create databases and roles)\n",
			e.Name, e.Postgres)
	}
	return nil
}

// readDSN reads the DSN from --dsn, standard input (--dsn -) or --dsn-file, without the
// whitespace around it. Its errors never quote it.
func readDSN(o *EnvsSetPostgresOptions) (string, error) {
	var r io.Reader
	from := "--dsn"
	switch {
	case o.DSNFile != "":
		fh, err := os.Open(o.DSNFile)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		r, from = fh, o.DSNFile
	case o.DSN == "-":
		r, from = o.IO.In, "standard input"
	default:
		r = strings.NewReader(o.DSN)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDSN+1))
	if err != nil {
		return "", fmt.Errorf("read the DSN from %s: %w", from, err)
	}
	if len(data) > maxDSN {
		return "", &UsageError{Err: fmt.Errorf("the DSN from %s is over %d KiB", from, maxDSN>>10)}
	}
	dsn := strings.TrimSpace(string(data))
	if dsn == "" {
		return "", &UsageError{Err: fmt.Errorf("the DSN from %s is empty", from)}
	}
	return dsn, nil
}

// EnvsDeleteOptions are the inputs of `berth envs delete`.
type EnvsDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdEnvsDelete returns `berth envs delete`.
func NewCmdEnvsDelete(f *Factory, runF func(*EnvsDeleteOptions) error) *cobra.Command {
	o := &EnvsDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "delete NAME", Short: "Remove an environment from Berth; its cluster is not touched", Example: "  berth envs delete staging",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsDeleteRun(cmd.Context(), o)
		},
	}
}

func envsDeleteRun(ctx context.Context, o *EnvsDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.DeleteEnvironment(ctx, o.Name)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "deleted environment %s\n", o.Name)
	}
	return err
}

// EnvsFreezeOptions are the inputs of `berth envs freeze`.
type EnvsFreezeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	// From, Until are RFC 3339 times as given; From "" is now, on the server.
	From, Until string
	// For is how long the window lasts from From, instead of Until.
	For    time.Duration
	Reason string
	Now    func() time.Time
}

// NewCmdEnvsFreeze returns `berth envs freeze`.
func NewCmdEnvsFreeze(f *Factory, runF func(*EnvsFreezeOptions) error) *cobra.Command {
	o := &EnvsFreezeOptions{IO: f.IO, APIClient: f.apiClient, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "freeze ENV (--until TIME | --for DURATION) [--from TIME] --reason TEXT",
		Short: "Freeze an environment for a while: no deploy goes there but an emergency (global admins)",
		Long: `Freezes the environment from --from (default: now) until --until, or for --for: no deploy
goes there then, whether from the CLI, the API, chat, git or a promotion, but an emergency
deploy, which says why (berth deploy --emergency REASON; audited), and the automatic
rollback of a failed rollout. Times are RFC 3339. berth envs unfreeze ends a window early.`,
		Example: `  berth envs freeze production --until 2026-12-27T00:00:00Z --reason "holidays: nobody on call"
  berth envs freeze production --for 2h --reason "database migration"
  berth envs freeze production --from 2026-11-27T00:00:00Z --for 96h --reason "Black Friday"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsFreezeRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Until, "until", "", "when the window ends, RFC 3339 (or --for)")
	cmd.Flags().DurationVar(&o.For, "for", 0, "how long the window lasts, such as 2h (or --until)")
	cmd.Flags().StringVar(&o.From, "from", "", "when the window starts, RFC 3339 (default: now)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, for whoever wants to deploy (required)")
	return cmd
}

func envsFreezeRun(ctx context.Context, o *EnvsFreezeOptions) error {
	if (o.Until == "") == (o.For == 0) {
		return &UsageError{Err: errors.New("give one of --until TIME or --for DURATION: when the freeze ends")}
	}
	if o.For < 0 {
		return &UsageError{Err: errors.New("--for must be positive, such as 2h")}
	}
	if o.Reason == "" {
		return &UsageError{Err: errors.New("--reason is required: why nothing may deploy, for whoever wants to")}
	}
	in := apiv1.FreezeEnvironment{Reason: o.Reason}
	start := o.Now()
	if o.From != "" {
		t, err := time.Parse(time.RFC3339, o.From)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--from %q is not an RFC 3339 time, such as 2026-12-24T00:00:00Z", o.From)}
		}
		start, in.Start = t, &t
	}
	if o.Until != "" {
		t, err := time.Parse(time.RFC3339, o.Until)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--until %q is not an RFC 3339 time, such as 2026-12-24T00:00:00Z", o.Until)}
		}
		in.End = t
	} else {
		in.End = start.Add(o.For)
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	w, err := c.FreezeEnvironment(ctx, o.Env, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "froze %s from %s until %s (window %d): only deploys with --emergency REASON go there; berth envs unfreeze %d ends it\n",
		w.Env, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), w.ID, w.ID)
	return nil
}

// EnvsFreezesOptions are the inputs of `berth envs freezes`.
type EnvsFreezesOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// Env is the only environment whose windows are listed; "" is every one.
	Env    string
	Output string
}

// NewCmdEnvsFreezes returns `berth envs freezes`.
func NewCmdEnvsFreezes(f *Factory, runF func(*EnvsFreezesOptions) error) *cobra.Command {
	o := &EnvsFreezesOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "freezes [ENV]", Short: "List the freeze windows not over yet, of every environment or one",
		Example: "  berth envs freezes\n  berth envs freezes production -o json", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Env = args[0]
			}
			if runF != nil {
				return runF(o)
			}
			return envsFreezesRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsFreezesRun(ctx context.Context, o *EnvsFreezesOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ws, err := c.FreezeWindows(ctx, o.Env)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, ws, []string{"ID", "ENV", "FROM", "UNTIL", "REASON", "BY"}, func(w apiv1.FreezeWindow) []string {
		return []string{strconv.FormatInt(w.ID, 10), w.Env, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), w.Reason, w.CreatedBy}
	})
}

// EnvsUnfreezeOptions are the inputs of `berth envs unfreeze`.
type EnvsUnfreezeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// ID is the freeze window's id as given, checked when the command runs.
	ID string
}

// NewCmdEnvsUnfreeze returns `berth envs unfreeze`.
func NewCmdEnvsUnfreeze(f *Factory, runF func(*EnvsUnfreezeOptions) error) *cobra.Command {
	o := &EnvsUnfreezeOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "unfreeze ID", Short: "End a freeze window at once (global admins; see berth envs freezes)",
		Example: "  berth envs unfreeze 3", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsUnfreezeRun(cmd.Context(), o)
		},
	}
}

func envsUnfreezeRun(ctx context.Context, o *EnvsUnfreezeOptions) error {
	id, err := strconv.ParseInt(o.ID, 10, 64)
	if err != nil || id <= 0 {
		return &UsageError{Err: fmt.Errorf("freeze window id %q must be a number (see `berth envs freezes`)", o.ID)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	w, err := c.UnfreezeEnvironment(ctx, id)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "ended freeze window %d of %s (%s)\n", w.ID, w.Env, w.Reason)
	}
	return err
}

// EnvsSetGitOpsOptions are the inputs of `berth envs set-gitops`.
type EnvsSetGitOpsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Repo      string
	Forge     string
	Branch    string
	TokenFile string
	// PullRequest: a pull request per deploy, applied when merged; ExternalApply: the
	// platform's Argo CD or Flux applies the branch.
	PullRequest   bool
	ExternalApply bool
	// CreateWebhook has the server register the platform repository's webhook, to HookURL
	// when given.
	CreateWebhook bool
	HookURL       string
	Output        string
}

// NewCmdEnvsSetGitOps returns `berth envs set-gitops`.
func NewCmdEnvsSetGitOps(f *Factory, runF func(*EnvsSetGitOpsOptions) error) *cobra.Command {
	o := &EnvsSetGitOpsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "set-gitops ENV --repo URL --token-file FILE [--forge gitea|github] [--branch B] [--pull-request] [--external-apply] " +
			"[--create-webhook [--hook-url URL]]",
		Short: "Publish each deploy's objects to a platform repository, on the environment's branch (global admins)",
		Long: `Turn on the environment's GitOps output: each deploy there writes its rendered objects to the
platform repository --repo, in a directory per app (TEAM/APP/), on the environment's
branch (--branch, default the environment's name). Secrets go there only as references,
never their values. Setting it again replaces what was set.

By default each deploy is a commit to the branch, and Berth applies the objects as always.
--pull-request makes each deploy a pull request to the branch instead: the deploy waits
(state awaiting-merge, see berth history APP --deploy N) until the pull request is merged,
which applies it, or closed, which cancels it. --external-apply leaves applying the branch
to the platform's own Argo CD or Flux: Berth applies only the Secrets, then follows the
rollout. The two may be combined: a merged pull request is then applied by Argo CD or Flux.
berth envs gitops ENV shows what is set; berth envs unset-gitops ENV turns it off.

Berth looks at the pull requests every --gitops-poll of the server; the repository's
webhook tells it at once when one was merged or closed. --create-webhook has the server
register it with the token (which must then be allowed to manage the repository's
webhooks); without it, the answer shows the webhook URL and secret to set on the
repository (content type JSON, pull request events), once: setting the output again
makes a new secret.

The forge token (Gitea or GitHub, --forge) must be allowed to push to the repository and
open pull requests; --token-file names a file holding it, or - for standard input. It
travels in a request body, is stored encrypted like secrets, and is never shown again.
See docs/gitops.md.`,
		Example: `  berth envs set-gitops staging --repo https://git.example.com/platform/deployments --token-file platform.token
  berth envs set-gitops production --repo https://git.example.com/platform/deployments --token-file platform.token --pull-request \
      --create-webhook
  gh auth token | berth envs set-gitops production --forge github --repo https://github.com/acme/platform \
      --branch prod --pull-request --external-apply --token-file -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsSetGitOpsRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Repo, "repo", "", "the platform repository's http(s) URL (required)")
	cmd.Flags().StringVar(&o.Forge, "forge", "gitea", "the forge hosting it: gitea or github")
	cmd.Flags().StringVar(&o.Branch, "branch", "", "the environment's branch in it (default: the environment's name)")
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "file holding the forge token, or - for standard input (required)")
	cmd.Flags().BoolVar(&o.PullRequest, "pull-request", false, "open a pull request per deploy, applied when merged")
	cmd.Flags().BoolVar(&o.ExternalApply, "external-apply", false, "the platform's Argo CD or Flux applies the branch; Berth applies only Secrets")
	cmd.Flags().BoolVar(&o.CreateWebhook, "create-webhook", false, "have the server register the repository's webhook with the token")
	cmd.Flags().StringVar(&o.HookURL, "hook-url", "", "where the forge reaches the server's /hooks/FORGE (default: the server's --public-url); implies --create-webhook")
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsSetGitOpsRun(ctx context.Context, o *EnvsSetGitOpsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	switch {
	case o.Repo == "":
		return &UsageError{Err: errors.New("--repo is required: the platform repository's URL")}
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
	g, err := c.SetEnvGitOps(ctx, o.Env, apiv1.SetEnvGitOps{Forge: o.Forge, URL: o.Repo, Branch: o.Branch,
		PullRequest: o.PullRequest, ExternalApply: o.ExternalApply, Token: token, CreateWebhook: o.CreateWebhook, HookURL: o.HookURL})
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, g)
	}
	fmt.Fprintf(o.IO.Out, "environment %s: deploys publish to %s %s, branch %s: %s; %s\n",
		g.Env, g.Forge, g.Repo, g.Branch, gitOpsPublish(g), gitOpsApply(g))
	if g.HookURL != "" {
		fmt.Fprintf(o.IO.Out, "registered the repository's webhook (push and pull request events) to %s\n", g.HookURL)
		return nil
	}
	if g.HookSecret == "" {
		return nil
	}
	fmt.Fprintf(o.IO.Out, "set this webhook on the repository for merges and closes to act at once (content type application/json; pull request events):\n")
	fmt.Fprintf(o.IO.Out, "  URL:    %s/hooks/%s\n  secret: %s\n", c.Server(), g.Forge, g.HookSecret)
	fmt.Fprintln(o.IO.Out, "the secret is shown this once; setting the output again makes a new one")
	return nil
}

// gitOpsPublish says how a deploy reaches the environment's branch.
func gitOpsPublish(g apiv1.GitOps) string {
	if g.PullRequest {
		return "a pull request per deploy, applied when merged"
	}
	return "a commit per deploy"
}

// gitOpsApply says who applies what is published.
func gitOpsApply(g apiv1.GitOps) string {
	if g.ExternalApply {
		return "the platform's Argo CD or Flux applies the branch, Berth applies only Secrets and follows the rollout"
	}
	return "Berth applies the objects"
}

// EnvsGitOpsOptions are the inputs of `berth envs gitops`.
type EnvsGitOpsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Output    string
}

// NewCmdEnvsGitOps returns `berth envs gitops`.
func NewCmdEnvsGitOps(f *Factory, runF func(*EnvsGitOpsOptions) error) *cobra.Command {
	o := &EnvsGitOpsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "gitops ENV", Short: "Show where the environment's deploys publish their objects (its GitOps output), never the token",
		Example: "  berth envs gitops production\n  berth envs gitops production -o json", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsGitOpsRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsGitOpsRun(ctx context.Context, o *EnvsGitOpsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	g, err := c.EnvGitOps(ctx, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, g)
	}
	return printFields(o.IO, [][2]string{
		{"env", g.Env},
		{"repository", g.Forge + " " + g.Repo + " (" + g.URL + ")"},
		{"branch", g.Branch},
		{"deploys", gitOpsPublish(g)},
		{"applied by", gitOpsApply(g)},
		{"set by", g.CreatedBy},
		{"updated", ago(o.IO, g.UpdatedAt)},
	})
}

// EnvsUnsetGitOpsOptions are the inputs of `berth envs unset-gitops`.
type EnvsUnsetGitOpsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Output    string
}

// NewCmdEnvsUnsetGitOps returns `berth envs unset-gitops`.
func NewCmdEnvsUnsetGitOps(f *Factory, runF func(*EnvsUnsetGitOpsOptions) error) *cobra.Command {
	o := &EnvsUnsetGitOpsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "unset-gitops ENV",
		Short: "Turn the environment's GitOps output off: deploys are applied directly again (global admins)",
		Long: `Turn the environment's GitOps output off: the deploys after it are applied by Berth directly,
and publish nothing. The platform repository keeps what was published; the forge token is
forgotten. Deploys still waiting for their pull request's merge there (awaiting-merge)
wait until the output is set again (berth envs set-gitops).`,
		Example: "  berth envs unset-gitops staging", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsUnsetGitOpsRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsUnsetGitOpsRun(ctx context.Context, o *EnvsUnsetGitOpsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	g, err := c.UnsetEnvGitOps(ctx, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, g)
	}
	fmt.Fprintf(o.IO.Out, "environment %s: GitOps output to %s %s turned off; deploys are applied directly again\n", g.Env, g.Forge, g.Repo)
	return nil
}
