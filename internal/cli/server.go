package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ServerOptions configure `berth server`. Every flag has a BERTH_* environment variable.
type ServerOptions struct {
	IO       *IOStreams
	Listen   string
	DataDir  string
	Database string
	LogLevel string
	// ShutdownTimeout bounds how long in-flight requests get after SIGTERM.
	ShutdownTimeout time.Duration
	// Workers is how many deploys this server runs at once.
	Workers int
	// KubeQPS and KubeBurst bound each cluster client's request rate.
	KubeQPS   float32
	KubeBurst int
	// DeployTimeout bounds a rollout when the deploy sets none.
	DeployTimeout time.Duration
	// DeployLease is how long a worker's claim on a deploy lasts without renewal: after a
	// crash, another worker resumes the deploy this long after the last renewal.
	DeployLease time.Duration
	// BootstrapToken is BERTH_BOOTSTRAP_TOKEN: the first admin's token. Environment only,
	// so it never shows in a process listing.
	BootstrapToken string
	// SecretsKeyFile holds the key that encrypts secrets at rest; SecretsKey is
	// BERTH_SECRETS_KEY, the key itself (environment only). At most one is set.
	SecretsKeyFile string
	SecretsKey     string
	// EventsMaxPerApp is how many Kubernetes events of each app in each environment the
	// server keeps (0: it keeps none and watches no events); EventsMaxAge how long.
	EventsMaxPerApp int
	EventsMaxAge    time.Duration
	// PublicURL is where users reach this server, for links it puts on commit statuses and
	// pull-request comments; "" is http://LISTEN.
	PublicURL string
	// ImageWait bounds how long a deploy from git waits for its images to be pushed.
	ImageWait time.Duration
	// RegistryMirrors maps a registry host images are named by to a host:port Berth asks
	// over plain HTTP instead (the dev cluster's registry).
	RegistryMirrors map[string]string
	// PreviewTTL closes pull requests' previews not deployed for that long.
	PreviewTTL time.Duration
	// GitOpsPoll is how often the pull requests of deploys awaiting their merge (GitOps
	// output) are looked at.
	GitOpsPoll time.Duration
	// IngressPort is the port the environments' ingress answers on, for the preview URLs
	// Berth writes on pull requests (0: the scheme's default).
	IngressPort int
	// Slack: files holding the Slack app's signing secret and bot token (both, or neither:
	// no chat bot); the Web API's URL and where slash commands' response_urls may point
	// ("" for Slack's own).
	SlackSigningSecretFile, SlackTokenFile string
	SlackAPIURL, SlackResponseURLPrefix    string
	// SlackTeamID is the workspace the Slack app serves; other workspaces are refused.
	SlackTeamID string
	// BackupDir is the default backup store: a directory ("" is backups/ in DataDir).
	BackupDir string
	// BackupKeyFile holds the key that seals backups ("" is backup.key in DataDir, made
	// when missing); BackupKey is BERTH_BACKUP_KEY, the key itself. At most one is set.
	BackupKeyFile string
	BackupKey     string
	// PrometheusURL is the Prometheus watching the environments: `berth metrics` reads the
	// golden signals from it, and it is asked to reload when rules change ("": none).
	PrometheusURL string
	// PrometheusRulesDir is where apps' alert rules are written for that Prometheus to
	// load ("": they stay in each app's rules ConfigMap only).
	PrometheusRulesDir string
	// AlertTimeScale divides the time windows of rendered alert rules: 1 for real ones;
	// tests and demos shorten them.
	AlertTimeScale float64
	// ProbeImage is the image probe pods run (the berth binary; "": probes cannot run).
	// ProbeURL is where those pods reach this server to report ("": http://ProbeListen,
	// else PublicURL). ProbeListen is a second address serving only their reports, for
	// pods that cannot reach Listen ("": none).
	ProbeImage, ProbeURL, ProbeListen string
	// PlatformChannel is the chat channel probes that fail and recover are announced in.
	PlatformChannel string
}

// NewCmdServer returns `berth server`, which f.RunServer runs.
func NewCmdServer(f *Factory, runF func(*ServerOptions) error) *cobra.Command {
	o := &ServerOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Berth server: REST API, dashboard, metrics and workers",
		Long: `Runs the API under /api/v1 (OpenAPI document at /api/v1/openapi.json), the web
dashboard at / (sign in with an API token), /healthz, /readyz and /metrics. With no configuration it keeps its state in a SQLite database in
the data directory; --database postgres://... uses PostgreSQL instead.

On its first start, with an empty database, it creates the global admin user "admin" and
prints a token for it once (or uses $BERTH_BOOTSTRAP_TOKEN). SIGTERM drains in-flight
requests, then stops.

Secrets (berth secrets) are encrypted at rest with AES-256-GCM under a key from
--secrets-key-file, or from BERTH_SECRETS_KEY: base64 of 32 random bytes, such as
  head -c 32 /dev/urandom | base64 > /etc/berth/secrets.key
Each value records the id of its key; a server given another key (or none) while the
database holds secrets refuses to start and names the key id it needs. A server on
SQLite given no key makes one on its first start, in secrets.key in the data directory
(mode 0600), says so in its log, and uses it after: keep a copy elsewhere. On PostgreSQL,
give every replica the same key; without one, everything but setting and deploying
secrets works. Change keys with berth server rotate-key.

Backups (berth backup) are sealed with a key of their own, from --backup-key-file or
BERTH_BACKUP_KEY (default: backup.key in the data directory, made on first use). Each
backup records its key's id; restoring it needs that key: keep a copy apart from the
backups. The default backup store is the directory --backup-dir (docs/backups.md).

Apps' alert rules (alerts: and slo: in berth.yaml, and the defaults) are written into
--prometheus-rules-dir as ENV.NAMESPACE.APP.rules.yaml for the Prometheus at --prometheus-url
to load, which is asked to reload; berth metrics reads the golden signals from it
(docs/monitoring.md).

Synthetic probes (berth probe run, berth probes) run --probe-image (the berth binary in an
image; make run pushes bin/berth as one) on each environment's cluster; its pods report
to --probe-url, which --probe-listen can serve apart from the API. A probe that starts
failing, and its recovery, are announced in --platform-channel (docs/probes.md).

Every flag can be set with an environment variable: --listen is BERTH_LISTEN, and so on.`,
		Example: `  # SQLite in ~/.local/share/berth, API on http://127.0.0.1:8080
  berth server

  # PostgreSQL, all interfaces
  BERTH_DATABASE=postgres://berth@db/berth berth server --listen :8080

  # Then, as a client
  berth login --server http://127.0.0.1:8080 --token berth_...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			if f.RunServer == nil {
				return errors.New("this build of berth has no server")
			}
			return f.RunServer(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on (port 0 picks a free one)")
	fl.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory for the SQLite database and other state")
	fl.StringVar(&o.Database, "database", "", "database: a SQLite file path or postgres://... URL (default: berth.db in --data-dir)")
	fl.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests get after SIGTERM")
	fl.IntVar(&o.Workers, "workers", 8, "deploys this server runs at once")
	fl.Float32Var(&o.KubeQPS, "kube-qps", 50, "requests per second to each cluster's API server")
	fl.IntVar(&o.KubeBurst, "kube-burst", 100, "burst of requests to each cluster's API server")
	fl.DurationVar(&o.DeployLease, "deploy-lease", 15*time.Second, "how soon a deploy left by a crashed server is resumed elsewhere")
	fl.DurationVar(&o.DeployTimeout, "deploy-timeout", 5*time.Minute, "how long a rollout may take when the deploy sets no --timeout")
	fl.StringVar(&o.SecretsKeyFile, "secrets-key-file", "", "file with the key that encrypts secrets (base64 of 32 bytes; or BERTH_SECRETS_KEY)")
	fl.IntVar(&o.EventsMaxPerApp, "events-max-per-app", 1000, "Kubernetes events kept per app and environment, the newest (0: watch and keep none)")
	fl.DurationVar(&o.EventsMaxAge, "events-max-age", 30*24*time.Hour, "how long Kubernetes events are kept (0: until newer ones push them out)")
	fl.StringVar(&o.PublicURL, "public-url", "", "URL users reach this server at, for links on commit statuses (default http://LISTEN)")
	fl.DurationVar(&o.ImageWait, "image-wait", 5*time.Minute, "how long a deploy from git waits for its images to be in their registries")
	fl.StringToStringVar(&o.RegistryMirrors, "registry-mirror", nil, "HOST=ADDR: ask for images named HOST/... at ADDR over plain HTTP (repeatable; the dev cluster's registry)")
	fl.DurationVar(&o.PreviewTTL, "preview-ttl", 7*24*time.Hour, "close pull requests' previews not deployed for this long")
	fl.DurationVar(&o.GitOpsPoll, "gitops-poll", 10*time.Second, "how often to look at the pull requests of deploys awaiting their merge (GitOps output)")
	fl.IntVar(&o.IngressPort, "ingress-port", 0, "port the environments' ingress answers on, for preview URLs on pull requests (0: 80)")
	fl.StringVar(&o.SlackSigningSecretFile, "slack-signing-secret-file", "", "file with the Slack app's signing secret: serve the chat bot at /chat/slack/commands and /chat/slack/events (docs/chat.md)")
	fl.StringVar(&o.SlackTokenFile, "slack-token-file", "", "file with the Slack app's bot token (xoxb-...), with --slack-signing-secret-file")
	fl.StringVar(&o.BackupDir, "backup-dir", "", "directory of the default backup store (default: backups in --data-dir)")
	fl.StringVar(&o.BackupKeyFile, "backup-key-file", "", "file with the key that seals backups, base64 of 32 bytes (default: backup.key in --data-dir, made when missing; or BERTH_BACKUP_KEY)")
	fl.StringVar(&o.SlackTeamID, "slack-team-id", "", "the Slack workspace (team id, T...) the app serves; requests of others are refused")
	fl.StringVar(&o.SlackAPIURL, "slack-api-url", "", "Slack's Web API (default https://slack.com/api/)")
	fl.StringVar(&o.SlackResponseURLPrefix, "slack-response-url-prefix", "", "where slash commands' response_urls may point (default https://hooks.slack.com/)")
	fl.StringVar(&o.PrometheusURL, "prometheus-url", "", "the Prometheus watching the environments (started with --web.enable-lifecycle): berth metrics reads from it; it reloads rule changes")
	fl.StringVar(&o.PrometheusRulesDir, "prometheus-rules-dir", "", "directory the Prometheus loads rule files from (rule_files: DIR/*.rules.yaml): apps' alert rules are written there")
	fl.Float64Var(&o.AlertTimeScale, "alert-time-scale", 1, "divide the time windows of apps' alert rules by this (for tests and demos: 60 turns 5m into 5s)")
	fl.StringVar(&o.ProbeImage, "probe-image", "", "image of the synthetic probes' pods: the berth binary (`berth probe agent`), e.g. registry.example.com/berth:1.2.0")
	fl.StringVar(&o.ProbeURL, "probe-url", "", "URL probe pods report to this server at (default: http://PROBE-LISTEN, else --public-url)")
	fl.StringVar(&o.ProbeListen, "probe-listen", "", "a second address serving only probe reports, where pods reach this server (e.g. the node's bridge address)")
	fl.StringVar(&o.PlatformChannel, "platform-channel", "", "chat channel (Slack channel id) where probes that fail and recover are announced")
	cmd.AddCommand(NewCmdServerRotateKey(f, nil))
	return cmd
}

// RotateKeyOptions are the inputs of `berth server rotate-key`.
type RotateKeyOptions struct {
	IO       *IOStreams
	DataDir  string
	Database string
	// SecretsKeyFile and SecretsKey (BERTH_SECRETS_KEY) give the current key.
	SecretsKeyFile string
	SecretsKey     string
	NewKeyFile     string
}

// NewCmdServerRotateKey returns `berth server rotate-key`, which f.RotateKey runs.
func NewCmdServerRotateKey(f *Factory, runF func(*RotateKeyOptions) error) *cobra.Command {
	o := &RotateKeyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "rotate-key --new-key-file FILE",
		Short: "Re-encrypt every stored secret with a new key, in one transaction",
		Long: `Opens the server's database directly, decrypts every secret version with the current key
(--secrets-key-file or BERTH_SECRETS_KEY, as for berth server) and encrypts it again with
the key in --new-key-file, all in one transaction with one audit event: either every value
moves to the new key or none does. Then restart every berth server with only the new key;
the old one can be destroyed. Running it again with the same new key changes nothing.`,
		Example: `  head -c 32 /dev/urandom | base64 > /etc/berth/secrets-2.key
  berth server rotate-key --secrets-key-file /etc/berth/secrets.key --new-key-file /etc/berth/secrets-2.key
  BERTH_DATABASE=postgres://berth@db/berth berth server rotate-key --new-key-file new.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			if o.NewKeyFile == "" {
				return &UsageError{Err: errors.New("--new-key-file is required: the key to encrypt with from now on")}
			}
			if o.Database == "" {
				o.Database = filepath.Join(o.DataDir, "berth.db")
			}
			o.SecretsKey = os.Getenv("BERTH_SECRETS_KEY")
			if o.SecretsKey != "" && o.SecretsKeyFile != "" {
				return &UsageError{Err: errors.New("give the current key with --secrets-key-file or BERTH_SECRETS_KEY, not both")}
			}
			if runF != nil {
				return runF(o)
			}
			if f.RotateKey == nil {
				return errors.New("this build of berth has no server")
			}
			return f.RotateKey(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory of the SQLite database")
	fl.StringVar(&o.Database, "database", "", "database: a SQLite file path or postgres://... URL (default: berth.db in --data-dir)")
	fl.StringVar(&o.SecretsKeyFile, "secrets-key-file", "", "file with the current key (or BERTH_SECRETS_KEY)")
	fl.StringVar(&o.NewKeyFile, "new-key-file", "", "file with the new key: base64 of 32 random bytes (required)")
	return cmd
}

// envDefaults applies BERTH_* environment variables to the flags of cmd not set on the
// command line: --listen is BERTH_LISTEN.
func envDefaults(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		env := "BERTH_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !fl.Changed {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, &UsageError{Err: fmt.Errorf("%s=%q: %v", env, v, err)})
			}
		}
	})
	return errors.Join(errs...)
}

// complete applies BERTH_* environment variables to flags not set on the command line.
func (o *ServerOptions) complete(cmd *cobra.Command) error {
	if err := envDefaults(cmd); err != nil {
		return err
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &UsageError{Err: fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)}
	}
	if o.Workers < 0 || o.Workers > 256 {
		return &UsageError{Err: fmt.Errorf("--workers must be 0 to 256, not %d", o.Workers)}
	}
	if o.DeployLease < time.Second {
		return &UsageError{Err: fmt.Errorf("--deploy-lease must be at least 1s, not %s", o.DeployLease)}
	}
	if o.DeployTimeout <= 0 {
		return &UsageError{Err: fmt.Errorf("--deploy-timeout must be positive, not %s", o.DeployTimeout)}
	}
	if o.EventsMaxPerApp < 0 || o.EventsMaxPerApp > 100000 {
		return &UsageError{Err: fmt.Errorf("--events-max-per-app must be 0 (keep none) to 100000, not %d", o.EventsMaxPerApp)}
	}
	if o.EventsMaxAge < 0 {
		return &UsageError{Err: fmt.Errorf("--events-max-age must not be negative, not %s", o.EventsMaxAge)}
	}
	if (o.SlackSigningSecretFile == "") != (o.SlackTokenFile == "") || (o.SlackSigningSecretFile == "") != (o.SlackTeamID == "") {
		return &UsageError{Err: errors.New("--slack-signing-secret-file, --slack-token-file and --slack-team-id go together: the chat bot needs all three")}
	}
	if o.GitOpsPoll < 100*time.Millisecond {
		return &UsageError{Err: fmt.Errorf("--gitops-poll must be at least 100ms, not %s", o.GitOpsPoll)}
	}
	if o.PreviewTTL < time.Minute {
		return &UsageError{Err: fmt.Errorf("--preview-ttl must be at least 1m, not %s", o.PreviewTTL)}
	}
	if o.IngressPort < 0 || o.IngressPort > 65535 {
		return &UsageError{Err: fmt.Errorf("--ingress-port must be a port (1-65535, or 0 for 80), not %d", o.IngressPort)}
	}
	if o.ImageWait <= 0 {
		return &UsageError{Err: fmt.Errorf("--image-wait must be positive, not %s", o.ImageWait)}
	}
	if !(o.AlertTimeScale >= 1 && o.AlertTimeScale <= 60) {
		return &UsageError{Err: fmt.Errorf("--alert-time-scale must be from 1 (real time windows) to 60 (5m windows become 5s), not %g", o.AlertTimeScale)}
	}
	if o.PrometheusURL != "" {
		if u, err := url.Parse(o.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &UsageError{Err: fmt.Errorf("--prometheus-url %q: want http://HOST:PORT", o.PrometheusURL)}
		}
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return &UsageError{Err: fmt.Errorf("--public-url %q: want http(s)://HOST[:PORT][/PATH]", o.PublicURL)}
		}
		o.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
	}
	if o.ProbeURL != "" {
		u, err := url.Parse(o.ProbeURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return &UsageError{Err: fmt.Errorf("--probe-url %q: want http(s)://HOST[:PORT][/PATH]", o.ProbeURL)}
		}
		o.ProbeURL = strings.TrimSuffix(o.ProbeURL, "/")
	}
	if o.ProbeListen != "" {
		host, _, err := net.SplitHostPort(o.ProbeListen)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--probe-listen %q: want HOST:PORT", o.ProbeListen)}
		}
		// Pods report to http://PROBE-LISTEN unless told otherwise: a wildcard address is
		// no address to report to.
		if ip := net.ParseIP(host); o.ProbeURL == "" && (host == "" || ip != nil && ip.IsUnspecified()) {
			return &UsageError{Err: fmt.Errorf("--probe-listen %q listens on every address: give --probe-url, the URL probe pods reach it at", o.ProbeListen)}
		}
	}
	if o.PlatformChannel != "" && o.SlackTokenFile == "" {
		return &UsageError{Err: errors.New("--platform-channel needs the chat bot: give --slack-signing-secret-file, --slack-token-file and --slack-team-id too")}
	}
	for host, addr := range o.RegistryMirrors {
		if host == "" || strings.ContainsAny(host, "/ ") || addr == "" || strings.ContainsAny(addr, "/ ") {
			return &UsageError{Err: fmt.Errorf("--registry-mirror %s=%s: want HOST=HOST:PORT, e.g. registry.berth.localhost=127.0.0.1:5000", host, addr)}
		}
	}
	if o.Database == "" {
		o.Database = filepath.Join(o.DataDir, "berth.db")
	}
	o.BootstrapToken = os.Getenv("BERTH_BOOTSTRAP_TOKEN")
	o.SecretsKey = os.Getenv("BERTH_SECRETS_KEY")
	o.BackupKey = os.Getenv("BERTH_BACKUP_KEY")
	if o.BackupKey != "" && o.BackupKeyFile != "" {
		return &UsageError{Err: errors.New("give the backup key with --backup-key-file or BERTH_BACKUP_KEY, not both")}
	}
	if o.SecretsKey != "" && o.SecretsKeyFile != "" {
		return &UsageError{Err: errors.New("give the secrets key with --secrets-key-file or BERTH_SECRETS_KEY, not both")}
	}
	return nil
}

func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "berth")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "berth")
	}
	return filepath.Join(os.TempDir(), "berth")
}
