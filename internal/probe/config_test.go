package probe

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		"BERTH_PROBE_SERVER":        "https://berth.example.com",
		"BERTH_PROBE_TOKEN":         "probe-token",
		"BERTH_PROBE_RUN":           "42",
		"BERTH_PROBE_ENV":           "production",
		"BERTH_PROBE_DNS_NAME":      "probe.berth-probes.svc.cluster.local",
		"BERTH_PROBE_HTTP_URL":      "http://probe.berth-probes.svc.cluster.local/healthz",
		"BERTH_PROBE_DATABASE_URL":  "postgres://probe:db-secret@db.example.com:5432/probe",
		"BERTH_PROBE_S3_ENDPOINT":   "https://s3.example.com",
		"BERTH_PROBE_S3_BUCKET":     "probes",
		"BERTH_PROBE_S3_ACCESS_KEY": "AKIA",
		"BERTH_PROBE_S3_SECRET_KEY": "s3-secret",
		"BERTH_PROBE_S3_REGION":     "eu-west-1",
		"BERTH_PROBE_QUEUE_URL":     "nats://nats.queues:4222",
		"BERTH_PROBE_QUEUE_TOKEN":   "queue-secret",
		"KUBERNETES_SERVICE_HOST":   "10.0.0.1",
		"KUBERNETES_SERVICE_PORT":   "443",
	}
	with := func(changes map[string]string) func(string) string {
		return func(name string) string {
			if v, ok := changes[name]; ok {
				return v
			}
			return full[name]
		}
	}

	c, err := ConfigFromEnv(with(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Server: "https://berth.example.com", Token: "probe-token", Run: 42, Env: "production",
		DNSName:     "probe.berth-probes.svc.cluster.local",
		HTTPURL:     "http://probe.berth-probes.svc.cluster.local/healthz",
		DatabaseURL: "postgres://probe:db-secret@db.example.com:5432/probe",
		S3Endpoint:  "https://s3.example.com", S3Bucket: "probes", S3AccessKey: "AKIA", S3SecretKey: "s3-secret", S3Region: "eu-west-1",
		QueueURL: "nats://nats.queues:4222", QueueToken: "queue-secret",
		KubeHost: "10.0.0.1", KubePort: "443",
		KubeTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
		KubeCAFile:    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"probe-token", "db-secret", "s3-secret", "queue-secret"} {
		if s := c.String(); strings.Contains(s, secret) {
			t.Errorf("String shows %s: %s", secret, s)
		}
	}

	// The settings of steps may be missing: their steps fail, and the report says so.
	steps := map[string]string{}
	for name := range full {
		if !strings.Contains("BERTH_PROBE_SERVER BERTH_PROBE_TOKEN BERTH_PROBE_RUN BERTH_PROBE_ENV", name) {
			steps[name] = ""
		}
	}
	if _, err := ConfigFromEnv(with(steps)); err != nil {
		t.Errorf("without the steps' settings: %v", err)
	}

	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    []string
	}{
		{"no server", map[string]string{"BERTH_PROBE_SERVER": ""}, []string{"BERTH_PROBE_SERVER is empty"}},
		{"server not a URL", map[string]string{"BERTH_PROBE_SERVER": "berth:8080"}, []string{`BERTH_PROBE_SERVER: "berth:8080" is not an http(s):// URL`}},
		{"no token", map[string]string{"BERTH_PROBE_TOKEN": " "}, []string{"BERTH_PROBE_TOKEN is empty"}},
		{"no run", map[string]string{"BERTH_PROBE_RUN": ""}, []string{"BERTH_PROBE_RUN is empty"}},
		{"run not a number", map[string]string{"BERTH_PROBE_RUN": "x1"}, []string{`BERTH_PROBE_RUN: "x1" is not a run id`}},
		{"run zero", map[string]string{"BERTH_PROBE_RUN": "0"}, []string{`BERTH_PROBE_RUN: "0" is not a run id`}},
		{"no env", map[string]string{"BERTH_PROBE_ENV": ""}, []string{"BERTH_PROBE_ENV is empty"}},
		{"all at once", map[string]string{"BERTH_PROBE_SERVER": "", "BERTH_PROBE_TOKEN": "", "BERTH_PROBE_RUN": "", "BERTH_PROBE_ENV": ""},
			[]string{"BERTH_PROBE_SERVER is empty", "BERTH_PROBE_TOKEN is empty", "BERTH_PROBE_RUN is empty", "BERTH_PROBE_ENV is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(with(tc.changes))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "probe-token") {
				t.Errorf("error shows the token: %q", err)
			}
		})
	}
}
