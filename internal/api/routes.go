package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// apiRoutes is the whole REST API: every route, its documentation and its handler.
func (s *Server) apiRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "GET", path: v1 + "/whoami", id: "whoami", summary: "The caller: user, global admin flag and team roles",
			auth: true, response: apiv1.Whoami{}, handle: s.whoami},

		{method: "GET", path: v1 + "/teams", id: "listTeams", summary: "Teams the caller belongs to (all, for global admins)",
			auth: true, response: apiv1.List[apiv1.Team]{}, handle: s.listTeams},
		{method: "POST", path: v1 + "/teams", id: "createTeam", summary: "Create a team (global admins)",
			auth: true, global: authz.TeamCreate, body: apiv1.CreateTeam{}, response: apiv1.Team{}, status: 201, handle: s.createTeam},
		{method: "GET", path: v1 + "/teams/{team}", id: "getTeam", summary: "One team",
			auth: true, response: apiv1.Team{}, handle: s.getTeam},
		{method: "DELETE", path: v1 + "/teams/{team}", id: "deleteTeam", summary: "Delete a team without apps (global admins)",
			auth: true, global: authz.TeamDelete, status: 204, handle: s.deleteTeam},
		{method: "GET", path: v1 + "/teams/{team}/members", id: "listMembers", summary: "A team's members and roles",
			auth: true, response: apiv1.List[apiv1.Member]{}, handle: s.listMembers},
		{method: "PUT", path: v1 + "/teams/{team}/members/{user}", id: "setMember", summary: "Give a user a role in a team (team admins)",
			auth: true, body: apiv1.SetMember{}, response: apiv1.Member{}, handle: s.setMember},
		{method: "DELETE", path: v1 + "/teams/{team}/members/{user}", id: "removeMember", summary: "Take a user out of a team (team admins)",
			auth: true, status: 204, handle: s.removeMember},
		{method: "PUT", path: v1 + "/teams/{team}/chat-channel", id: "setTeamChatChannel",
			summary: "Set the chat channel (a Slack channel id; empty for none) where the bot announces the team's deploys (team admins)",
			auth:    true, body: apiv1.SetTeamChatChannel{}, response: apiv1.Team{}, handle: s.setTeamChatChannel},

		{method: "GET", path: v1 + "/users", id: "listUsers", summary: "Every user (global admins)",
			auth: true, global: authz.UserList, response: apiv1.List[apiv1.User]{}, handle: s.listUsers},
		{method: "POST", path: v1 + "/users", id: "createUser", summary: "Create a user (global admins)",
			auth: true, global: authz.UserCreate, body: apiv1.CreateUser{}, response: apiv1.User{}, status: 201, handle: s.createUser},
		{method: "DELETE", path: v1 + "/users/{user}", id: "deleteUser", summary: "Delete a user with their tokens and memberships (global admins)",
			auth: true, global: authz.UserDelete, status: 204, handle: s.deleteUser},
		{method: "PUT", path: v1 + "/users/{user}/chat-links/{provider}", id: "linkChat",
			summary: "Link a chat user (provider slack) to the user: their chat commands act as the user, with the user's permissions (global admins)",
			auth:    true, global: authz.UserCreate, body: apiv1.LinkChat{}, status: 204, handle: s.linkChat},
		{method: "DELETE", path: v1 + "/chat-links/{provider}/{chatUser}", id: "unlinkChat",
			summary: "Remove a chat user's link (global admins): they then act as the user of their confirmed email, if any",
			auth:    true, global: authz.UserCreate, status: 204, handle: s.unlinkChat},

		{method: "GET", path: v1 + "/tokens", id: "listTokens", summary: "The caller's tokens (?user= another's, for global admins)",
			auth: true, query: []string{"user"}, response: apiv1.List[apiv1.Token]{}, handle: s.listTokens},
		{method: "POST", path: v1 + "/tokens", id: "createToken", summary: "Create a token; its secret is in this response only",
			auth: true, body: apiv1.CreateToken{}, response: apiv1.CreatedToken{}, status: 201, handle: s.createToken},
		{method: "DELETE", path: v1 + "/tokens/{id}", id: "revokeToken", summary: "Revoke a token",
			auth: true, response: apiv1.Token{}, handle: s.revokeToken},

		{method: "GET", path: v1 + "/apps", id: "listAllApps", summary: "Apps of every team the caller can see (?name= only those called name)",
			auth: true, query: []string{"name"}, response: apiv1.List[apiv1.App]{}, handle: s.listApps},
		{method: "GET", path: v1 + "/teams/{team}/apps", id: "listApps", summary: "A team's apps (?name= only the one called name)",
			auth: true, query: []string{"name"}, response: apiv1.List[apiv1.App]{}, handle: s.listApps},
		{method: "POST", path: v1 + "/teams/{team}/apps", id: "createApp", summary: "Register an app, optionally with its first manifest (deployers)",
			auth: true, body: apiv1.CreateApp{}, response: apiv1.App{}, status: 201, handle: s.createApp},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}", id: "getApp", summary: "One app",
			auth: true, response: apiv1.App{}, handle: s.getApp},
		{method: "DELETE", path: v1 + "/teams/{team}/apps/{app}", id: "deleteApp", summary: "Remove an app from Berth and what it runs (team admins; ?keepWorkloads=true leaves them)",
			auth: true, status: 204, query: []string{"keepWorkloads"}, handle: s.deleteApp},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/revisions", id: "listRevisions", summary: "An app's manifest revisions",
			auth: true, response: apiv1.List[apiv1.Revision]{}, handle: s.listRevisions},
		{method: "POST", path: v1 + "/teams/{team}/apps/{app}/revisions", id: "createRevision", summary: "Store a new manifest revision (deployers)",
			auth: true, body: apiv1.CreateRevision{}, response: apiv1.Revision{}, status: 201, handle: s.createRevision},

		{method: "PUT", path: v1 + "/teams/{team}/apps/{app}/repo", id: "connectRepo",
			summary: "Connect the app to its repository: forge, URL, manifest path, branch and a forge token (team admins); the answer holds the webhook secret, once",
			auth:    true, body: apiv1.ConnectRepo{}, response: apiv1.Connection{}, handle: s.connectRepo},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/repo", id: "getAppRepo", summary: "The app's repository connection, without its secrets",
			auth: true, response: apiv1.AppRepo{}, handle: s.getAppRepo},
		{method: "DELETE", path: v1 + "/teams/{team}/apps/{app}/repo", id: "disconnectRepo", summary: "Disconnect the app from its repository: its webhooks are refused (team admins)",
			auth: true, status: 204, handle: s.disconnectRepo},

		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/git-jobs", id: "listGitJobs",
			summary: "What the app's webhook deliveries asked and what became of each, newest first (?limit=)",
			auth:    true, query: []string{"limit"}, response: apiv1.List[apiv1.GitJob]{}, handle: s.listGitJobs},
		{method: "POST", path: "/hooks/{forge}", id: "receiveHook",
			summary:  "A forge's webhook delivery (gitea or github): signed with the connection's secret instead of a token; the work is queued (202)",
			response: apiv1.HookReceipt{}, status: 202, handle: s.receiveHook},

		{method: "GET", path: v1 + "/envs", id: "listEnvironments", summary: "Every environment",
			auth: true, response: apiv1.List[apiv1.Environment]{}, handle: s.listEnvs},
		{method: "POST", path: v1 + "/envs", id: "createEnvironment", summary: "Define an environment (global admins)",
			auth: true, global: authz.EnvManage, body: apiv1.CreateEnvironment{}, response: apiv1.Environment{}, status: 201, handle: s.createEnv},
		{method: "GET", path: v1 + "/envs/{env}", id: "getEnvironment", summary: "One environment",
			auth: true, response: apiv1.Environment{}, handle: s.getEnv},
		{method: "PATCH", path: v1 + "/envs/{env}", id: "updateEnvironment", summary: "Change an environment's scheduling defaults, base domain or storage class (global admins)",
			auth: true, global: authz.EnvManage, body: apiv1.UpdateEnvironment{}, response: apiv1.Environment{}, handle: s.updateEnv},
		{method: "PUT", path: v1 + "/envs/{env}/postgres", id: "setEnvironmentPostgres",
			summary: "Check a PostgreSQL server by connecting, and register it for the environment's postgres resources (global admins; the DSN only in the body)",
			auth:    true, global: authz.EnvManage, body: apiv1.SetEnvironmentPostgres{}, response: apiv1.Environment{}, handle: s.setEnvPostgres},
		{method: "DELETE", path: v1 + "/envs/{env}/postgres", id: "clearEnvironmentPostgres",
			summary: "Unregister the environment's PostgreSQL server; its databases stay (global admins)",
			auth:    true, global: authz.EnvManage, response: apiv1.Environment{}, handle: s.clearEnvPostgres},
		{method: "GET", path: v1 + "/freezes", id: "listFreezeWindows",
			summary: "Freeze windows not over yet, by start (?env= only that environment's): no deploy goes there then but an emergency",
			auth:    true, query: []string{"env"}, response: apiv1.List[apiv1.FreezeWindow]{}, handle: s.listFreezes},
		{method: "POST", path: v1 + "/envs/{env}/freezes", id: "freezeEnvironment",
			summary: "Freeze an environment from start (default: now) to end, saying why: only emergency deploys, which say why (audited), and automatic rollbacks go there then (global admins)",
			auth:    true, global: authz.EnvManage, body: apiv1.FreezeEnvironment{}, response: apiv1.FreezeWindow{}, status: 201, handle: s.freezeEnv},
		{method: "DELETE", path: v1 + "/freezes/{id}", id: "unfreezeEnvironment", summary: "End a freeze window at once (global admins)",
			auth: true, global: authz.EnvManage, response: apiv1.FreezeWindow{}, handle: s.unfreezeEnv},
		{method: "DELETE", path: v1 + "/envs/{env}", id: "deleteEnvironment", summary: "Remove an environment from Berth (global admins)",
			auth: true, global: authz.EnvManage, status: 204, handle: s.deleteEnv},

		{method: "GET", path: v1 + "/probes", id: "listProbeStatuses",
			summary: "Each probed environment's synthetic probe at a glance, by environment: its latest finished run with its steps, " +
				"the run in flight, when a run last passed, and whether its failure was announced",
			auth: true, response: apiv1.List[apiv1.ProbeStatus]{}, handle: s.listProbeStatuses},
		{method: "GET", path: v1 + "/probes/runs", id: "listProbeRuns",
			summary: "Probe runs with their steps, newest first (?env= one environment's; limit= 1 to 200, default 50)",
			auth:    true, query: []string{"env", "limit"}, response: apiv1.List[apiv1.ProbeRun]{}, handle: s.listProbeRuns},
		{method: "GET", path: v1 + "/probes/runs/{run}", id: "getProbeRun",
			summary: "One probe run: its state, its steps with when each started, how long it took (milliseconds with a fraction), " +
				"whether it passed or was slow, and what it checked or why it failed",
			auth: true, response: apiv1.ProbeRun{}, handle: s.getProbeRun},
		{method: "POST", path: v1 + "/envs/{env}/probes/runs", id: "runProbe",
			summary: "Run the environment's probe now: a probe pod on its cluster checks DNS, HTTP to a Service, its credentials, a database, " +
				"an object store and a queue. Queued (201); while a run is queued or running there, that run is answered instead (200). " +
				"Follow it with GET /probes/runs/{run}",
			auth: true, response: apiv1.ProbeRun{}, status: 201, handle: s.runProbe},
		{method: "GET", path: v1 + "/envs/{env}/probe", id: "getProbeSettings",
			summary: "How the environment is probed: its object store and queue, how often, the steps' thresholds; whether each secret is set, never its value",
			auth:    true, response: apiv1.ProbeSettings{}, handle: s.getProbeSettings},
		{method: "PUT", path: v1 + "/envs/{env}/probe", id: "setProbeSettings",
			summary: "Replace how the environment is probed: an S3-compatible store (host:port, bucket, access key, secret key), a nats:// queue " +
				"(and its token), the interval (0: on demand only; at least 1m) and thresholds per step; the secrets only in the body, " +
				"sealed and never answered (global admins)",
			auth: true, global: authz.EnvManage, body: apiv1.SetProbeSettings{}, response: apiv1.ProbeSettings{}, handle: s.setProbeSettings},
		{method: "POST", path: v1 + "/probes/runs/{run}/report", id: "reportProbe",
			summary: "A probe run's agent reports its steps (at most 64 KiB): authenticated by the run's own token (Authorization: Bearer), " +
				"not a user's, good for one report while the run is running; any refusal is one 401",
			body: apiv1.ProbeReport{}, status: 204, handle: s.reportProbe},

		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/envs/{env}/logs", id: "streamLogs",
			summary: "An app's logs in an environment, every pod's, with the Kubernetes events of its objects in time order, as newline-delimited JSON " +
				"(?follow=true goes on with new lines and pods until the client goes away; since=10m or an RFC 3339 time; tail=N lines per container; pod=, container=, previous=true)",
			auth: true, ndjson: true, query: []string{"follow", "since", "tail", "pod", "container", "previous"}, response: apiv1.LogRecord{}, handle: s.streamLogs},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/envs/{env}/metrics", id: "getSignals", summary: "An app's golden signals in an environment from the server's Prometheus: latency p50 and p99, traffic, errors, CPU and memory over ?since= (1m to 7d, default 1h)", auth: true, query: []string{"since"}, response: apiv1.Signals{}, handle: s.getSignals},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/events", id: "listClusterEvents",
			summary: "The Kubernetes events Berth kept about an app's objects, oldest first (?env=, since=1h or an RFC 3339 time, type=Normal|Warning, limit=)",
			auth:    true, query: []string{"env", "since", "type", "limit"}, response: apiv1.List[apiv1.ClusterEvent]{}, handle: s.listClusterEvents},
		{method: "GET", path: v1 + "/deploys/{id}/cluster-events", id: "listDeployClusterEvents",
			summary: "The Kubernetes events about the app's objects that happened while the deploy ran",
			auth:    true, response: apiv1.DeployClusterEvents{}, handle: s.deployClusterEvents},

		{method: "GET", path: v1 + "/audit", id: "listAudit", summary: "Audit events, newest first (team viewers: their team; global admins: all)",
			auth: true, query: []string{"team", "app", "actor", "since", "before", "limit"}, response: apiv1.List[apiv1.AuditEvent]{}, handle: s.listAudit},
		{method: "GET", path: v1 + "/audit/verify", id: "verifyAudit", summary: "Check the audit log's hash chain (global admins)",
			auth: true, global: authz.AuditVerify, response: apiv1.AuditVerification{}, handle: s.verifyAudit},
	}
}

func ok(w http.ResponseWriter, status int, v any) error {
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return nil
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, p *authz.Principal) error {
	teams := map[string]string{}
	for t, r := range p.Roles {
		teams[t] = r.String()
	}
	return ok(w, http.StatusOK, apiv1.Whoami{User: p.Name, GlobalAdmin: p.GlobalAdmin, Teams: teams})
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	teams, err := s.svc.ListTeams(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(teams, apiv1.FromTeam))
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateTeam
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := s.svc.CreateTeam(r.Context(), p, in.Name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromTeam(t))
}

func (s *Server) getTeam(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	t, err := s.svc.GetTeam(r.Context(), p, r.PathValue("team"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromTeam(t))
}

func (s *Server) deleteTeam(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteTeam(r.Context(), p, r.PathValue("team")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ms, err := s.svc.ListMembers(r.Context(), p, r.PathValue("team"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ms, apiv1.FromMembership))
}

func (s *Server) setMember(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetMember
	if err := decode(w, r, &in); err != nil {
		return err
	}
	m, err := s.svc.SetMember(r.Context(), p, r.PathValue("team"), r.PathValue("user"), in.Role)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromMembership(m))
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.RemoveMember(r.Context(), p, r.PathValue("team"), r.PathValue("user")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) setTeamChatChannel(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetTeamChatChannel
	if err := decode(w, r, &in); err != nil {
		return err
	}
	team := r.PathValue("team")
	if err := s.svc.SetTeamChatChannel(r.Context(), p, team, in.Channel); err != nil {
		return err
	}
	t, err := s.svc.GetTeam(r.Context(), p, team)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromTeam(t))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	us, err := s.svc.ListUsers(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(us, apiv1.FromUser))
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateUser
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(r.Context(), p, berth.User{Name: in.Name, Email: in.Email, IsAdmin: in.GlobalAdmin})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromUser(u))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteUser(r.Context(), p, r.PathValue("user")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

// chatProviders are the chat services whose users can be linked to Berth users.
var chatProviders = []string{"slack"}

func (s *Server) linkChat(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	provider := r.PathValue("provider")
	if !slices.Contains(chatProviders, provider) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "provider",
			Message: fmt.Sprintf("unknown chat provider %q: the known ones are %s", provider, strings.Join(chatProviders, ", "))}
	}
	var in apiv1.LinkChat
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ChatUser == "" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "chatUser",
			Message: "chatUser is required: the user's id in the chat service, such as U024BE7LH in Slack"}
	}
	err := s.svc.LinkChat(r.Context(), p, r.PathValue("user"), provider, in.ChatUser)
	var invalid *berth.InvalidError
	if errors.As(err, &invalid) && invalid.Field == "chat_user" { // the store names the column, the client sent chatUser
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "chatUser", Message: "chatUser " + invalid.Reason}
	}
	if err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) unlinkChat(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.UnlinkChat(r.Context(), p, r.PathValue("provider"), r.PathValue("chatUser")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ts, err := s.svc.ListTokens(r.Context(), p, r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ts, func(t berth.Token) apiv1.Token { return apiv1.FromToken(t, s.svc.Now()) }))
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateToken
	if err := decode(w, r, &in); err != nil {
		return err
	}
	var ttl time.Duration
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "expiresIn", Message: "expiresIn must be a duration such as 720h: " + err.Error()}
		}
		ttl = d
	}
	t, secret, err := s.svc.CreateToken(r.Context(), p, in.User, in.Name, ttl)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return ok(w, http.StatusCreated, apiv1.CreatedToken{Token: apiv1.FromToken(t, s.svc.Now()), Secret: secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "id", Message: "token id must be a number"}
	}
	t, err := s.svc.RevokeToken(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromToken(t, s.svc.Now()))
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	apps, err := s.svc.ListAppsNamed(r.Context(), p, r.PathValue("team"), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(apps, apiv1.FromApp))
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateApp
	if err := decode(w, r, &in); err != nil {
		return err
	}
	a, err := s.svc.CreateApp(r.Context(), p, r.PathValue("team"), in.Name, in.Manifest)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromApp(a))
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	a, err := s.svc.GetApp(r.Context(), p, r.PathValue("team"), r.PathValue("app"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromApp(a))
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	keep, err := boolQuery(r, "keepWorkloads")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteApp(r.Context(), p, r.PathValue("team"), r.PathValue("app"), keep); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) listRevisions(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	rs, err := s.svc.ListRevisions(r.Context(), p, r.PathValue("team"), r.PathValue("app"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(rs, apiv1.FromRevision))
}

func (s *Server) createRevision(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateRevision
	if err := decode(w, r, &in); err != nil {
		return err
	}
	rev, err := s.svc.AddRevision(r.Context(), p, r.PathValue("team"), r.PathValue("app"), in.Manifest)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromRevision(rev))
}

func (s *Server) listEnvs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	es, err := s.svc.ListEnvironments(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(es, apiv1.FromEnvironment))
}

func (s *Server) createEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateEnvironment
	if err := decode(w, r, &in); err != nil {
		return err
	}
	e, err := s.svc.CreateEnvironment(r.Context(), p, berth.Environment{
		Name: in.Name, Kubeconfig: in.Kubeconfig, Context: in.Context, InCluster: in.InCluster,
		NamespaceTemplate: in.NamespaceTemplate, Protected: in.Protected, AllowedDeployers: in.AllowedDeployers,
		Scheduling: berth.Scheduling{NodeSelector: in.NodeSelector, Tolerations: apiv1.ToTolerations(in.Tolerations)},
		PreviewOf:  in.PreviewOf,
	})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromEnvironment(e))
}

func (s *Server) getEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.svc.GetEnvironment(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromEnvironment(e))
}

func (s *Server) updateEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.UpdateEnvironment
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ch := service.EnvironmentChange{NodeSelector: in.NodeSelector, BaseDomain: in.BaseDomain, StorageClass: in.StorageClass}
	if in.Tolerations != nil {
		ts := apiv1.ToTolerations(*in.Tolerations)
		ch.Tolerations = &ts
	}
	e, err := s.svc.UpdateEnvironment(r.Context(), p, r.PathValue("env"), ch)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromEnvironment(e))
}

func (s *Server) setEnvPostgres(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetEnvironmentPostgres
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.DSN == "" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "dsn",
			Message: "dsn is required (DELETE /api/v1/envs/{env}/postgres unregisters the server)"}
	}
	e, err := s.svc.SetEnvironmentPostgres(r.Context(), p, r.PathValue("env"), in.DSN)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromEnvironment(e))
}

func (s *Server) clearEnvPostgres(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.svc.SetEnvironmentPostgres(r.Context(), p, r.PathValue("env"), "")
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromEnvironment(e))
}

func (s *Server) deleteEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteEnvironment(r.Context(), p, r.PathValue("env")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) listFreezes(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ws, err := s.svc.FreezeWindows(r.Context(), p, r.URL.Query().Get("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ws, apiv1.FromFreezeWindow))
}

func (s *Server) freezeEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.FreezeEnvironment
	if err := decode(w, r, &in); err != nil {
		return err
	}
	start := s.svc.Now()
	if in.Start != nil {
		start = *in.Start
	}
	fw, err := s.svc.FreezeEnvironment(r.Context(), p, berth.FreezeWindow{Env: r.PathValue("env"), Start: start, End: in.End, Reason: in.Reason})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromFreezeWindow(fw))
}

func (s *Server) unfreezeEnv(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "id", Message: "freeze window id must be a positive number"}
	}
	fw, err := s.svc.UnfreezeEnvironment(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromFreezeWindow(fw))
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	f := berth.AuditFilter{Team: q.Get("team"), App: q.Get("app"), Actor: q.Get("actor")}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, time.Now())
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "since", Message: err.Error()}
		}
		f.Since = t
	}
	for name, dst := range map[string]*int64{"before": &f.BeforeID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: name, Message: name + " must be an event id"}
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > berth.MaxAuditLimit {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit", Message: "limit must be 1 to " + strconv.Itoa(berth.MaxAuditLimit)}
		}
		f.Limit = n
	}
	evs, err := s.svc.ListAudit(r.Context(), p, f)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(evs, apiv1.FromAuditEvent))
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	checked, problems, err := s.svc.VerifyAudit(r.Context(), p)
	if err != nil {
		return err
	}
	out := apiv1.AuditVerification{OK: len(problems) == 0, Events: checked, Problems: []apiv1.AuditProblem{}}
	for _, pr := range problems {
		out.Problems = append(out.Problems, apiv1.AuditProblem{ID: pr.ID, Problem: string(pr.Kind) + ": " + pr.Detail})
	}
	return ok(w, http.StatusOK, out)
}

// parseSince accepts an RFC 3339 time or a duration back from now ("24h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errSince
	}
	return t, nil
}

var errSince = &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "since", Message: "since must be a duration such as 24h or an RFC 3339 time"}

// boolQuery reads an optional true/false query parameter.
func boolQuery(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: name, Message: name + " must be true or false"}
}
