package probe

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The environment variables ConfigFromEnv reads.
const (
	EnvServer      = "BERTH_PROBE_SERVER"
	EnvToken       = "BERTH_PROBE_TOKEN"
	EnvRun         = "BERTH_PROBE_RUN"
	EnvEnv         = "BERTH_PROBE_ENV"
	EnvDNSName     = "BERTH_PROBE_DNS_NAME"
	EnvHTTPURL     = "BERTH_PROBE_HTTP_URL"
	EnvDatabaseURL = "BERTH_PROBE_DATABASE_URL"
	EnvS3Endpoint  = "BERTH_PROBE_S3_ENDPOINT"
	EnvS3Bucket    = "BERTH_PROBE_S3_BUCKET"
	EnvS3AccessKey = "BERTH_PROBE_S3_ACCESS_KEY"
	EnvS3SecretKey = "BERTH_PROBE_S3_SECRET_KEY"
	EnvS3Region    = "BERTH_PROBE_S3_REGION"
	EnvQueueURL    = "BERTH_PROBE_QUEUE_URL"
	EnvQueueToken  = "BERTH_PROBE_QUEUE_TOKEN"
	// The variables and files Kubernetes gives every pod for its service account.
	EnvKubeHost = "KUBERNETES_SERVICE_HOST"
	EnvKubePort = "KUBERNETES_SERVICE_PORT"
)

// The service account's files in a pod, where rest.InClusterConfig reads them.
const (
	DefaultKubeTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultKubeCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// DefaultStepTimeout bounds each step when Config.StepTimeout is 0.
const DefaultStepTimeout = 10 * time.Second

// DefaultRetryWait is the first wait between Send's attempts when Config.RetryWait is 0.
const DefaultRetryWait = time.Second

// Config is what a probe run checks and where it reports. Only the reporting settings are
// required up front; a step whose settings are missing or malformed fails, naming the
// variable, so that a misconfigured environment shows in the report instead of in no report.
type Config struct {
	// Server is the base URL of Berth's API; Token a bearer token scoped to probes; Run the
	// server's id of this run; Env the environment's name.
	Server string
	Token  string
	Run    int64
	Env    string

	// DNSName is a Service's name to resolve, e.g. probe.berth-probes.svc.cluster.local.
	DNSName string
	// HTTPURL is fetched with a GET, which must answer 2xx.
	HTTPURL string
	// DatabaseURL is a postgres:// URL of the probe database.
	DatabaseURL string
	// S3Endpoint is the object store's http(s)://host:port, or host:port for https.
	S3Endpoint, S3Bucket, S3AccessKey, S3SecretKey string
	// S3Region is "" to ask the server.
	S3Region string
	// QueueURL is a nats:// URL; QueueToken, if set, authenticates to it.
	QueueURL, QueueToken string

	// KubeHost and KubePort are the API server's address (the kubernetes Service in a pod);
	// KubeTokenFile and KubeCAFile the service account's token and the cluster's CA.
	KubeHost, KubePort        string
	KubeTokenFile, KubeCAFile string

	// StepTimeout bounds each step (0: DefaultStepTimeout); RetryWait is Send's first wait
	// between attempts, doubled after each (0: DefaultRetryWait).
	StepTimeout time.Duration
	RetryWait   time.Duration
}

// ConfigFromEnv reads a Config from the environment, as getenv (os.Getenv) returns it. It
// fails only when the agent could not report: BERTH_PROBE_SERVER, BERTH_PROBE_TOKEN,
// BERTH_PROBE_RUN or BERTH_PROBE_ENV missing or malformed.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{
		Server:        get(EnvServer),
		Token:         get(EnvToken),
		Env:           get(EnvEnv),
		DNSName:       get(EnvDNSName),
		HTTPURL:       get(EnvHTTPURL),
		DatabaseURL:   get(EnvDatabaseURL),
		S3Endpoint:    get(EnvS3Endpoint),
		S3Bucket:      get(EnvS3Bucket),
		S3AccessKey:   get(EnvS3AccessKey),
		S3SecretKey:   get(EnvS3SecretKey),
		S3Region:      get(EnvS3Region),
		QueueURL:      get(EnvQueueURL),
		QueueToken:    get(EnvQueueToken),
		KubeHost:      get(EnvKubeHost),
		KubePort:      get(EnvKubePort),
		KubeTokenFile: DefaultKubeTokenFile,
		KubeCAFile:    DefaultKubeCAFile,
	}
	var errs []error
	if c.Server == "" {
		errs = append(errs, fmt.Errorf("%s is empty: the URL of Berth's server is required", EnvServer))
	} else if u, err := url.Parse(c.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s: %q is not an http(s):// URL", EnvServer, redactURL(c.Server)))
	}
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("%s is empty: a token to report with is required", EnvToken))
	}
	if run := get(EnvRun); run == "" {
		errs = append(errs, fmt.Errorf("%s is empty: the run's id is required", EnvRun))
	} else if n, err := strconv.ParseInt(run, 10, 64); err != nil || n <= 0 {
		errs = append(errs, fmt.Errorf("%s: %q is not a run id (a positive integer)", EnvRun, run))
	} else {
		c.Run = n
	}
	if c.Env == "" {
		errs = append(errs, fmt.Errorf("%s is empty: the environment's name is required", EnvEnv))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("probe configuration: %w", err)
	}
	return c, nil
}

// String describes the configuration without its secrets, in case one is printed.
func (c Config) String() string {
	return fmt.Sprintf("{Server:%s Run:%d Env:%s DNSName:%s HTTPURL:%s DatabaseURL:%s S3Endpoint:%s S3Bucket:%s "+
		"S3AccessKey:%s S3Region:%s QueueURL:%s KubeAPI:%s Token:REDACTED S3SecretKey:REDACTED QueueToken:REDACTED}",
		redactURL(c.Server), c.Run, c.Env, c.DNSName, redactURL(c.HTTPURL), redactURL(c.DatabaseURL), c.S3Endpoint,
		c.S3Bucket, c.S3AccessKey, c.S3Region, redactURL(c.QueueURL), net.JoinHostPort(c.KubeHost, c.KubePort))
}

func (c Config) stepTimeout() time.Duration {
	if c.StepTimeout > 0 {
		return c.StepTimeout
	}
	return DefaultStepTimeout
}

func (c Config) retryWait() time.Duration {
	if c.RetryWait > 0 {
		return c.RetryWait
	}
	return DefaultRetryWait
}

// notConfigured is a step's error for a setting it lacks.
func notConfigured(env string) error {
	return fmt.Errorf("not configured: %s is empty", env)
}
