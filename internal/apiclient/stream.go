package apiclient

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// stream reads the server-sent events of GET path, calling handle with each event's name
// and data until handle says the stream is done or fails. kind and id name what is
// followed ("deploy", 7) in errors. An error before the stream starts is the server's own,
// as for any other request.
func (c *Client) stream(ctx context.Context, path, kind string, id int64, handle func(event string, data []byte) (done bool, err error)) error {
	u, err := c.url(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// No client timeout: a rollout may take as long as its deadline.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp, "GET", path)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // bounds each line, so each event
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			done, err := handle(event, []byte(strings.TrimPrefix(line, "data: ")))
			if done || err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stream %s %d: %w", kind, id, err)
	}
	return fmt.Errorf("stream %s %d: the server closed the stream before the %s ended", kind, id, kind)
}
