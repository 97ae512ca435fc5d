package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/sse"
)

type loginData struct {
	Next, Message, Error string
}

func (loginData) PageTitle() string { return "Sign in" }

// loginMessages are what the login page shows for ?msg=: a link names one of them, it
// cannot make the page say anything else. Unknown names show nothing.
var loginMessages = map[string]string{
	msgSignedOut:      "Signed out.",
	msgSessionEnded:   "Your session ended. Sign in again.",
	msgSessionExpired: "Your session expired. Sign in again.",
	msgTokenRevoked:   "Your session ended: its API token was revoked. Sign in with another.",
	msgTokenExpired:   "Your session ended: its API token expired. Sign in with another.",
}

// The names of the login page's messages.
const (
	msgSignedOut      = "signed-out"
	msgSessionEnded   = "session-ended"
	msgSessionExpired = "session-expired"
	msgTokenRevoked   = "token-revoked"
	msgTokenExpired   = "token-expired"
)

// endedMessage names the login message that says why a session was refused.
func endedMessage(err error) string {
	switch {
	case errors.Is(err, berth.ErrSessionExpired):
		return msgSessionExpired
	case errors.Is(err, berth.ErrTokenRevoked):
		return msgTokenRevoked
	case errors.Is(err, berth.ErrTokenExpired):
		return msgTokenExpired
	}
	return msgSessionEnded
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.render(w, r, http.StatusOK, "login", nil, loginData{Next: localPath(q.Get("next")), Message: loginMessages[q.Get("msg")]})
}

// login checks the token like any API call would and starts a session with it; the
// session cookie holds the session's secret, never the token.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := checkSource(r); err != nil {
		h.log.WarnContext(r.Context(), "dashboard form refused", "path", r.URL.Path, "err", err)
		h.render(w, r, http.StatusForbidden, "login", nil, loginData{Error: err.Error() + " " + sourceHint})
		return
	}
	if err := checkLoginCSRF(r); err != nil {
		h.render(w, r, http.StatusForbidden, "login", nil, loginData{Error: err.Error() + " Reload the page and try again."})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := localPath(r.PostFormValue("next"))
	if token == "" {
		h.render(w, r, http.StatusBadRequest, "login", nil, loginData{Next: next, Error: "Paste an API token (berth_…)."})
		return
	}
	secret, sess, err := h.svc.SignIn(r.Context(), token)
	if errors.Is(err, berth.ErrUnauthenticated) {
		h.render(w, r, http.StatusUnauthorized, "login", nil, loginData{Next: next, Error: "That token was not accepted: " + errMessage(err) + "."})
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setSession(w, r, secret, sess.ExpiresAt)
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// localPath keeps only absolute paths on this site, so ?next= cannot send a user
// elsewhere; it returns "" for anything else. Browsers drop tabs and newlines from URLs
// and read a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would
// become "//evil.example", another site: control characters and backslashes are refused
// anywhere in the path, not only where they are dangerous today.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	for _, r := range p {
		if r == '\\' || unicode.IsControl(r) || r == utf8.RuneError {
			return ""
		}
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return ""
	}
	return p
}

// logout ends the session on the server, so that its cookie, wherever a copy of it went,
// signs nobody in any more.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ *authz.Principal) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return fmt.Errorf("sign out: %w", err) // form() found the cookie: cannot happen
	}
	if err := h.svc.SignOut(r.Context(), c.Value); err != nil {
		return err
	}
	h.clearSession(w, r)
	http.Redirect(w, r, "/login?msg="+msgSignedOut, http.StatusSeeOther)
	return nil
}

// overviewData is the front page: apps grouped by team.
type overviewData struct {
	Teams []teamApps
	Envs  []string
}

type teamApps struct {
	Team string
	Role string
	Apps []service.AppSummary
}

func (overviewData) PageTitle() string { return "Apps" }

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	apps, err := h.svc.Overview(r.Context(), p, "")
	if err != nil {
		return err
	}
	teams, err := h.svc.ListTeams(r.Context(), p)
	if err != nil {
		return err
	}
	var d overviewData
	byTeam := map[string]int{}
	for _, t := range teams {
		role := p.RoleIn(t.Name).String()
		if p.GlobalAdmin {
			role = "global admin"
		}
		byTeam[t.Name] = len(d.Teams)
		d.Teams = append(d.Teams, teamApps{Team: t.Name, Role: role})
	}
	for _, a := range apps {
		i, ok := byTeam[a.App.Team]
		if !ok {
			continue
		}
		d.Teams[i].Apps = append(d.Teams[i].Apps, a)
	}
	h.render(w, r, http.StatusOK, "overview", p, d)
	return nil
}

// appData is one app: its environments live, its history and its settings' names.
type appData struct {
	Team, App string
	Envs      []appEnv
	History   []historyRow
	// Events are the newest Kubernetes events kept about the app's objects, newest first.
	Events []berth.ClusterEvent
	// Signals are its golden signals in one environment it runs in (?env=, else the first);
	// nil when it runs nowhere.
	Signals *signalsView
}

type appEnv struct {
	service.EnvStatus
	Settings []berth.Setting
	// MayDeploy is nil when the user may roll back here; otherwise why not.
	MayDeploy error
}

type historyRow struct {
	berth.Deploy
	// Rollback offers rolling the environment back to this deploy's revision.
	Rollback bool
}

func (d appData) PageTitle() string { return d.Team + "/" + d.App }

func (h *Handler) app(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ctx := r.Context()
	team, app := r.PathValue("team"), r.PathValue("app")
	statuses, err := h.svc.Status(ctx, p, team, app, "")
	if err != nil {
		return err
	}
	history, err := h.svc.History(ctx, p, team, app, "", 50)
	if err != nil {
		return err
	}
	d := appData{Team: team, App: app}
	if d.Events, err = h.appEvents(ctx, p, team, app); err != nil {
		return err
	}
	current := map[string]int64{} // env -> current revision
	may := map[string]bool{}
	for _, st := range statuses {
		e := appEnv{EnvStatus: st, MayDeploy: h.svc.MayDeploy(ctx, p, team, st.Env)}
		if e.Settings, err = h.svc.ResolveSettings(ctx, p, team, app, st.Env); err != nil {
			return err
		}
		if st.Current != nil {
			current[st.Env] = st.Current.Revision
		}
		may[st.Env] = e.MayDeploy == nil
		d.Envs = append(d.Envs, e)
	}
	var running []string
	for _, st := range statuses {
		if st.Current != nil {
			running = append(running, st.Env)
		}
	}
	d.Signals = h.appSignals(ctx, p, team, app, running, r.URL.Query().Get("env"), r.URL.Query().Get("since"))
	offered := map[string]bool{} // one rollback button per env and revision: the newest deploy of it
	for _, dep := range history {
		row := historyRow{Deploy: dep}
		key := fmt.Sprintf("%s/%d", dep.Env, dep.Revision)
		if dep.State == berth.DeploySucceeded && may[dep.Env] && dep.Revision != current[dep.Env] && !offered[key] {
			row.Rollback, offered[key] = true, true
		}
		d.History = append(d.History, row)
	}
	h.render(w, r, http.StatusOK, "app", p, d)
	return nil
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	rev, err := strconv.ParseInt(r.PostFormValue("revision"), 10, 64)
	if err != nil || rev < 1 {
		return &berth.InvalidError{Field: "revision", Reason: "the form must name a revision (a positive number)"}
	}
	d, err := h.svc.Rollback(r.Context(), p, r.PathValue("team"), r.PathValue("app"), r.PathValue("env"), rev)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/deploys/%d", d.ID), http.StatusSeeOther)
	return nil
}

// decide approves or rejects a deploy awaiting approval, from its page's form.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	decision := r.PostFormValue("decision")
	if _, err := h.svc.Decide(r.Context(), p, id, decision, r.PostFormValue("reason")); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/deploys/%d", id), http.StatusSeeOther)
	return nil
}

// deployData is one deploy: its progress and the objects it applied, with their diff
// against what ran before it (the previous successful deploy of the app in the
// environment).
type deployData struct {
	Deploy   berth.Deploy
	Events   []berth.DeployEvent
	Last     *berth.DeployEvent
	Objects  []object
	Previous *berth.Deploy
	// Diff is how the objects differ from Previous's; Unchanged counts the
	// objects that do not.
	Diff      []objectDiff
	Unchanged int
	// ClusterEvents are the Kubernetes events about the app's objects while it ran.
	ClusterEvents []berth.ClusterEvent
	// Approval is what a deploy to a protected environment awaits (or had); MayDecide
	// whether the viewer may approve or reject it now.
	Approval  *berth.Approval
	MayDecide bool
}

func (d deployData) PageTitle() string {
	return fmt.Sprintf("Deploy %d · %s/%s", d.Deploy.ID, d.Deploy.Team, d.Deploy.App)
}

func (h *Handler) deploy(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	dep, evs, err := h.svc.DeployEvents(ctx, p, id, 0)
	if err != nil {
		return err
	}
	d := deployData{Deploy: dep, Events: evs}
	if len(evs) > 0 {
		d.Last = &evs[len(evs)-1]
	}
	if _, d.ClusterEvents, err = h.svc.DeployClusterEvents(ctx, p, id); err != nil {
		return err
	}
	switch a, err := h.svc.Approval(ctx, p, dep); {
	case errors.Is(err, berth.ErrNotFound): // it awaited none
	case err != nil:
		return err
	default:
		d.Approval = &a
		d.MayDecide = dep.State == berth.DeployAwaiting && h.svc.MayDecide(ctx, p, dep) == nil
	}
	if dep.ObjectsDigest != "" {
		objs, err := h.svc.DeployObjects(ctx, p, id)
		if err != nil {
			return err
		}
		if d.Objects, err = objectsYAML(objs); err != nil {
			return err
		}
		var prev []object
		switch before, err := h.svc.PreviousDeploy(ctx, p, dep); {
		case errors.Is(err, berth.ErrNotFound): // the first deploy here: everything is added
		case err != nil:
			return err
		default:
			d.Previous = &before
			pobjs, err := h.svc.DeployObjects(ctx, p, before.ID)
			if err != nil {
				return err
			}
			if prev, err = objectsYAML(pobjs); err != nil {
				return err
			}
		}
		d.Diff, d.Unchanged = diffObjects(prev, d.Objects)
	}
	h.render(w, r, http.StatusOK, "deploy", p, d)
	return nil
}

// deployEvents streams a deploy's progress to the deploy page (server-sent events), like
// the API's stream but for the session's user.
func (h *Handler) deployEvents(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if after == 0 {
		after, _ = strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	}
	if _, err := h.svc.GetDeploy(ctx, p, id); err != nil {
		return err
	}
	stream := sse.Start(w)
	d, err := h.svc.FollowDeploy(ctx, p, id, after, func(ev berth.DeployEvent) error {
		return stream.SendID(ev.ID, "progress", apiv1.FromDeployEvent(ev))
	})
	if err == nil {
		_ = stream.Send("deploy", apiv1.FromDeploy(d))
	}
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("deploy %q: %w", r.PathValue("id"), berth.ErrNotFound)
	}
	return id, nil
}

// object is one stored object as YAML, named kind/name.
type object struct{ Key, YAML string }

// objectsYAML turns a deploy's stored objects (a JSON array) into YAML, one per object,
// sorted by kind and name.
func objectsYAML(objs []byte) ([]object, error) {
	list, err := manifest.DecodeStored(objs)
	if err != nil {
		return nil, err
	}
	out := make([]object, 0, len(list))
	for _, o := range list {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("stored object %s/%s: %w", o.GetKind(), o.GetName(), err)
		}
		out = append(out, object{o.GetKind() + "/" + o.GetName(), string(y)})
	}
	slices.SortStableFunc(out, func(a, b object) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// objectDiff is how one object changed between two deploys.
type objectDiff struct {
	Key    string
	Change string // "added", "removed" or "changed"
	Lines  []diffLine
}

// diffObjects compares two deploys' objects by kind and name; unchanged objects are left
// out, and counted.
func diffObjects(prev, cur []object) (diffs []objectDiff, unchanged int) {
	old := map[string]string{}
	for _, o := range prev {
		old[o.Key] = o.YAML
	}
	seen := map[string]bool{}
	for _, o := range cur {
		seen[o.Key] = true
		before, ok := old[o.Key]
		switch {
		case !ok:
			diffs = append(diffs, objectDiff{Key: o.Key, Change: "added", Lines: lineDiff("", o.YAML, 3)})
		case before == o.YAML:
			unchanged++
		default:
			diffs = append(diffs, objectDiff{Key: o.Key, Change: "changed", Lines: lineDiff(before, o.YAML, 3)})
		}
	}
	for _, o := range prev {
		if !seen[o.Key] {
			diffs = append(diffs, objectDiff{Key: o.Key, Change: "removed", Lines: lineDiff(o.YAML, "", 3)})
		}
	}
	return diffs, unchanged
}

// auditData is the audit log with its filters.
type auditData struct {
	Filter struct {
		Team, App, Actor, Since string
	}
	Teams  []string
	Events []auditRow
	// Older links the next page, when there may be one.
	Older string
}

type auditRow struct {
	berth.AuditEvent
	DetailsText string
}

func (auditData) PageTitle() string { return "Audit log" }

var sinceChoices = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	var d auditData
	d.Filter.Team, d.Filter.App, d.Filter.Actor, d.Filter.Since = q.Get("team"), q.Get("app"), q.Get("actor"), q.Get("since")
	teams, err := h.svc.ListTeams(r.Context(), p)
	if err != nil {
		return err
	}
	for _, t := range teams {
		d.Teams = append(d.Teams, t.Name)
	}
	// Only global admins read every team's log at once; others start with their first team.
	if d.Filter.Team == "" && !p.GlobalAdmin && len(d.Teams) > 0 {
		d.Filter.Team = d.Teams[0]
	}
	f := berth.AuditFilter{Team: d.Filter.Team, App: d.Filter.App, Actor: d.Filter.Actor, Limit: 100}
	if d.Filter.Since != "" {
		dur, ok := sinceChoices[d.Filter.Since]
		if !ok {
			return &berth.InvalidError{Field: "since", Reason: "choose 1h, 24h, 7d or 30d"}
		}
		f.Since = h.now().Add(-dur)
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			return &berth.InvalidError{Field: "before", Reason: "must be an event id"}
		}
	}
	evs, err := h.svc.ListAudit(r.Context(), p, f)
	if err != nil {
		var denied *authz.Denied
		if errors.As(err, &denied) && d.Filter.Team == "" {
			return &berth.InvalidError{Field: "team", Reason: "you belong to no team, so there is no audit log you may read"}
		}
		return err
	}
	for _, ev := range evs {
		row := auditRow{AuditEvent: ev}
		row.DetailsText = detailsText(ev.Details)
		d.Events = append(d.Events, row)
	}
	if len(evs) == f.Limit {
		older := url.Values{}
		for k, v := range map[string]string{"team": d.Filter.Team, "app": d.Filter.App, "actor": d.Filter.Actor, "since": d.Filter.Since} {
			if v != "" {
				older.Set(k, v)
			}
		}
		older.Set("before", strconv.FormatInt(evs[len(evs)-1].ID, 10))
		d.Older = "/audit?" + older.Encode()
	}
	h.render(w, r, http.StatusOK, "audit", p, d)
	return nil
}

// detailsText shows an audit event's details as key=value pairs, keys sorted.
func detailsText(details map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(details)) {
		v := details[k]
		var text string
		switch v := v.(type) {
		case string:
			text = v
		default:
			b, _ := json.Marshal(v)
			text = string(b)
		}
		if text == "" || text == "[]" || text == "null" {
			continue
		}
		parts = append(parts, k+"="+text)
	}
	return strings.Join(parts, " · ")
}
