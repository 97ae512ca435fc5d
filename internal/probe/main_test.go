package probe

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/natstest"
	"github.com/berth-dev/berth/internal/s3test"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// The credentials step needs a real API server: the test binary's cluster, whose service
// accounts' tokens it verifies as a pod's would be.
func TestMain(m *testing.M) { kubetest.Main(m, pgtest.Stop) }

// environment is an environment's real services for a run, and the Config that points at
// them.
type environment struct {
	Config Config
	NATS   *natstest.Server
	S3     *s3test.Server
	// KubeToken is the service account's token; ServiceAccount its username.
	KubeToken      string
	ServiceAccount string
}

// newEnvironment starts the services a probe checks: an HTTP server, a PostgreSQL
// database, an S3 server with a bucket, a NATS server with a token, and a service account
// of the test cluster whose token and CA are files, as in a pod. DNS resolves localhost.
func newEnvironment(t *testing.T) *environment {
	t.Helper()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(web.Close)

	s3 := s3test.Start(t)
	s3.Bucket(t, "probes")
	nats := natstest.Start(t)

	c := Config{
		Server: "http://berth.invalid", Token: "probe-token-" + rand.Text(), Run: 7, Env: "staging",
		DNSName:     "localhost",
		HTTPURL:     web.URL + "/healthz",
		DatabaseURL: pgtest.NewDatabase(t),
		S3Endpoint:  s3.URL, S3Bucket: "probes", S3AccessKey: s3.AccessKey, S3SecretKey: s3.SecretKey, S3Region: s3.Region,
		QueueURL: nats.URL, QueueToken: nats.Token,
		StepTimeout: 10 * time.Second,
	}
	token, user := serviceAccount(t, &c)
	return &environment{Config: c, NATS: nats, S3: s3, KubeToken: token, ServiceAccount: user}
}

// serviceAccount makes a service account in a namespace of the test cluster and points c's
// Kube settings at the API server, with the account's token and the cluster's CA in files
// as a pod has them. It returns the token and the account's username.
func serviceAccount(t *testing.T, c *Config) (token, user string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cs, ns := kubetest.Namespace(t)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "probe", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	kube := kubetest.Config(t)
	api, err := url.Parse(kube.Host)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(api.Host)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c.KubeHost, c.KubePort = host, port
	c.KubeTokenFile, c.KubeCAFile = filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(c.KubeTokenFile, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KubeCAFile, kube.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token, "system:serviceaccount:" + ns + ":probe"
}
