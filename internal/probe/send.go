package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// sendAttempts is the first try and three retries.
	sendAttempts = 4
	// sendTimeout bounds one attempt.
	sendTimeout = 15 * time.Second
)

// ReportPath is where the server takes run's report.
func ReportPath(run int64) string {
	return "/api/v1/probes/runs/" + strconv.FormatInt(run, 10) + "/report"
}

// Send posts the report as JSON to the server (Server + ReportPath), with the probe token.
// It retries three times, waiting RetryWait and then twice as long each time, when the
// server cannot be reached or answers 5xx; any other answer but 2xx is final.
func Send(ctx context.Context, c Config, r Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report run %d: %w", r.Run, err)
	}
	target := strings.TrimRight(c.Server, "/") + ReportPath(r.Run)
	s := newScrubber(c)
	shown := redactURL(target)
	client := &http.Client{Timeout: sendTimeout}
	wait := c.retryWait()
	for attempt := 1; ; attempt++ {
		retry, err := sendOnce(ctx, client, target, c.Token, body)
		if err == nil {
			return nil
		}
		err = fmt.Errorf("report run %d to %s (attempt %d of %d): %s", r.Run, shown, attempt, sendAttempts, s.scrub(err.Error()))
		if !retry || attempt == sendAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; gave up: %w", err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// sendOnce posts the report once, and says whether a failure is worth a retry.
func sendOnce(ctx context.Context, client *http.Client, target, token string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-probe")
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return false, nil
	case resp.StatusCode >= 500:
		return true, errors.New(resp.Status + excerpt(answer))
	default:
		return false, errors.New(resp.Status + excerpt(answer))
	}
}
