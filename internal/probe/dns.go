package probe

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// checkDNS resolves DNSName through the pod's resolver (the cluster's DNS).
func checkDNS(ctx context.Context, c Config, _ *scrubber) (string, error) {
	if c.DNSName == "" {
		return "", notConfigured(EnvDNSName)
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, c.DNSName)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", c.DNSName, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: no addresses", c.DNSName)
	}
	return c.DNSName + " -> " + strings.Join(addrs, ", "), nil
}
