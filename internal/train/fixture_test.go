package train_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/train"
)

// The real node's cluster, if a test started it, is stopped when the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.StopRealNode()
	os.Exit(code)
}

// clock is the tests' fake clock: real time shifted, so that what runs for real (deploys,
// the forge) keeps its pace while the tests jump to the times a train is due.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// set makes it at now.
func (c *clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = time.Until(at)
}

// chatRoom is the chat the trains announce in, as the tests see it: what was posted and
// edited, by channel, and a directory of users by email. The Slack adapter behind the
// same calls is tested against slack-go's test server (internal/slackbot).
type chatRoom struct {
	mu       sync.Mutex
	messages []message
	people   map[string]string // email -> chat user
}

type message struct{ channel, id, text string }

func (c *chatRoom) Post(_ context.Context, channel, text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := fmt.Sprintf("m%d", len(c.messages)+1)
	c.messages = append(c.messages, message{channel, id, text})
	return id, nil
}

func (c *chatRoom) Update(_ context.Context, channel, id, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.messages {
		if m.id == id && m.channel == channel {
			c.messages[i].text = text
			return nil
		}
	}
	return fmt.Errorf("no message %s in %s", id, channel)
}

func (c *chatRoom) UserByEmail(_ context.Context, email string) (string, error) {
	if u, ok := c.people[email]; ok {
		return u, nil
	}
	return "", fmt.Errorf("users_not_found")
}

func (c *chatRoom) Mention(user string) string { return "<@" + user + ">" }
func (c *chatRoom) Provider() string           { return "slack" }

// posts are the messages of channel, oldest first.
func (c *chatRoom) posts(channel string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.messages {
		if m.channel == channel {
			out = append(out, m.text)
		}
	}
	return out
}

// forges opens a connection's forge: internal/forge's client, whose Compare is what the
// trains need, as cmd/berth wires it.
func forges(r berth.AppRepo, token string) (train.Forge, error) {
	return forge.NewClient(r.Forge, r.URL, token)
}

// fixture is a store and service on a fake clock, team shop with a viewer (dave), and
// environments staging and production.
type fixture struct {
	st    *store.Store
	svc   *service.Service
	clock *clock
	chat  *chatRoom
	root  *authz.Principal
	dave  *authz.Principal
}

func newFixture(t *testing.T, envs ...berth.Environment) *fixture {
	ctx := t.Context()
	raw := make([]byte, 32)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clock: &clock{}, chat: &chatRoom{people: map[string]string{}}}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key), store.WithClock(f.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.svc = service.New(st, slog.New(slog.DiscardHandler), f.clock.now)
	const token = "berth_train_test_token_0123456789abcdef"
	if _, err := f.svc.Bootstrap(ctx, token); err != nil {
		t.Fatal(err)
	}
	if f.root, err = f.svc.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	must(t)(f.svc.CreateTeam(ctx, f.root, "shop"))
	if len(envs) == 0 {
		envs = []berth.Environment{{Name: "staging", InCluster: true}, {Name: "production", InCluster: true}}
	}
	for _, e := range envs {
		must(t)(f.svc.CreateEnvironment(ctx, f.root, e))
	}
	f.dave = f.user(t, "dave", "dave@example.com", "viewer")
	return f
}

// user makes a user with email and role in team shop, and returns them signed in.
func (f *fixture) user(t *testing.T, name, email, role string) *authz.Principal {
	ctx := t.Context()
	must(t)(f.svc.CreateUser(ctx, f.root, berth.User{Name: name, Email: email}))
	must(t)(f.svc.SetMember(ctx, f.root, "shop", name, role))
	_, secret, err := f.svc.CreateToken(ctx, f.root, name, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scheduler is a server's train scheduler on the fixture, with a short lease.
func (f *fixture) scheduler() *train.Scheduler {
	return train.New(f.st, f.svc, forges, f.chat, slog.New(slog.DiscardHandler), train.Options{Now: f.clock.now, Lease: 2 * time.Second})
}

// tick ticks s once, which must lead.
func tick(t *testing.T, s *train.Scheduler) {
	t.Helper()
	leader, err := s.Tick(t.Context())
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	if !leader {
		t.Fatal("the scheduler does not hold the lease")
	}
}

// run is the train's one run, as it is now.
func (f *fixture) run(t *testing.T, team, name string) berth.TrainRun {
	t.Helper()
	st, err := f.svc.Train(t.Context(), f.root, team, name, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) == 0 {
		t.Fatal("the train has no run")
	}
	return st.Runs[0]
}

func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// lisbon is the trains' time zone in the tests: UTC+0 in December, but named.
func lisbon(t *testing.T, hour, minute int) time.Time {
	loc, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 12, 7, hour, minute, 0, 0, loc)
}

func contains(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// realNodeEnvs are staging and production on the real node's cluster, in namespaces of
// this test, deleted when it ends.
func realNodeEnvs(t *testing.T, rn *kubetest.RealNodeCluster) []berth.Environment {
	b := make([]byte, 3)
	rand.Read(b)
	prefix := "train-" + hex.EncodeToString(b)
	var tols []berth.Toleration
	for _, tol := range rn.Tolerations() {
		tols = append(tols, berth.Toleration{Key: tol.Key, Operator: berth.TolerationOperator(tol.Operator), Value: tol.Value, Effect: berth.TaintEffect(tol.Effect)})
	}
	var envs []berth.Environment
	for _, name := range []string{"staging", "production"} {
		envs = append(envs, berth.Environment{Name: name, Kubeconfig: rn.Kubeconfig, NamespaceTemplate: prefix + "-{env}",
			Scheduling: berth.Scheduling{NodeSelector: rn.NodeSelector(), Tolerations: tols}})
	}
	t.Cleanup(func() {
		cs := rn.Client(t)
		for _, name := range []string{"staging", "production"} {
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), prefix+"-"+name, metav1.DeleteOptions{})
		}
	})
	return envs
}

// waitFor polls cond every 100 ms until it holds, failing after limit with what().
func waitFor(t *testing.T, limit time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s: %s", limit, what())
		}
		time.Sleep(100 * time.Millisecond) // the store has no watch for deploy states
	}
}
