package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
)

const defaultManifest = "berth.yaml"

// InitOptions are the inputs of `berth init`.
type InitOptions struct {
	IO    *IOStreams
	File  string
	Name  string
	Team  string
	Image string
	Port  int
	Force bool
}

// NewCmdInit returns `berth init`.
func NewCmdInit(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	o := &InitOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter berth.yaml for the app in this directory",
		Long: `Writes a starter berth.yaml. The app name defaults to the directory's name, and the
port to the first EXPOSE of a Dockerfile next to it (else 8080). Works offline.`,
		Example: `  berth init
  berth init --name reports --team insights --image registry.example.com/reports
  berth init -f deploy/berth.yaml --port 3000`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return initRun(o)
		},
	}
	cmd.Flags().StringVarP(&o.File, "file", "f", defaultManifest, "where to write the manifest")
	cmd.Flags().StringVar(&o.Name, "name", "", "app name (default: the directory's name)")
	cmd.Flags().StringVar(&o.Team, "team", "my-team", "team that owns the app")
	cmd.Flags().StringVar(&o.Image, "image", "", "container image without tag (default: registry.example.com/NAME)")
	cmd.Flags().IntVar(&o.Port, "port", 0, "port the container listens on (default: the Dockerfile's EXPOSE, else 8080)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite an existing file")
	return cmd
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

func initRun(o *InitOptions) error {
	dir := filepath.Dir(o.File)
	if o.Name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		o.Name = strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-")
		if o.Name == "" {
			o.Name = "app"
		}
	}
	if o.Image == "" {
		o.Image = "registry.example.com/" + o.Name
	}
	portFrom := "--port"
	if o.Port == 0 {
		portFrom = "default"
		o.Port = 8080
		if p, ok, err := dockerfilePort(filepath.Join(dir, "Dockerfile")); err != nil {
			return err
		} else if ok {
			o.Port, portFrom = p, "Dockerfile EXPOSE"
		}
	}
	if o.Port < 1 || o.Port > 65535 {
		return &UsageError{Err: fmt.Errorf("--port must be between 1 and 65535, not %d", o.Port)}
	}
	data, err := manifest.Starter(manifest.StarterOptions{Name: o.Name, Team: o.Team, Image: o.Image, Port: o.Port})
	if err != nil {
		return err
	}
	// The starter must be valid as written: check it the way `berth validate` would.
	if _, err := manifest.Parse(filepath.Base(o.File), data); err != nil {
		return fmt.Errorf("the starter for --name %q --team %q is not valid: %w", o.Name, o.Team, err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(o.File, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: edit it, or overwrite it with --force", o.File)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "wrote %s for app %s (team %s, port %d from %s)\nnext: berth validate -f %s && berth render -f %s --env staging\n",
		o.File, o.Name, o.Team, o.Port, portFrom, o.File, o.File)
	return nil
}

// dockerfilePort returns the first port of the first EXPOSE instruction in path.
func dockerfilePort(path string) (int, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.EqualFold(fields[0], "EXPOSE") {
			continue
		}
		port, _, _ := strings.Cut(fields[1], "/")
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			continue // EXPOSE $PORT and the like: nothing we can know offline
		}
		return n, true, nil
	}
	return 0, false, sc.Err()
}

// loadManifest parses file; on invalid input it prints every problem, one per line, and
// returns an ExitError with code 1. A read blocked on the file ends with ctx (Ctrl-C).
func loadManifest(ctx context.Context, s *IOStreams, file string) (*manifest.Manifest, error) {
	m, err := manifest.LoadFile(ctx, file)
	if err != nil {
		return nil, manifestError(s, err)
	}
	return m, nil
}

func manifestError(s *IOStreams, err error) error {
	var errs *manifest.Errors
	if errors.As(err, &errs) {
		fmt.Fprintln(s.ErrOut, errs.Error())
		n := len(errs.List)
		fmt.Fprintf(s.ErrOut, "%d problem%s found\n", n, map[bool]string{true: "", false: "s"}[n == 1])
		return &ExitError{Code: 1}
	}
	if errors.Is(err, manifest.ErrInvalidOption) {
		return &UsageError{Err: err}
	}
	return err
}

// ValidateOptions are the inputs of `berth validate`.
type ValidateOptions struct {
	IO   *IOStreams
	File string
}

// NewCmdValidate returns `berth validate`.
func NewCmdValidate(f *Factory, runF func(*ValidateOptions) error) *cobra.Command {
	o := &ValidateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a berth.yaml (or Score file) and every environment in it, offline",
		Long: `Parses the manifest and renders each of its environments offline. Every problem is
reported at once as FILE:LINE:COL: field.path: what is wrong (hint). Exit code 1 means the
manifest is invalid; 2 means the command was called wrongly.`,
		Example: `  berth validate
  berth validate -f deploy/berth.yaml
  berth validate -f score.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return validateRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.File, "file", "f", defaultManifest, "manifest to check")
	return cmd
}

func validateRun(ctx context.Context, o *ValidateOptions) error {
	m, err := loadManifest(ctx, o.IO, o.File)
	if err != nil {
		return err
	}
	envs := m.Environments()
	check := envs
	if len(check) == 0 {
		check = []string{"default"}
	}
	// A commit's git.* values exist only when a deploy from git renders it: check the
	// manifest with example ones.
	example := manifest.GitArgs("0123456789abcdef0123456789abcdef01234567", "refs/heads/main", 1)
	example["git.tag"] = "v1.0.0"
	set := map[string]string{}
	for _, k := range m.UsesGit() {
		set["git."+k] = example["git."+k]
	}
	for _, env := range check {
		if _, err := manifest.Render(m, manifest.RenderOptions{Env: env, Set: set}); err != nil {
			return manifestError(o.IO, err)
		}
	}
	if len(envs) == 0 {
		fmt.Fprintf(o.IO.Out, "%s: valid (app %s, no environment overlays)\n", o.File, m.Metadata.Name)
	} else {
		fmt.Fprintf(o.IO.Out, "%s: valid (app %s; environments: %s)\n", o.File, m.Metadata.Name, strings.Join(envs, ", "))
	}
	return nil
}

// RenderOptions are the inputs of `berth render`.
type RenderOptions struct {
	IO           *IOStreams
	File         string
	Env          string
	Set          []string
	Output       string
	Namespace    string
	Revision     string
	IngressClass string
	// What the server would know of the environment: its platform provisioner file, base
	// domain and storage class.
	Provisioners string
	BaseDomain   string
	StorageClass string
	Team         string
}

// NewCmdRender returns `berth render`.
func NewCmdRender(f *Factory, runF func(*RenderOptions) error) *cobra.Command {
	o := &RenderOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the Kubernetes objects a berth.yaml becomes in one environment, offline",
		Long: `Renders one environment of the manifest into Kubernetes objects (Deployment, Service,
Ingress, HorizontalPodAutoscaler, PodDisruptionBudget, ServiceAccount, ...). Offline,
${config.*} and ${secrets.*} become references to the app's ConfigMap and Secret.

Resources are provisioned as a deploy would, as far as that is possible offline: service,
dns and route fully (dns under --base-domain, default ENV.localhost; services in the
namespace --namespace names, else TEAM-ENV), volume as an emptyDir (or a claim of
--storage-class), types the platform provisioner file --provisioners provides by running
its templates (secret outputs as references to the Secret APP-resources), and the rest —
postgres, whose database only the server makes, and types nothing provisions — as clearly
marked <offline:resources.NAME.OUTPUT> placeholders, which a deploy never carries.`,
		Example: `  berth render --env staging
  berth render -f berth.yaml --env production --set version=1.4.2
  berth render --env production -o json | jq '.items[].kind'
  berth render --env staging --provisioners platform.provisioners.yaml --base-domain staging.example.com
  berth render --env staging | kubectl apply --dry-run=server -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return renderRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.File, "file", "f", defaultManifest, "manifest to render")
	cmd.Flags().StringVar(&o.Env, "env", "", "environment to render (required)")
	cmd.Flags().StringArrayVar(&o.Set, "set", nil, "set an arg: NAME=VALUE (repeatable)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace to set on every object")
	cmd.Flags().StringVar(&o.Revision, "revision", "", "value of the berth.dev/revision label")
	cmd.Flags().StringVar(&o.IngressClass, "ingress-class", "", "ingress class when the manifest sets none")
	cmd.Flags().StringVar(&o.Provisioners, "provisioners", "", "the environment's platform provisioner file, as `berth provisioners set` takes it")
	cmd.Flags().StringVar(&o.BaseDomain, "base-domain", "", "the environment's base domain for dns resources (default ENV.localhost)")
	cmd.Flags().StringVar(&o.StorageClass, "storage-class", "", "the environment's storage class for volume resources (default none: emptyDir)")
	cmd.Flags().StringVar(&o.Team, "team", "", "the app's team, for a manifest that names none (a Score file), as berth deploy --team")
	return cmd
}

func renderRun(ctx context.Context, o *RenderOptions) error {
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required: which environment to render (for example --env staging)")}
	}
	if o.Output != "yaml" && o.Output != "json" {
		return &UsageError{Err: fmt.Errorf("invalid output format %q: use yaml or json", o.Output)}
	}
	set, err := parseSet(o.Set)
	if err != nil {
		return err
	}
	m, err := loadManifest(ctx, o.IO, o.File)
	if err != nil {
		return err
	}
	ropts := manifest.RenderOptions{Env: o.Env, Namespace: o.Namespace, Revision: o.Revision, Set: set, IngressClass: o.IngressClass}
	res, err := o.offlineResources(m, ropts)
	if err != nil {
		return err
	}
	ropts.Resolver = res
	objs, err := manifest.Render(m, ropts)
	if err != nil {
		return manifestError(o.IO, err)
	}
	var labels map[string]string
	if len(objs) > 0 {
		labels = objs[0].GetLabels()
	}
	extra, err := res.Objects(o.Namespace, labels, func(name string) string { return name })
	if err != nil {
		return err
	}
	for _, u := range extra {
		objs = append(objs, u)
	}
	if o.Output == "json" {
		return manifest.EncodeJSON(o.IO.Out, objs)
	}
	return manifest.EncodeYAML(o.IO.Out, objs)
}

// parseSet turns --set NAME=VALUE flags into a map.
func parseSet(pairs []string) (map[string]string, error) {
	set := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, &UsageError{Err: fmt.Errorf("--set %q: want NAME=VALUE", p)}
		}
		set[k] = v
	}
	return set, nil
}

// offlineResources provisions m's resources offline (see berth render --help).
func (o *RenderOptions) offlineResources(m *manifest.Manifest, ropts manifest.RenderOptions) (*provision.Resolver, error) {
	env := berth.Environment{Name: o.Env, NamespaceTemplate: berth.DefaultNamespaceTemplate, BaseDomain: o.BaseDomain, StorageClass: o.StorageClass}
	if env.BaseDomain == "" {
		env.BaseDomain = o.Env + ".localhost"
	}
	if err := berth.ValidateBaseDomain(env.BaseDomain); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--base-domain: %w", err)}
	}
	if err := berth.ValidateStorageClass(env.StorageClass); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--storage-class: %w", err)}
	}
	oo := provision.OfflineOptions{Env: env, Team: o.Team}
	if o.Namespace != "" {
		oo.NamespaceFor = func(string, string) string { return o.Namespace }
	}
	if o.Provisioners != "" {
		name, data, err := readProvisionerFile(o.IO.In, o.Provisioners)
		if err != nil {
			return nil, err
		}
		if oo.File, err = provision.Parse(name, data); err != nil {
			return nil, err
		}
	}
	res, err := provision.Offline(m, ropts, oo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.File, err)
	}
	return res, nil
}
