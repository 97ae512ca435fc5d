package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"
)

// checkCredentials asks the API server who the pod's service account is (a
// SelfSubjectReview), as rest.InClusterConfig would connect: to KubeHost:KubePort over TLS
// verified with KubeCAFile, with the token in KubeTokenFile. The answer must name a user.
func checkCredentials(ctx context.Context, c Config, s *scrubber) (string, error) {
	switch {
	case c.KubeHost == "":
		return "", fmt.Errorf("%s (not running in a pod?)", notConfigured(EnvKubeHost))
	case c.KubePort == "":
		return "", fmt.Errorf("%s (not running in a pod?)", notConfigured(EnvKubePort))
	}
	raw, err := os.ReadFile(c.KubeTokenFile)
	if err != nil {
		return "", fmt.Errorf("service account token: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("service account token: %s is empty", c.KubeTokenFile)
	}
	s.add(token)
	if _, err := os.Stat(c.KubeCAFile); err != nil {
		return "", fmt.Errorf("cluster CA: %w", err)
	}
	host := "https://" + net.JoinHostPort(c.KubeHost, c.KubePort)
	// The authentication group's client alone: the whole Clientset would link every API
	// group's (TestBerthDoesNotLinkHeavyClientGoPackages).
	cs, err := authenticationclient.NewForConfig(&rest.Config{
		Host:            host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.KubeCAFile},
		UserAgent:       "berth-probe",
	})
	if err != nil {
		return "", fmt.Errorf("API server %s: %w", host, err)
	}
	review, err := cs.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("API server %s: self-subject review: %w", host, err)
	}
	user := review.Status.UserInfo.Username
	if user == "" {
		return "", errors.New("API server " + host + ": the self-subject review names no user")
	}
	return user, nil
}
