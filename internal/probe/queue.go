package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
)

// checkQueue makes a round trip through the queue: a message published on a subject of
// its own, received back by a subscription made first.
func checkQueue(ctx context.Context, c Config, _ *scrubber) (string, error) {
	if c.QueueURL == "" {
		return "", notConfigured(EnvQueueURL)
	}
	u, err := url.Parse(c.QueueURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s: %q is not a nats:// URL", EnvQueueURL, redactURL(c.QueueURL))
	}
	// A nats:// URL's user info may be a token alone: show none of it.
	shown := u.Scheme + "://" + u.Host
	where := "queue " + shown
	// nats.Connect takes no context: dial within the step's, and keep the dial's failure,
	// which nats.go reports only as "no servers available" when the connection is refused.
	var dialErr error
	dial := dialFunc(func(network, address string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
		if err != nil {
			dialErr = err
		}
		return conn, err
	})
	opts := []nats.Option{nats.Name("berth-probe"), nats.NoReconnect(), nats.SetCustomDialer(dial)}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(deadline)))
	}
	if c.QueueToken != "" {
		opts = append(opts, nats.Token(c.QueueToken))
	}
	nc, err := nats.Connect(c.QueueURL, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) && dialErr != nil {
			err = fmt.Errorf("%w (%w)", err, dialErr)
		}
		return "", fmt.Errorf("%s: connect: %w", where, err)
	}
	defer nc.Close()
	subject := "berth.probe." + randomID()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		return "", fmt.Errorf("%s: subscribe %s: %w", where, subject, err)
	}
	defer sub.Unsubscribe()
	// The server must hold the subscription before the publish, or the message goes nowhere.
	if err := nc.FlushWithContext(ctx); err != nil {
		return "", fmt.Errorf("%s: subscribe %s: %w", where, subject, err)
	}
	data := []byte(rand.Text())
	if err := nc.Publish(subject, data); err != nil {
		return "", fmt.Errorf("%s: publish on %s: %w", where, subject, err)
	}
	msg, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: consume on %s: %w", where, subject, err)
	}
	if !bytes.Equal(msg.Data, data) {
		return "", fmt.Errorf("%s: consumed %q on %s, published %q", where, msg.Data, subject, data)
	}
	return "publish, consume on " + subject + " at " + shown, nil
}

// dialFunc is a function as nats.CustomDialer.
type dialFunc func(network, address string) (net.Conn, error)

func (f dialFunc) Dial(network, address string) (net.Conn, error) { return f(network, address) }
