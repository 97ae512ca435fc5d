package natstest_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/berth-dev/berth/internal/natstest"
)

// TestServer: a message published is received through the real server with its token;
// without the token the server refuses; stopped, it refuses connections; resumed on its
// address, it serves again.
func TestServer(t *testing.T) {
	srv := natstest.Start(t)
	roundTrip := func() error {
		nc, err := nats.Connect(srv.URL, nats.Token(srv.Token), nats.Timeout(2*time.Second), nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		sub, err := nc.SubscribeSync("berth.test")
		if err != nil {
			return err
		}
		if err := nc.Publish("berth.test", []byte("hello")); err != nil {
			return err
		}
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			return err
		}
		if string(msg.Data) != "hello" {
			t.Fatalf("received %q", msg.Data)
		}
		return nil
	}
	if err := roundTrip(); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if nc, err := nats.Connect(srv.URL, nats.Token("wrong"), nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong token")
	}
	srv.Stop()
	if err := roundTrip(); err == nil {
		t.Fatal("round trip through a stopped server")
	}
	srv.Resume()
	if err := roundTrip(); err != nil {
		t.Fatalf("round trip after resuming: %v", err)
	}
}
