package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// How `hello check` tries each path: a few short attempts, so that a connection lost in the
// moment after a rollout — the Service's rules still pointing at a pod that is going away —
// is tried again instead of failing the deploy. Only failures to get an answer are retried:
// an answer, of any status, is the app's.
var (
	checkTimeout  = 3 * time.Second
	checkAttempts = 5
	checkBackoff  = 500 * time.Millisecond
)

// check is `hello check PATH...`: GET each path of the app at target ($TARGET_URL, which a
// command smoke check sets to the app's Service), print the status and the start of each
// answer, and return the exit code: 0 when every answer is 2xx, 1 when one is not (or none
// came in checkAttempts tries), 2 on bad usage.
func check(paths []string, target string, out io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(out, "usage: hello check PATH... (GETs $TARGET_URL/PATH; exit 0 when every answer is 2xx)")
		return 2
	}
	base, err := url.Parse(target)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		fmt.Fprintf(out, "TARGET_URL=%q: want the app's URL, e.g. http://hello.demo-dev.svc:80\n", target)
		return 2
	}
	client := &http.Client{Timeout: checkTimeout}
	code := 0
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			fmt.Fprintf(out, "%s: want a path starting with /\n", p)
			return 2
		}
		u := strings.TrimSuffix(base.String(), "/") + p
		var resp *http.Response
		for attempt := 1; ; attempt++ {
			resp, err = client.Get(u)
			if err == nil || attempt == checkAttempts {
				break
			}
			fmt.Fprintf(out, "GET %s: %v (attempt %d of %d, trying again)\n", u, err, attempt, checkAttempts)
			time.Sleep(checkBackoff) // a pause between attempts, not a wait for a condition
		}
		if err != nil {
			fmt.Fprintf(out, "GET %s: %v\n", u, err)
			code = 1
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, upstreamBodyMax))
		resp.Body.Close()
		fmt.Fprintf(out, "GET %s: %s\n%s\n", u, resp.Status, strings.TrimSpace(string(body)))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			code = 1
		}
	}
	return code
}
