package slackbot_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/chat"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/slackbot"
	"github.com/berth-dev/berth/internal/store"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// sink records what reaches it: slash commands' response_url answers, and the Web API's
// chat.postMessage and chat.postEphemeral calls (as slacktest's server, customized).
type sink struct {
	mu   sync.Mutex
	got  []map[string]string
	wake chan struct{}
}

func newSink() *sink { return &sink{wake: make(chan struct{}, 64)} }

func (s *sink) add(m map[string]string) {
	s.mu.Lock()
	s.got = append(s.got, m)
	s.mu.Unlock()
	s.wake <- struct{}{}
}

// next waits for the next message.
func (s *sink) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case <-s.wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10 s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.got[0]
	s.got = s.got[1:]
	return m
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

type fixture struct {
	st       *store.Store
	srv      *httptest.Server
	svc      *service.Service
	admin    *authz.Principal
	answers  *sink // response_url
	messages *sink // chat.postMessage / postEphemeral
	respond  string
	h        *slackbot.Handler
}

func newFixture(t *testing.T) *fixture {
	ctx := t.Context()
	raw := make([]byte, 32)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	svc := service.New(st, log, time.Now)
	const token = "berth_slackbot_test_token_0123456789abcdef"
	if _, err := svc.Bootstrap(ctx, token); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTeam(ctx, admin, "shop"))
	must(svc.CreateUser(ctx, admin, berth.User{Name: "alice", Email: "alice@example.com"}))
	must(svc.CreateUser(ctx, admin, berth.User{Name: "bob"}))
	must(svc.SetMember(ctx, admin, "shop", "alice", "deployer"))
	must(svc.SetMember(ctx, admin, "shop", "bob", "viewer"))
	must(svc.CreateApp(ctx, admin, "shop", "web", ""))
	must(svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "staging", InCluster: true}))

	f := &fixture{st: st, svc: svc, admin: admin, answers: newSink(), messages: newSink()}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("response_url got %q", body)
		}
		f.answers.add(map[string]string{"path": r.URL.Path, "text": fmt.Sprint(m["text"]), "response_type": fmt.Sprint(m["response_type"])})
	}))
	t.Cleanup(hooks.Close)
	f.respond = hooks.URL + "/commands/T1/1/abc"

	// Slack's Web API: slacktest's server, its users.info saying who confirmed which email,
	// and its posts recorded.
	users := map[string]string{"UALICE": "alice@example.com", "UMALLORY": "mallory@example.com"}
	confirmed := map[string]bool{"UALICE": true}
	post := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			f.messages.add(map[string]string{"kind": kind, "channel": r.Form.Get("channel"), "text": r.Form.Get("text"),
				"thread_ts": r.Form.Get("thread_ts"), "user": r.Form.Get("user"), "blocks": r.Form.Get("blocks")})
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.000100","message_ts":"1700000000.000100"}`, r.Form.Get("channel"))
		}
	}
	api := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/users.info", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			id := r.Form.Get("user")
			fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"team_id":"T1","name":%q,"is_email_confirmed":%t,"profile":{"email":%q}}}`,
				id, strings.ToLower(id), confirmed[id], users[id])
		})
		c.Handle("/users.lookupByEmail", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			switch r.Form.Get("email") {
			case "alice@example.com":
				fmt.Fprint(w, `{"ok":true,"user":{"id":"UALICE","team_id":"T1","name":"alice"}}`)
			case "robot@example.com":
				fmt.Fprint(w, `{"ok":true,"user":{"id":"UROBOT","team_id":"T1","name":"robot","is_bot":true}}`)
			case "guest@example.com":
				fmt.Fprint(w, `{"ok":true,"user":{"id":"UGUEST","team_id":"T2","name":"guest"}}`)
			default:
				fmt.Fprint(w, `{"ok":false,"error":"users_not_found"}`)
			}
		})
		c.Handle("/chat.postMessage", post("message"))
		c.Handle("/chat.postEphemeral", post("ephemeral"))
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			f.messages.add(map[string]string{"kind": "update", "channel": r.Form.Get("channel"), "text": r.Form.Get("text"), "ts": r.Form.Get("ts"),
				"blocks": r.Form.Get("blocks")})
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q,"text":""}`, r.Form.Get("channel"), r.Form.Get("ts"))
		})
	})
	api.Start()
	t.Cleanup(api.Stop)
	h, err := slackbot.New(svc, log, slackbot.Options{SigningSecret: signingSecret, Token: "xoxb-test", TeamID: "T1", APIURL: api.GetAPIURL(),
		ResponseURLPrefix: hooks.URL + "/commands/"})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	t.Cleanup(h.Close)
	return f
}

// sign signs body as Slack does: v0=HMAC-SHA256(secret, "v0:" + timestamp + ":" + body).
func sign(body string, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

func (f *fixture) post(t *testing.T, path, body string, h http.Header, contentType string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(out)
}

// command sends a signed slash command from user and returns the status, the ack, and
// the request's body and headers.
func (f *fixture) command(t *testing.T, user, text string) (int, string, string, http.Header) {
	t.Helper()
	body := url.Values{"command": {"/berth"}, "text": {text}, "user_id": {user}, "team_id": {"T1"}, "channel_id": {"C1"},
		"response_url": {f.respond}, "trigger_id": {"1.2.3"}}.Encode()
	h := sign(body, time.Now())
	code, ack := f.post(t, "/chat/slack/commands", body, h.Clone(), "application/x-www-form-urlencoded")
	return code, ack, body, h
}

// TestSlashCommands: slash commands signed as Slack signs them are acknowledged at once and
// answered through their response_url, as the Berth user the Slack user is (by confirmed
// email, or by a link), with exactly that user's permissions; unknown users and commands
// get a clear private refusal, audited.
func TestSlashCommands(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	code, ack, _, _ := f.command(t, "UALICE", "history web")
	if code != http.StatusOK || !strings.Contains(ack, "Working on `history web`") {
		t.Fatalf("ack: %d %s", code, ack)
	}
	// What alice may read is answered to her alone.
	if a := f.answers.next(t); a["text"] != "shop/web has no deploys yet" || a["response_type"] != "ephemeral" {
		t.Errorf("alice's history: %v", a)
	}

	// Mallory's email is not confirmed with Slack, and she is linked to nobody.
	f.command(t, "UMALLORY", "status web")
	if a := f.answers.next(t); !strings.Contains(a["text"], "linked to no Berth user") || a["response_type"] != "ephemeral" ||
		!strings.Contains(a["text"], "berth users link-chat USER --slack UMALLORY") {
		t.Errorf("an unknown user: %v", a)
	}

	// Bob is linked by an admin; he views shop, so a rollback is refused.
	if err := f.svc.LinkChat(ctx, f.admin, "bob", slackbot.Provider, "UBOB"); err != nil {
		t.Fatal(err)
	}
	f.command(t, "UBOB", "rollback web in staging")
	if a := f.answers.next(t); !strings.HasPrefix(a["text"], "Refused:") || a["response_type"] != "ephemeral" {
		t.Errorf("a viewer's rollback: %v", a)
	}

	f.command(t, "UALICE", "deploi web#3071")
	if a := f.answers.next(t); !strings.Contains(a["text"], "did you mean `deploy`") || !strings.Contains(a["text"], "deploy APP#PR") {
		t.Errorf("a misspelt command: %v", a)
	}
	f.command(t, "UALICE", "promote web to production --team nosuch")
	if a := f.answers.next(t); !strings.HasPrefix(a["text"], "Could not:") && !strings.HasPrefix(a["text"], "Refused:") {
		t.Errorf("a promotion in a team that does not exist: %v", a)
	}

	// deploy web#7: the preview of pull request 7, deployed again as alice.
	f.command(t, "UALICE", "deploy web#7")
	if a := f.answers.next(t); !strings.Contains(a["text"], "has no open preview of pull request #7") {
		t.Errorf("deploy of a pull request without a preview: %v", a)
	}
	if _, err := f.svc.CreateEnvironment(ctx, f.admin, berth.Environment{Name: "preview", InCluster: true, PreviewOf: "staging"}); err != nil {
		t.Fatal(err)
	}
	const sha = "0123456789abcdef0123456789abcdef01234567"
	err := f.st.Tx(ctx, func(tx *store.Tx) error {
		base, err := tx.Environment(ctx, "preview")
		if err != nil {
			return err
		}
		_, env, err := tx.OpenPreview(ctx, berth.Preview{Team: "shop", App: "web", PR: 7, Branch: "feature", SHA: sha}, base)
		if err != nil {
			return err
		}
		if _, err := tx.AddRevision(ctx, "shop", "web", "apiVersion: berth.dev/v1\nmetadata: {name: web}\ncontainers:\n  web: {image: \"nginx:${git.short}\"}\n", "alice"); err != nil {
			return err
		}
		_, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "shop", App: "web", Env: env.Name, Revision: 1, Kind: berth.KindDeploy,
			CreatedBy: "webhook:gitea", Args: map[string]string{"git.sha": sha, "git.short": sha[:12], "git.pr": "7", "git.branch": "feature"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, ack, _, _ := f.command(t, "UALICE", "deploy web#7 --team shop"); code != http.StatusOK { // not the same request again
		t.Fatalf("deploy web#7: %d %s", code, ack)
	}
	a := f.answers.next(t)
	if !strings.Contains(a["text"], "alice deploys the preview of web#7 (branch feature, "+sha[:12]+") again") || a["response_type"] != "in_channel" {
		t.Errorf("deploy web#7: %v", a)
	}
	ds, err := f.svc.History(ctx, f.admin, "shop", "web", "preview-shop-web-pr7", 10)
	if err != nil || len(ds) != 2 || ds[0].CreatedBy != "alice" || ds[0].Args["git.sha"] != sha {
		t.Errorf("the preview's deploys: %+v %v", ds, err)
	}

	events, err := f.svc.ListAudit(ctx, f.admin, berth.AuditFilter{Actor: "chat:slack:UMALLORY", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "chat.command" || events[0].Outcome != berth.OutcomeDenied {
		t.Errorf("the unknown user's audit events: %+v", events)
	}
}

// TestDeployRefCommand: `deploy APP@REF to ENV` asks, as the chat user, for a git job that
// deploys the ref (the git workers resolve it; none runs here), and says so in the channel;
// a viewer is refused privately.
func TestDeployRefCommand(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// No forge is asked to connect (no webhook) nor to ask for the job.
	if _, err := f.svc.ConnectRepo(ctx, f.admin, service.ConnectRequest{Team: "shop", App: "web", Forge: berth.ForgeGitea,
		URL: "http://127.0.0.1:1/shop/web", Token: "forge-token"}); err != nil {
		t.Fatal(err)
	}
	f.command(t, "UALICE", "deploy web@main to staging")
	a := f.answers.next(t)
	jobs, err := f.st.GitJobs(ctx, "shop", "web", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("git jobs after alice's deploy of main: %+v", jobs)
	}
	want := fmt.Sprintf("Deploying web at main to staging (git job %d): the deploy's message follows", jobs[0].ID)
	if a["text"] != want || a["response_type"] != "in_channel" {
		t.Errorf("alice's deploy of main: %v; want %q in the channel", a, want)
	}
	if ev := jobs[0].Event; ev.Kind != berth.GitDeployRef || ev.Ref != "main" || ev.Env != "staging" || ev.RequestedBy != "alice" {
		t.Errorf("the job's event: %+v", ev)
	}

	if err := f.svc.LinkChat(ctx, f.admin, "bob", slackbot.Provider, "UBOB"); err != nil {
		t.Fatal(err)
	}
	f.command(t, "UBOB", "deploy web@main to staging")
	if a := f.answers.next(t); !strings.HasPrefix(a["text"], "Refused:") || a["response_type"] != "ephemeral" {
		t.Errorf("a viewer's deploy of main: %v", a)
	}
	if jobs, _ := f.st.GitJobs(ctx, "shop", "web", 10); len(jobs) != 1 {
		t.Errorf("git jobs after a viewer's deploy: %+v", jobs)
	}
}

// TestRefusedRequests: a bad signature, a stale timestamp, a replay, a 10 MB body: refused,
// nothing answered, each audited.
func TestRefusedRequests(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	_, _, body, signed := f.command(t, "UALICE", "help")
	f.answers.next(t)
	upper := signed.Clone() // the same signature, its hex in upper case
	upper.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(signed.Get("X-Slack-Signature"), "v0=")))
	other := url.Values{"text": {"help"}, "user_id": {"UALICE"}, "team_id": {"TOTHER"}, "response_url": {f.respond}}.Encode()

	stale := url.Values{"text": {"help"}, "user_id": {"UALICE"}, "response_url": {f.respond}}.Encode()
	huge := url.Values{"text": {strings.Repeat("x", 10<<20)}, "user_id": {"UALICE"}, "response_url": {f.respond}}.Encode()
	badSig := sign(stale, time.Now())
	badSig.Set("X-Slack-Signature", "v0="+strings.Repeat("0", 64))
	flipped := strings.Replace(body, "help", "hel", 1)
	for _, tc := range []struct {
		name string
		body string
		h    http.Header
		want int
	}{
		{"replay", body, signed, http.StatusConflict},
		{"replay, its signature in upper case", body, upper, http.StatusConflict},
		{"another workspace", other, sign(other, time.Now()), http.StatusForbidden},
		{"bad signature", stale, badSig, http.StatusUnauthorized},
		{"one byte changed", flipped, signed, http.StatusUnauthorized},
		{"stale timestamp", stale, sign(stale, time.Now().Add(-10*time.Minute)), http.StatusUnauthorized},
		{"no signature", stale, http.Header{}, http.StatusUnauthorized},
		{"10 MB body", huge, sign(huge, time.Now()), http.StatusRequestEntityTooLarge},
	} {
		code, answer := f.post(t, "/chat/slack/commands", tc.body, tc.h.Clone(), "application/x-www-form-urlencoded")
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, answer, tc.want)
		}
	}
	f.h.Wait()
	if n := f.answers.count(); n != 0 {
		t.Errorf("refused requests were answered %d times", n)
	}
	events, err := f.svc.ListAudit(ctx, f.admin, berth.AuditFilter{Actor: "chat:slack", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 8 {
		t.Errorf("%d denied chat.receive events, want 8 (every refusal): %+v", len(events), events)
	}
}

// TestEvents: the Events API's URL check is answered with its challenge; a mention is
// answered in its thread, a private answer only to its sender; Slack's retry of an event
// already taken is acknowledged and not acted on twice.
func TestEvents(t *testing.T) {
	f := newFixture(t)
	send := func(body string) (int, string) {
		return f.post(t, "/chat/slack/events", body, sign(body, time.Now()), "application/json")
	}
	if code, out := send(`{"type":"url_verification","token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`); code != 200 ||
		!strings.Contains(out, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") {
		t.Fatalf("url_verification: %d %s", code, out)
	}
	mention := func(id, text string) string {
		return fmt.Sprintf(`{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":%q,"event_time":1700000000,`+
			`"event":{"type":"app_mention","user":"UALICE","text":%q,"ts":"1700000000.000001","channel":"C1","event_ts":"1700000000.000001"}}`, id, text)
	}
	if code, _ := send(mention("Ev1", "<@UBERTH> history web")); code != 200 {
		t.Fatalf("a mention: %d", code)
	}
	if m := f.messages.next(t); m["kind"] != "ephemeral" || m["channel"] != "C1" || m["thread_ts"] != "1700000000.000001" ||
		m["text"] != "shop/web has no deploys yet" || m["user"] != "UALICE" {
		t.Errorf("the answer to a mention: %v", m)
	}
	send(mention("Ev2", "<@UBERTH> help"))
	if m := f.messages.next(t); m["kind"] != "ephemeral" || m["user"] != "UALICE" || !strings.Contains(m["text"], "rollback APP in ENV") {
		t.Errorf("help, privately: %v", m)
	}
	// Slack retries later: a new timestamp, so a new signature, and the same event_id.
	retry := mention("Ev1", "<@UBERTH> history web")
	if code, _ := f.post(t, "/chat/slack/events", retry, sign(retry, time.Now().Add(2*time.Second)), "application/json"); code != 200 {
		t.Fatalf("a retry: %d", code)
	}
	f.h.Wait()
	if n := f.messages.count(); n != 0 {
		t.Errorf("a retried event was answered again (%d)", n)
	}
}

// TestAnnouncer: a deploy gets one message in its team's channel, posted at its first event
// and edited in place as it rolls, runs its smoke tests and succeeds; a second server
// announcing the same deploys edits that message rather than posting another.
func TestAnnouncer(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.SetTeamChatChannel(ctx, f.admin, "shop", "CDEPLOYS"); err != nil {
		t.Fatal(err)
	}
	a := chat.NewAnnouncer(f.svc, f.h, slackbot.Provider, slog.New(slog.DiscardHandler))
	cursor, err := a.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var d berth.Deploy
	err = f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		if _, err := tx.AddRevision(ctx, "shop", "web", "apiVersion: berth.dev/v1\nmetadata: {name: web}\n", "alice"); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "alice"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cursor = a.Step(ctx, cursor)
	if queued := f.messages.next(t); queued["kind"] != "message" || queued["channel"] != "CDEPLOYS" || !strings.HasSuffix(queued["text"], "\nqueued") {
		t.Fatalf("the queued deploy's message: %v", queued)
	}
	if _, ok, err := f.st.ClaimDeploy(ctx, "engine", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	event := func(ev berth.DeployEvent) {
		t.Helper()
		ev.DeployID = d.ID
		if _, err := f.st.AddDeployEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	event(berth.DeployEvent{Phase: "progressing", Message: "rolling", Desired: 3, Updated: 2, Ready: 2, Available: 2})
	cursor = a.Step(ctx, cursor)
	first := f.messages.next(t)
	if first["kind"] != "update" || first["channel"] != "CDEPLOYS" ||
		!strings.Contains(first["text"], fmt.Sprintf("*shop/web* → *staging*: deploy %d, revision 1, by alice", d.ID)) ||
		!strings.Contains(first["text"], "rolling 2/3 ready") {
		t.Fatalf("the deploy's message: %v", first)
	}
	event(berth.DeployEvent{Phase: "smoke", Message: "home passed (200) in 5ms"})
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.FinishDeploy(ctx, d.ID, "engine", berth.DeploySucceeded, ""); err != nil {
			return err
		}
		_, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: "succeeded"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Step(ctx, cursor)
	update := f.messages.next(t)
	if update["kind"] != "update" || update["ts"] != "1700000000.000100" || !strings.Contains(update["text"], "succeeded") ||
		!strings.Contains(update["text"], "smoke 1 passed, 0 failed") {
		t.Errorf("the message, edited: %v", update)
	}
	// Another server, from the start: it edits the message, it posts none.
	chat.NewAnnouncer(f.svc, f.h, slackbot.Provider, slog.New(slog.DiscardHandler)).Step(ctx, chat.Cursor{})
	if again := f.messages.next(t); again["kind"] != "update" {
		t.Errorf("a second server's announcement: %v", again)
	}
	if n := f.messages.count(); n != 0 {
		t.Errorf("%d more messages", n)
	}

	// A failed deploy's message says how its automatic rollback goes.
	var failed, rb berth.Deploy
	err = f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		failed, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "alice"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cursor = a.Step(ctx, cursor)
	f.messages.next(t) // queued
	if _, ok, err := f.st.ClaimDeploy(ctx, "engine", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		if _, err := tx.FinishDeploy(ctx, failed.ID, "engine", berth.DeployFailed, "rollout failed: crash loop"); err != nil {
			return err
		}
		rb, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: 1, Kind: berth.KindAutoRollback,
			RollbackOf: failed.ID, SourceDeploy: d.ID, CreatedBy: "system"})
		if err != nil {
			return err
		}
		_, err = tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: failed.ID, Phase: "failed"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Step(ctx, cursor)
	var saw bool
	for f.messages.count() > 0 || !saw {
		m := f.messages.next(t)
		if strings.Contains(m["text"], fmt.Sprintf("deploy %d, revision 1", failed.ID)) &&
			strings.Contains(m["text"], fmt.Sprintf("rolled back automatically: deploy %d queued", rb.ID)) {
			saw = true
		}
	}
}

// TestApprovalButtons: a promotion awaiting approval gets its message with Approve and
// Reject buttons; a press is verified like every Slack request and acted on as the Slack
// user who pressed it: a viewer is refused, an allowed deployer approves (the deploy is
// queued, the answer is theirs alone), and the message loses its buttons.
func TestApprovalButtons(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.SetTeamChatChannel(ctx, f.admin, "shop", "CDEPLOYS"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateEnvironment(ctx, f.admin, berth.Environment{Name: "production", InCluster: true, Protected: true,
		AllowedDeployers: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.LinkChat(ctx, f.admin, "bob", slackbot.Provider, "UBOB"); err != nil {
		t.Fatal(err)
	}
	// What runs in staging: a succeeded deploy.
	var src berth.Deploy
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		if _, err := tx.AddRevision(ctx, "shop", "web", "apiVersion: berth.dev/v1\nmetadata: {name: web}\ncontainers:\n  web: {image: nginx}\n", "alice"); err != nil {
			return err
		}
		src, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "alice"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.st.ClaimDeploy(ctx, "engine", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := f.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, src.ID, "engine", berth.DeploySucceeded, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a := chat.NewAnnouncer(f.svc, f.h, slackbot.Provider, slog.New(slog.DiscardHandler))
	cursor, err := a.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Promote(ctx, f.admin, service.PromoteRequest{Team: "shop", App: "web", From: "staging", To: "production"})
	if err != nil || p.State != berth.DeployAwaiting {
		t.Fatalf("promote: %+v %v", p, err)
	}
	cursor = a.Step(ctx, cursor)
	m := f.messages.next(t)
	if m["kind"] != "message" || !strings.Contains(m["text"], "awaiting approval") || !strings.Contains(m["blocks"], `"action_id":"berth_approve"`) ||
		!strings.Contains(m["blocks"], fmt.Sprintf(`"value":"%d"`, p.ID)) {
		t.Fatalf("the promotion's message: %v", m)
	}
	press := func(user, action string) map[string]string {
		t.Helper()
		payload := fmt.Sprintf(`{"type":"block_actions","team":{"id":"T1"},"user":{"id":%q},"response_url":%q,"actions":[{"action_id":%q,"block_id":"berth_actions","value":"%d","type":"button"}]}`,
			user, f.respond, action, p.ID)
		body := url.Values{"payload": {payload}}.Encode()
		if code, out := f.post(t, "/chat/slack/actions", body, sign(body, time.Now()), "application/x-www-form-urlencoded"); code != 200 {
			t.Fatalf("a press: %d %s", code, out)
		}
		return f.answers.next(t)
	}
	if a := press("UBOB", chat.ActionApprove); !strings.HasPrefix(a["text"], "Refused:") || a["response_type"] != "ephemeral" {
		t.Errorf("a viewer's approval: %v", a)
	}
	if a := press("UALICE", chat.ActionApprove); a["text"] != fmt.Sprintf("alice approved deploy %d of shop/web to production", p.ID) ||
		a["response_type"] != "ephemeral" {
		t.Errorf("an allowed deployer's approval: %v", a)
	}
	if d, err := f.svc.GetDeploy(ctx, f.admin, p.ID); err != nil || d.State != berth.DeployQueued {
		t.Errorf("the approved promotion: %+v %v", d, err)
	}
	// The message, once its deploy moves on, has no buttons left. (The approval queued
	// it; the engine's first event would bring the announcer there: a new deploy is none.)
	if _, err := f.st.AddDeployEvent(ctx, berth.DeployEvent{DeployID: p.ID, Phase: "rendered"}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx, cursor)
	if u := f.messages.next(t); u["kind"] != "update" || strings.Contains(u["blocks"], "berth_approve") || !strings.Contains(u["text"], "queued") {
		t.Errorf("the message after the approval: %v", u)
	}
}

// TestTrainCommands: `train status|delay|depart` act on the team's train as the chat user's
// Berth user: anyone on the team delays it (twice a day, then refused), only deployers send
// it off; the status is the asker's alone, a delay is news for the channel. The train
// pings commit authors by email through users.lookupByEmail: full members only.
func TestTrainCommands(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.svc.CreateEnvironment(ctx, f.admin, berth.Environment{Name: "production", InCluster: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateTrain(ctx, f.admin, berth.Train{Team: "shop", Name: "daily", Schedule: "0 10 * * *", From: "staging", To: "production"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.LinkChat(ctx, f.admin, "bob", slackbot.Provider, "UBOB"); err != nil {
		t.Fatal(err)
	}
	f.command(t, "UBOB", "train status")
	if a := f.answers.next(t); !strings.Contains(a["text"], "*Train shop/daily*: staging → production") ||
		!strings.Contains(a["text"], "Next departure:") || !strings.Contains(a["text"], "2 delays left today") || a["response_type"] != "ephemeral" {
		t.Errorf("train status: %v", a)
	}
	// Two requests alike within a second are one replayed: the second names the train.
	for i, want := range []string{"1 more delay allowed today", "0 more delays allowed today"} {
		f.command(t, "UBOB", []string{"train delay", "train delay daily"}[i])
		if a := f.answers.next(t); !strings.Contains(a["text"], "bob delayed the shop/daily train by 30m0s") ||
			!strings.Contains(a["text"], want) || a["response_type"] != "in_channel" {
			t.Errorf("a delay: %v, want %q", a, want)
		}
	}
	f.command(t, "UBOB", "train delay daily --team shop")
	if a := f.answers.next(t); !strings.Contains(a["text"], "delayed 2 times") || a["response_type"] != "ephemeral" {
		t.Errorf("a third delay: %v", a)
	}
	f.command(t, "UBOB", "train depart")
	if a := f.answers.next(t); !strings.HasPrefix(a["text"], "Refused:") {
		t.Errorf("a viewer sending the train off: %v", a)
	}
	f.command(t, "UALICE", "train depart daily")
	if a := f.answers.next(t); !strings.Contains(a["text"], "alice sent the shop/daily train off") {
		t.Errorf("a deployer sending the train off: %v", a)
	}
	f.command(t, "UALICE", "train status weekly")
	if a := f.answers.next(t); !strings.Contains(a["text"], "no train called weekly") {
		t.Errorf("an unknown train: %v", a)
	}

	if id, err := f.h.UserByEmail(ctx, "alice@example.com"); err != nil || id != "UALICE" {
		t.Errorf("alice by email: %q %v", id, err)
	}
	for _, email := range []string{"robot@example.com", "guest@example.com", "nobody@example.com"} {
		if id, err := f.h.UserByEmail(ctx, email); err == nil {
			t.Errorf("%s by email: %q, want none", email, id)
		}
	}
}
