package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBody is how much of an answer the probe reads: enough to show why it failed, never a
// download.
const maxBody = 64 << 10

// excerptLen bounds the part of a failed answer's body that goes in the error.
const excerptLen = 200

// checkHTTP GETs HTTPURL, which must answer 2xx.
func checkHTTP(ctx context.Context, c Config, _ *scrubber) (string, error) {
	if c.HTTPURL == "" {
		return "", notConfigured(EnvHTTPURL)
	}
	u, err := url.Parse(c.HTTPURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: %q is not an http(s):// URL", EnvHTTPURL, redactURL(c.HTTPURL))
	}
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HTTPURL, nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", "berth-probe")
	// A client of its own: the default one keeps idle connections, and the next run, a
	// minute later, must dial the Service again to prove it answers.
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("GET %s: %s%s", shown, resp.Status, excerpt(body))
	}
	if readErr != nil {
		return "", fmt.Errorf("GET %s: %s, reading the body: %w", shown, resp.Status, readErr)
	}
	return fmt.Sprintf("GET %s -> %s", shown, resp.Status), nil
}

// unwrapURLError drops *url.Error's repetition of the method and URL (with its password).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// excerpt is the start of a body for an error: ": text", or "" when there is none.
func excerpt(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	more := ""
	if len(body) > excerptLen {
		body, more = body[:excerptLen], "..."
	}
	return ": " + strings.ToValidUTF8(string(body), "") + more
}
