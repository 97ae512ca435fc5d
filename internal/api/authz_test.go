package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Who may call a route, beyond being signed in.
type need int

const (
	anyone need = iota
	viewer
	deployerRole
	adminRole
	global
)

// allowed reports whether a valid caller of kind c passes need on team alpha.
func allowed(c string, n need) bool {
	rank := map[string]need{otherViewer: anyone, ownViewer: viewer, deployer: deployerRole, teamAdmin: adminRole, globalAdmin: global}
	return rank[c] >= n
}

type routeCase struct {
	method, path string
	body         func(f *fixture) any
	need         need
	status       int
}

func routeCases() map[string]routeCase {
	return map[string]routeCase{
		"whoami":        {"GET", "/api/v1/whoami", nil, anyone, 200},
		"promote":       {"POST", "/api/v1/teams/alpha/apps/reports/promotions", body(apiv1.Promote{From: "staging", To: "old"}), deployerRole, 201},
		"listApprovals": {"GET", "/api/v1/approvals", nil, anyone, 200},
		"listGitJobs":   {"GET", "/api/v1/teams/alpha/apps/reports/git-jobs", nil, viewer, 200},
		"listPreviews":  {"GET", "/api/v1/teams/alpha/previews", nil, viewer, 200},
		"approveDeploy": {"POST", "/api/v1/deploys/{awaiting}/approve", body(apiv1.Decision{Reason: "ok"}), adminRole, 200},
		"rejectDeploy":  {"POST", "/api/v1/deploys/{awaiting}/reject", body(apiv1.Decision{Reason: "no"}), adminRole, 200},
		"listTeams":     {"GET", "/api/v1/teams", nil, anyone, 200},
		"createTeam":    {"POST", "/api/v1/teams", body(apiv1.CreateTeam{Name: "delta"}), global, 201},
		"getTeam":       {"GET", "/api/v1/teams/alpha", nil, viewer, 200},
		"deleteTeam":    {"DELETE", "/api/v1/teams/gamma", nil, global, 204},
		"listMembers":   {"GET", "/api/v1/teams/alpha/members", nil, viewer, 200},
		"setMember":     {"PUT", "/api/v1/teams/alpha/members/carol", body(apiv1.SetMember{Role: "viewer"}), adminRole, 200},
		"removeMember":  {"DELETE", "/api/v1/teams/alpha/members/eve", nil, adminRole, 204},
		"listUsers":     {"GET", "/api/v1/users", nil, global, 200},
		"createUser":    {"POST", "/api/v1/users", body(apiv1.CreateUser{Name: "newbie"}), global, 201},
		"deleteUser":    {"DELETE", "/api/v1/users/carol", nil, global, 204},
		"linkChat":      {"PUT", "/api/v1/users/carol/chat-links/slack", body(apiv1.LinkChat{ChatUser: "U024BE7LH"}), global, 204},
		"unlinkChat": {"DELETE", "/api/v1/chat-links/slack/U024BE7LH", func(f *fixture) any {
			if err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
				return tx.LinkChat(context.Background(), "slack", "U024BE7LH", "carol", "admin")
			}); err != nil {
				f.t.Fatal(err)
			}
			return nil
		}, global, 204},
		"listTokens":        {"GET", "/api/v1/tokens", nil, anyone, 200},
		"createToken":       {"POST", "/api/v1/tokens", body(apiv1.CreateToken{Name: "laptop"}), anyone, 201},
		"revokeToken":       {"DELETE", "/api/v1/tokens/{carol}", nil, global, 200},
		"listAllApps":       {"GET", "/api/v1/apps", nil, anyone, 200},
		"listApps":          {"GET", "/api/v1/teams/alpha/apps", nil, viewer, 200},
		"createApp":         {"POST", "/api/v1/teams/alpha/apps", body(apiv1.CreateApp{Name: "billing"}), deployerRole, 201},
		"getApp":            {"GET", "/api/v1/teams/alpha/apps/reports", nil, viewer, 200},
		"deleteApp":         {"DELETE", "/api/v1/teams/alpha/apps/reports?keepWorkloads=true", nil, adminRole, 204}, // the fixture has no cluster to clean
		"listRevisions":     {"GET", "/api/v1/teams/alpha/apps/reports/revisions", nil, viewer, 200},
		"createRevision":    {"POST", "/api/v1/teams/alpha/apps/reports/revisions", body(apiv1.CreateRevision{Manifest: reportsManifest}), deployerRole, 201},
		"listEnvironments":  {"GET", "/api/v1/envs", nil, anyone, 200},
		"getEnvironment":    {"GET", "/api/v1/envs/staging", nil, anyone, 200},
		"createEnvironment": {"POST", "/api/v1/envs", body(apiv1.CreateEnvironment{Name: "prod", InCluster: true}), global, 201},
		"updateEnvironment": {"PATCH", "/api/v1/envs/staging", body(apiv1.UpdateEnvironment{NodeSelector: &map[string]string{"zone": "eu-1"}}), global, 200},
		"setEnvironmentPostgres": {"PUT", "/api/v1/envs/staging/postgres",
			body(apiv1.SetEnvironmentPostgres{DSN: "postgres://berth:new-pw@db.example:5432/postgres"}), global, 200},
		"clearEnvironmentPostgres": {"DELETE", "/api/v1/envs/staging/postgres", nil, global, 200},
		"deleteEnvironment":        {"DELETE", "/api/v1/envs/old", nil, global, 204},
		"listFreezeWindows":        {"GET", "/api/v1/freezes?env=staging", nil, anyone, 200},
		"freezeEnvironment": {"POST", "/api/v1/envs/staging/freezes", func(f *fixture) any {
			return apiv1.FreezeEnvironment{End: f.clock.Now().Add(time.Hour), Reason: "year-end close"}
		}, global, 201},
		// The fresh fixture's first freeze window is 1; the body makes it, and sends nothing.
		"unfreezeEnvironment": {"DELETE", "/api/v1/freezes/1", func(f *fixture) any { f.frozen("staging"); return nil }, global, 200},
		"setEnvironmentGitOps": {"PUT", "/api/v1/envs/staging/gitops",
			body(apiv1.SetEnvGitOps{Forge: "gitea", URL: platformRepo, PullRequest: true, Token: fixtureGitOpsToken}), global, 200},
		// The bodies give staging its GitOps output, and the finished deploy a change there.
		"getEnvironmentGitOps":   {"GET", "/api/v1/envs/staging/gitops", func(f *fixture) any { f.withGitOps("staging"); return nil }, anyone, 200},
		"unsetEnvironmentGitOps": {"DELETE", "/api/v1/envs/staging/gitops", func(f *fixture) any { f.withGitOps("staging"); return nil }, global, 200},
		"getDeployGitOps":        {"GET", "/api/v1/deploys/{deploy}/gitops", func(f *fixture) any { f.withGitOpsChange(); return nil }, viewer, 200},
		"getProvisioners":        {"GET", "/api/v1/envs/staging/provisioners", nil, anyone, 200},
		"setProvisioners": {"PUT", "/api/v1/envs/staging/provisioners",
			body(apiv1.SetProvisioners{Content: "- type: amqp\n  outputs: \"host: rabbit\"\n"}), global, 200},
		"listProvisionerVersions": {"GET", "/api/v1/envs/staging/provisioners/history", nil, anyone, 200},
		"listAudit":               {"GET", "/api/v1/audit?team=alpha", nil, viewer, 200},
		"verifyAudit":             {"GET", "/api/v1/audit/verify", nil, global, 200},
		"createDeploy":            {"POST", "/api/v1/deploys", body(apiv1.CreateDeploy{Team: "alpha", App: "reports", Env: "staging"}), deployerRole, 201},
		"getDeploy":               {"GET", "/api/v1/deploys/{deploy}", nil, viewer, 200},
		"listDeployEvents":        {"GET", "/api/v1/deploys/{deploy}/events", nil, viewer, 200},
		"streamDeploy":            {"GET", "/api/v1/deploys/{deploy}/stream", nil, viewer, 200},
		"getDeployObjects":        {"GET", "/api/v1/deploys/{deploy}/objects", nil, viewer, 200},
		"listDeploys":             {"GET", "/api/v1/teams/alpha/apps/reports/deploys?env=staging", nil, viewer, 200},
		"rollback":                {"POST", "/api/v1/teams/alpha/apps/reports/rollback", body(apiv1.Rollback{Env: "staging"}), deployerRole, 201},
		"connectRepo": {"PUT", "/api/v1/teams/alpha/apps/reports/repo",
			body(apiv1.ConnectRepo{Forge: "gitea", URL: "http://127.0.0.1:3000/alpha/reports", Token: "forge-token-1234"}), adminRole, 200},
		"getAppRepo":        {"GET", "/api/v1/teams/alpha/apps/reports/repo", nil, viewer, 200},
		"disconnectRepo":    {"DELETE", "/api/v1/teams/alpha/apps/reports/repo", nil, adminRole, 204},
		"runSmoke":          {"POST", "/api/v1/teams/alpha/apps/reports/smoke", body(apiv1.RunSmoke{Env: "staging"}), deployerRole, 200},
		"appStatus":         {"GET", "/api/v1/teams/alpha/apps/reports/status", nil, viewer, 200},
		"redeployTeam":      {"POST", "/api/v1/teams/alpha/redeploy", body(apiv1.RedeployTeam{}), deployerRole, 201},
		"streamBatch":       {"GET", "/api/v1/batches/{batch}/stream", nil, viewer, 200},
		"getDeployRollback": {"GET", "/api/v1/deploys/{failed}/rollback", nil, viewer, 200},

		"listGlobalConfig":    {"GET", "/api/v1/config", nil, anyone, 200},
		"updateGlobalConfig":  {"PATCH", "/api/v1/config", body(setting("LOG_LEVEL", "info")), global, 200},
		"listTeamConfig":      {"GET", "/api/v1/teams/alpha/config", nil, viewer, 200},
		"updateTeamConfig":    {"PATCH", "/api/v1/teams/alpha/config", body(apiv1.UpdateSettings{Unset: []string{"REGION"}}), adminRole, 200},
		"setTeamChatChannel":  {"PUT", "/api/v1/teams/alpha/chat-channel", body(apiv1.SetTeamChatChannel{Channel: "C0123DEPLOY"}), adminRole, 200},
		"listAppConfig":       {"GET", "/api/v1/teams/alpha/apps/reports/config", nil, viewer, 200},
		"updateAppConfig":     {"PATCH", "/api/v1/teams/alpha/apps/reports/config", body(setting("REGION", "us")), adminRole, 200},
		"listAppEnvConfig":    {"GET", "/api/v1/teams/alpha/apps/reports/envs/staging/config", nil, viewer, 200},
		"updateAppEnvConfig":  {"PATCH", "/api/v1/teams/alpha/apps/reports/envs/staging/config", body(apiv1.UpdateSettings{Set: map[string]string{"X": "1"}, Redeploy: true}), adminRole, 200},
		"listGlobalSecrets":   {"GET", "/api/v1/secrets", nil, anyone, 200},
		"updateGlobalSecrets": {"PATCH", "/api/v1/secrets", body(setting("SMTP_PASSWORD", "pw-1")), global, 200},
		"listTeamSecrets":     {"GET", "/api/v1/teams/alpha/secrets", nil, viewer, 200},
		"updateTeamSecrets":   {"PATCH", "/api/v1/teams/alpha/secrets", body(setting("TEAM_TOKEN", "tt-1")), adminRole, 200},
		"listAppSecrets":      {"GET", "/api/v1/teams/alpha/apps/reports/secrets", nil, viewer, 200},
		"updateAppSecrets":    {"PATCH", "/api/v1/teams/alpha/apps/reports/secrets", body(apiv1.UpdateSettings{Unset: []string{"API_KEY"}}), adminRole, 200},
		"listAppEnvSecrets":   {"GET", "/api/v1/teams/alpha/apps/reports/envs/staging/secrets", nil, viewer, 200},
		"updateAppEnvSecrets": {"PATCH", "/api/v1/teams/alpha/apps/reports/envs/staging/secrets", body(setting("API_KEY", "staging-1")), adminRole, 200},
		"resolveSettings":     {"GET", "/api/v1/teams/alpha/apps/reports/envs/staging/resolved", nil, viewer, 200},

		"listResources":  {"GET", "/api/v1/teams/alpha/apps/reports/resources?env=staging", nil, viewer, 200},
		"deleteResource": {"DELETE", "/api/v1/teams/alpha/apps/reports/envs/staging/resources/db?confirm=true", nil, adminRole, 200},
		"rotateResource": {"POST", "/api/v1/teams/alpha/apps/reports/envs/staging/resources/events/rotate", nil, deployerRole, 202},

		"streamLogs":              {"GET", "/api/v1/teams/alpha/apps/reports/envs/staging/logs?tail=10", nil, viewer, 200},
		"getSignals":              {"GET", "/api/v1/teams/alpha/apps/reports/envs/staging/metrics?since=1h", nil, viewer, 200},
		"listClusterEvents":       {"GET", "/api/v1/teams/alpha/apps/reports/events?env=staging", nil, viewer, 200},
		"listDeployClusterEvents": {"GET", "/api/v1/deploys/{deploy}/cluster-events", nil, viewer, 200},

		"listAllTrains": {"GET", "/api/v1/trains", nil, anyone, 200},
		"listTrains":    {"GET", "/api/v1/teams/alpha/trains", nil, viewer, 200},
		"createTrain": {"POST", "/api/v1/teams/alpha/trains", body(apiv1.CreateTrain{Name: "release", Schedule: "0 10 * * 1-5",
			TimeZone: "Europe/Lisbon", From: "staging", To: "old"}), adminRole, 201},
		// The bodies make train release and send what the route takes.
		"getTrain": {"GET", "/api/v1/teams/alpha/trains/release", withTrain(nil), viewer, 200},
		"updateTrain": {"PATCH", "/api/v1/teams/alpha/trains/release", withTrain(apiv1.UpdateTrain{Schedule: ptr("30 9 * * 1-5")}),
			adminRole, 200},
		"deleteTrain":   {"DELETE", "/api/v1/teams/alpha/trains/release", withTrain(nil), adminRole, 204},
		"delayTrain":    {"POST", "/api/v1/teams/alpha/trains/release/delay", withTrain(nil), viewer, 200},
		"departTrain":   {"POST", "/api/v1/teams/alpha/trains/release/depart", withTrain(nil), deployerRole, 202},
		"freezeTrain":   {"POST", "/api/v1/teams/alpha/trains/release/freeze", withTrain(apiv1.FreezeTrain{For: "24h", Reason: "incident"}), deployerRole, 200},
		"unfreezeTrain": {"POST", "/api/v1/teams/alpha/trains/release/unfreeze", withTrain(nil), deployerRole, 200},

		"startBackup":     {"POST", "/api/v1/teams/alpha/apps/reports/backups", body(apiv1.StartBackup{Environment: "staging"}), deployerRole, 202},
		"startTeamBackup": {"POST", "/api/v1/teams/alpha/backups", body(apiv1.StartBackup{Environment: "staging"}), deployerRole, 202},
		"listBackups":     {"GET", "/api/v1/teams/alpha/backups?environment=staging", nil, viewer, 200},
		// The fresh fixture's first backup and restore are 1; the bodies make them.
		"getBackup":    {"GET", "/api/v1/backups/1", withBackup(nil), viewer, 200},
		"startRestore": {"POST", "/api/v1/backups/1/restore", withBackup(apiv1.StartRestore{Environment: "staging", Force: true}), adminRole, 202},
		"startDrill":   {"POST", "/api/v1/teams/alpha/apps/reports/drills", withBackup(apiv1.StartDrill{Environment: "staging"}), deployerRole, 202},
		"listRestores": {"GET", "/api/v1/teams/alpha/restores", nil, viewer, 200},
		"listDrills":   {"GET", "/api/v1/teams/alpha/drills?app=reports", nil, viewer, 200},
		"getRestore":   {"GET", "/api/v1/restores/1", func(f *fixture) any { f.restore(f.backup(berth.JobSucceeded).ID, true, berth.JobSucceeded); return nil }, viewer, 200},
		"setBackupSchedule": {"PUT", "/api/v1/teams/alpha/apps/reports/backup-schedules/staging",
			body(apiv1.SetBackupSchedule{Cron: "0 3 * * *", Drill: "0 5 * * 0", TimeZone: "Europe/Lisbon"}), adminRole, 200},
		"listBackupSchedules":       {"GET", "/api/v1/teams/alpha/backup-schedules", nil, viewer, 200},
		"deleteBackupSchedule":      {"DELETE", "/api/v1/teams/alpha/apps/reports/backup-schedules/staging", func(f *fixture) any { f.backupSchedule(); return nil }, adminRole, 204},
		"setBackupStore":            {"PUT", "/api/v1/backup-stores/offsite", body(apiv1.SetBackupStore{Kind: "dir", Dir: "/srv/backups"}), global, 200},
		"listBackupStores":          {"GET", "/api/v1/backup-stores", nil, anyone, 200},
		"deleteBackupStore":         {"DELETE", "/api/v1/backup-stores/offsite", func(f *fixture) any { f.backupStore(); return nil }, global, 204},
		"setEnvironmentBackupStore": {"PUT", "/api/v1/envs/staging/backup-store", body(apiv1.SetEnvBackupStore{Store: "default"}), global, 204},

		"listProbeStatuses": {"GET", "/api/v1/probes", nil, anyone, 200},
		"listProbeRuns":     {"GET", "/api/v1/probes/runs?env=staging", nil, anyone, 200},
		// The fresh fixture's first probe run is 1; the body makes it, finished.
		"getProbeRun": {"GET", "/api/v1/probes/runs/1", func(f *fixture) any {
			f.finishedProbe("staging", berth.JobFailed, "queue failed: connect nats://nats.queues:4222: i/o timeout", probeSteps())
			return nil
		}, anyone, 200},
		"runProbe":         {"POST", "/api/v1/envs/staging/probes/runs", nil, anyone, 201},
		"getProbeSettings": {"GET", "/api/v1/envs/staging/probe", nil, anyone, 200},
		"setProbeSettings": {"PUT", "/api/v1/envs/staging/probe",
			body(apiv1.SetProbeSettings{QueueURL: "nats://nats.queues:4222", QueueToken: "fixture-queue-token", Interval: "10m"}), global, 200},
	}
}

// hiddenFromOthers are the routes of a backup or restore found by its id: to another
// team's members it does not exist (404), rather than being refused.
var hiddenFromOthers = map[string]bool{"getBackup": true, "startRestore": true, "getRestore": true}

// withBackup makes a successful backup of alpha/reports in staging, and sends v (nil:
// nothing).
func withBackup(v any) func(*fixture) any {
	return func(f *fixture) any { f.backup(berth.JobSucceeded); return v }
}

func body(v any) func(*fixture) any { return func(*fixture) any { return v } }

// withTrain makes alpha's train release, and sends v (nil: nothing).
func withTrain(v any) func(*fixture) any {
	return func(f *fixture) any { f.train("release"); return v }
}

func setting(key, value string) apiv1.UpdateSettings {
	return apiv1.UpdateSettings{Set: map[string]string{key: value}}
}

// TestAuthorizationTable calls every route as every kind of caller, each on a fresh server,
// and checks the status: 401 without a valid token, 403 with a reason when the role is
// short, the route's success status otherwise; and that a refused call changed nothing but
// (for a denial) one audit event.
func TestAuthorizationTable(t *testing.T) {
	cases := routeCases()
	f0 := newFixture(t)
	for _, r := range f0.api.Routes() {
		if !r.Auth {
			continue // a webhook's credential is its signature: hooks_test.go
		}
		if _, ok := cases[r.ID]; !ok {
			t.Errorf("route %s %s (%s) has no row in the authorization table", r.Method, r.Path, r.ID)
		}
	}
	for id, rc := range cases {
		for _, caller := range callers {
			t.Run(id+"/"+caller, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t)
				path := f.expand(rc.path)
				var b any
				if rc.body != nil {
					b = rc.body(f)
				}
				before := f.auditCount()
				status, data := f.do(caller, rc.method, path, b)
				want := rc.status
				switch {
				case caller == noToken || caller == expired || caller == revoked:
					want = http.StatusUnauthorized
				case caller == otherViewer && hiddenFromOthers[id]:
					want = http.StatusNotFound
				case !allowed(caller, rc.need):
					want = http.StatusForbidden
				}
				if status != want {
					t.Fatalf("%s %s as %s: status %d, want %d\n%s", rc.method, path, caller, status, want, data)
				}
				if status >= 400 {
					var e apiv1.Error
					if err := json.Unmarshal(data, &e); err != nil || e.Code == "" || e.Message == "" {
						t.Fatalf("error body %s is not {code, message}", data)
					}
				}
				after := f.auditCount()
				mutating := rc.method != "GET"
				switch {
				case status == http.StatusUnauthorized && after != before:
					t.Errorf("unauthenticated call wrote %d audit events", after-before)
				case status == http.StatusForbidden && mutating && after != before+1:
					t.Errorf("denied mutating call wrote %d audit events, want 1", after-before)
				case status < 300 && mutating && after != before+1:
					t.Errorf("mutating call wrote %d audit events, want exactly 1", after-before)
				case !mutating && after != before:
					t.Errorf("read wrote %d audit events", after-before)
				}
			})
		}
	}
}
