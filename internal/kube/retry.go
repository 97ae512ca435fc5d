package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Backoff paces retries of transient API errors. Before retry n (from 1) a call waits a
// random time in [d/2, d], d = min(Initial·2ⁿ⁻¹, Max), or longer when the server asked for
// it with Retry-After (still at most Max); it gives up after Attempts tries in all, or when
// its context ends. The jitter keeps many workers that failed together from retrying in step.
type Backoff struct {
	// Initial is the first wait; 200ms when zero.
	Initial time.Duration
	// Max caps every wait; 5s when zero.
	Max time.Duration
	// Attempts is the number of tries, the first included; 6 when zero, 1 to never retry.
	Attempts int
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Attempts <= 0 {
		b.Attempts = 6
	}
	return b
}

// wait returns how long to sleep before retry n (n ≥ 1).
func (b Backoff) wait(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// retry calls fn until it succeeds, fails with an error that retrying cannot fix, runs out
// of attempts, or ctx ends. op names the call in logs.
func (c *Cluster) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		}
		if attempt >= c.backoff.Attempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		wait := c.backoff.wait(attempt)
		if secs, ok := apierrors.SuggestsClientDelay(err); ok {
			wait = min(max(wait, time.Duration(secs)*time.Second), c.backoff.Max)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "kubernetes API call failed; retrying",
			slog.String("op", op), slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryable says whether err is transient: the API server is overloaded, failing, or out of
// reach. Refusals (not found, forbidden, invalid, field conflicts) are not.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch code := int(status.Status().Code); {
		case code == http.StatusTooManyRequests:
			return true
		case code == http.StatusNotImplemented || code == http.StatusHTTPVersionNotSupported:
			return false
		case code >= 500:
			return true
		}
		return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsUnexpectedServerError(err)
	}
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) {
		return true
	}
	// A request that timed out on the client side; retry only decides to give up when the
	// caller's own context has ended.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
