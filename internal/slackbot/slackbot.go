// Package slackbot is the bot's Slack edge: it takes Slack's slash commands
// (POST /chat/slack/commands) and Events API deliveries (POST /chat/slack/events: the URL
// check and @berth mentions), verifies each as Slack signs it (HMAC-SHA256 of
// "v0:timestamp:body" with the app's signing secret, within five minutes, each signature
// taken once), answers within Slack's three seconds, and does the work after: the bot
// (internal/chat) answers, and the answer goes back through the command's response_url or,
// for a mention, chat.postMessage in its thread. Slack's Web API is reached through
// slack-go; its tests run against slack-go's slacktest server.
package slackbot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/chat"
	"github.com/berth-dev/berth/internal/service"
)

// Provider names Slack in chat links and audit events.
const Provider = "slack"

// MaxBody bounds a request's body: slash commands and events are a few KiB.
const MaxBody = 64 << 10

// Options configure a Handler.
type Options struct {
	// SigningSecret is the Slack app's signing secret; Token its bot token (xoxb-...).
	SigningSecret, Token string
	// TeamID is the Slack workspace the app serves (T...): requests of any other, and
	// users of any other (a shared channel's), are refused.
	TeamID string
	// APIURL is Slack's Web API ("" for https://slack.com/api/; slacktest's in tests).
	APIURL string
	// ResponseURLPrefix is what a slash command's response_url must start with (""
	// for https://hooks.slack.com/): answers go nowhere else.
	ResponseURLPrefix string
	// Workers bounds the commands worked on at once (0: 4); more wait.
	Workers int
}

// Handler serves Slack's requests.
type Handler struct {
	o Options
	// ctx ends the work of commands when the server stops (Close).
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	svc    *service.Service
	bot    *chat.Bot
	api    *slack.Client
	log    *slog.Logger
	mux    *http.ServeMux
	sem    chan struct{}
	wg     sync.WaitGroup
	client *http.Client
}

// New returns a Handler acting through svc.
func New(svc *service.Service, log *slog.Logger, o Options) (*Handler, error) {
	if o.SigningSecret == "" || o.Token == "" || o.TeamID == "" {
		return nil, errors.New("slack: a signing secret, a bot token and the workspace's team id are all needed")
	}
	if o.ResponseURLPrefix == "" {
		o.ResponseURLPrefix = "https://hooks.slack.com/"
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	client := &http.Client{Timeout: 15 * time.Second}
	opts := []slack.Option{slack.OptionHTTPClient(client)}
	if o.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(o.APIURL, "/")+"/"))
	}
	h := &Handler{o: o, svc: svc, bot: chat.NewBot(svc, log), api: slack.New(o.Token, opts...), log: log,
		mux: http.NewServeMux(), sem: make(chan struct{}, o.Workers), client: client}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.mux.HandleFunc("POST /chat/slack/commands", h.commands)
	h.mux.HandleFunc("POST /chat/slack/events", h.events)
	h.mux.HandleFunc("POST /chat/slack/actions", h.actions)
	return h, nil
}

// ServeHTTP serves /chat/slack/commands and /chat/slack/events.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Wait waits for the commands being worked on to be answered.
func (h *Handler) Wait() { h.wg.Wait() }

// Close ends the work of commands still running, takes no more, and waits for them.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// verified reads r's body (at most MaxBody) and checks Slack's signature and time, then
// takes the signature once. It writes the refusal itself and returns ok false.
func (h *Handler) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	refuse := func(status int, why string) ([]byte, bool) {
		h.svc.RefuseChat(r.Context(), Provider, why)
		http.Error(w, why, status)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("a Slack request is at most %d bytes", MaxBody))
	case err != nil:
		return refuse(http.StatusBadRequest, "reading the request: "+err.Error())
	}
	v, err := slack.NewSecretsVerifier(r.Header, h.o.SigningSecret)
	if err != nil {
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			return refuse(http.StatusUnauthorized, "the request's X-Slack-Request-Timestamp is more than five minutes away")
		}
		return refuse(http.StatusUnauthorized, "the request carries no valid X-Slack-Signature and X-Slack-Request-Timestamp")
	}
	_, _ = v.Write(body)
	if v.Ensure() != nil {
		return refuse(http.StatusUnauthorized, "the request's X-Slack-Signature is not Slack's signature of it")
	}
	// Hex either case decodes to the same signature: the key is the lower-case one.
	if err := h.svc.TakeChatRequest(r.Context(), Provider, "sig:"+strings.ToLower(r.Header.Get("X-Slack-Signature")), 0); err != nil {
		if errors.Is(err, berth.ErrConflict) {
			http.Error(w, "this request was received already (a replay)", http.StatusConflict)
		} else {
			http.Error(w, "Berth could not take the request now", http.StatusServiceUnavailable)
		}
		return nil, false
	}
	return body, true
}

// commands takes a slash command: verified, acknowledged at once (privately, with the
// command's words), answered through its response_url when the bot is done.
func (h *Handler) commands(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "the body is no form", http.StatusBadRequest)
		return
	}
	user, text, respond := form.Get("user_id"), form.Get("text"), form.Get("response_url")
	if form.Get("team_id") != h.o.TeamID {
		h.refuseTeam(w, r, form.Get("team_id"))
		return
	}
	if !strings.HasPrefix(respond, h.o.ResponseURLPrefix) || user == "" {
		http.Error(w, "a slash command names its user and a Slack response_url", http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"response_type": "ephemeral", "text": "Working on `" + clip(text) + "`…"})
	h.async(func(ctx context.Context) {
		reply := h.bot.Handle(ctx, chat.Request{Identity: h.identity(ctx, user), Text: text})
		kind := slack.ResponseTypeInChannel
		if reply.Private {
			kind = slack.ResponseTypeEphemeral
		}
		msg := &slack.WebhookMessage{Text: reply.Text, ResponseType: kind, ReplaceOriginal: true}
		if err := slack.PostWebhookCustomHTTPContext(ctx, respond, h.client, msg); err != nil {
			h.log.Warn("answer a slash command", "user", user, "err", err)
		}
	})
}

// mention is the bot's own mention at the start of an app_mention's text.
var mention = regexp.MustCompile(`^\s*<@[A-Z0-9]+>\s*`)

// events takes Events API deliveries: the URL check is answered with its challenge; an
// app_mention is acknowledged and answered in its thread. Slack's retries of an event
// already taken (same event_id) are acknowledged and dropped.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		http.Error(w, "the body is no Events API event", http.StatusBadRequest)
		return
	}
	switch ev.Type {
	case slackevents.URLVerification:
		var c slackevents.ChallengeResponse
		if json.Unmarshal(body, &c) != nil {
			http.Error(w, "a url_verification without a challenge", http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"challenge": c.Challenge})
		return
	case slackevents.CallbackEvent:
	default:
		w.WriteHeader(http.StatusOK) // nothing Berth acts on
		return
	}
	m, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	var outer struct {
		EventID string `json:"event_id"`
		TeamID  string `json:"team_id"`
	}
	if json.Unmarshal(body, &outer) != nil || outer.EventID == "" {
		http.Error(w, "an event_callback without an event_id", http.StatusBadRequest)
		return
	}
	if outer.TeamID != h.o.TeamID {
		h.refuseTeam(w, r, outer.TeamID)
		return
	}
	// Slack retries an event for about six minutes: its id is kept for an hour.
	if err := h.svc.TakeChatRequest(r.Context(), Provider, "event:"+outer.EventID, time.Hour); err != nil {
		if errors.Is(err, berth.ErrConflict) {
			w.WriteHeader(http.StatusOK) // Slack's retry of an event already taken
		} else {
			http.Error(w, "Berth could not take the event now", http.StatusServiceUnavailable) // Slack retries
		}
		return
	}
	w.WriteHeader(http.StatusOK)
	text := mention.ReplaceAllString(m.Text, "")
	thread := m.ThreadTimeStamp
	if thread == "" {
		thread = m.TimeStamp
	}
	h.async(func(ctx context.Context) {
		reply := h.bot.Handle(ctx, chat.Request{Identity: h.identity(ctx, m.User), Text: text})
		opts := []slack.MsgOption{slack.MsgOptionText(reply.Text, false), slack.MsgOptionTS(thread)}
		var err error
		if reply.Private {
			_, err = h.api.PostEphemeralContext(ctx, m.Channel, m.User, opts...)
		} else {
			_, _, err = h.api.PostMessageContext(ctx, m.Channel, opts...)
		}
		if err != nil {
			h.log.Warn("answer a mention", "channel", m.Channel, "err", err)
		}
	})
}

// refuseTeam refuses a request of another Slack workspace than the app's.
func (h *Handler) refuseTeam(w http.ResponseWriter, r *http.Request, team string) {
	why := fmt.Sprintf("the request comes from Slack workspace %q, not this Berth's (%s)", clip(team), h.o.TeamID)
	h.svc.RefuseChat(r.Context(), Provider, why)
	http.Error(w, why, http.StatusForbidden)
}

// identity asks Slack for the user's email, taken only when Slack says they confirmed it
// and they are a full member of this workspace: not a bot, guest, deleted user or a
// shared channel's stranger (an explicit link still makes them a Berth user).
func (h *Handler) identity(ctx context.Context, user string) service.ChatIdentity {
	id := service.ChatIdentity{Provider: Provider, User: user}
	u, err := h.api.GetUserInfoContext(ctx, user)
	if err != nil {
		h.log.Warn("look up a Slack user", "user", user, "err", err)
		return id
	}
	if u.IsEmailConfirmed && u.TeamID == h.o.TeamID && !u.IsBot && !u.Deleted && !u.IsStranger && !u.IsRestricted && !u.IsUltraRestricted {
		id.Email = u.Profile.Email
	}
	return id
}

// UserByEmail returns the id of the workspace's member whose email is email
// (users.lookupByEmail): to ping a commit's author. Bots, guests, deleted users and
// strangers are not returned.
func (h *Handler) UserByEmail(ctx context.Context, email string) (string, error) {
	u, err := h.api.GetUserByEmailContext(ctx, email)
	if err != nil {
		return "", err
	}
	if u.IsBot || u.Deleted || u.IsStranger || u.IsRestricted || u.IsUltraRestricted || (h.o.TeamID != "" && u.TeamID != h.o.TeamID) {
		return "", fmt.Errorf("slack user %s is no full member of the workspace", u.ID)
	}
	return u.ID, nil
}

// Mention is how a message pings Slack user id.
func Mention(id string) string { return "<@" + id + ">" }

// async works on fn after the request was answered, at most Workers at once, within a
// minute.
func (h *Handler) async(fn func(ctx context.Context)) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
		defer cancel()
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-h.sem }()
		defer func() {
			if v := recover(); v != nil {
				h.log.Error("chat command panicked", "panic", fmt.Sprint(v))
			}
		}()
		fn(ctx)
	}()
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

func clip(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// Post posts m in channel (chat.postMessage) and returns its ts: the chat.Poster the
// deploy announcer uses.
func (h *Handler) Post(ctx context.Context, channel string, m chat.Message) (string, error) {
	_, ts, err := h.api.PostMessageContext(ctx, channel, msgOptions(m)...)
	return ts, err
}

// Update replaces message ts in channel with m (chat.update).
func (h *Handler) Update(ctx context.Context, channel, ts string, m chat.Message) error {
	_, _, _, err := h.api.UpdateMessageContext(ctx, channel, ts, msgOptions(m)...)
	return err
}

// msgOptions is m as Slack's blocks: its text, then its buttons (none: the blocks go, so
// an update takes the buttons away).
func msgOptions(m chat.Message) []slack.MsgOption {
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, m.Text, false, false), nil, nil)}
	if len(m.Buttons) > 0 {
		var els []slack.BlockElement
		for _, b := range m.Buttons {
			btn := slack.NewButtonBlockElement(b.Action, b.Value, slack.NewTextBlockObject(slack.PlainTextType, b.Label, false, false))
			btn.Style = slack.Style(b.Style)
			els = append(els, btn)
		}
		blocks = append(blocks, slack.NewActionBlock("berth_actions", els...))
	}
	return []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(blocks...)}
}

// actions takes a press of a button under one of the bot's messages (Slack's
// block_actions): verified, acknowledged, then acted on as the user who pressed it, the
// answer sent to them alone through the payload's response_url.
func (h *Handler) actions(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "the body is no form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil || cb.Type != slack.InteractionTypeBlockActions ||
		len(cb.ActionCallback.BlockActions) != 1 || cb.User.ID == "" {
		http.Error(w, "the payload is no press of one button", http.StatusBadRequest)
		return
	}
	if cb.Team.ID != h.o.TeamID {
		h.refuseTeam(w, r, cb.Team.ID)
		return
	}
	act := cb.ActionCallback.BlockActions[0]
	respond := cb.ResponseURL
	if !strings.HasPrefix(respond, h.o.ResponseURLPrefix) {
		respond = ""
	}
	w.WriteHeader(http.StatusOK)
	h.async(func(ctx context.Context) {
		reply := h.bot.Act(ctx, h.identity(ctx, cb.User.ID), act.ActionID, act.Value)
		if respond == "" {
			return
		}
		// Privately, and without replacing the message: the announcer edits that.
		msg := &slack.WebhookMessage{Text: reply.Text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false}
		if err := slack.PostWebhookCustomHTTPContext(ctx, respond, h.client, msg); err != nil {
			h.log.Warn("answer a button", "user", cb.User.ID, "err", err)
		}
	})
}
