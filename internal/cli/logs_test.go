package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

func logLine(at time.Time, pod, container, line string) apiv1.LogRecord {
	return apiv1.LogRecord{Time: at, Pod: pod, Container: container, Line: &line}
}

func logStream(t0 time.Time) []any {
	return []any{
		logLine(t0, "web-6c8e-a1b2c", "", `{"msg":"hello listening","version":"1"}`),
		apiv1.LogRecord{Time: t0.Add(time.Second), Event: &apiv1.ClusterEvent{Type: "Normal", Reason: "ScalingReplicaSet",
			Object: "deployment/web", Message: "Scaled up replica set web-7d9f8 from 0 to 1", Count: 1}},
		apiv1.LogRecord{Time: t0.Add(2 * time.Second), Notice: "pod web-7d9f8-x2x4q started: following it"},
		nil, // a keep-alive
		logLine(t0.Add(3*time.Second), "web-7d9f8-x2x4q", "sidecar", "ready"),
		apiv1.LogRecord{Time: t0.Add(4 * time.Second), Event: &apiv1.ClusterEvent{Type: "Warning", Reason: "BackOff",
			Object: "pod/web-7d9f8-x2x4q", Message: "Back-off restarting\nfailed container", Count: 3}},
	}
}

// TestLogs prints each line after its pod (and container), events marked as such, and
// notices on standard error; the query carries every flag.
func TestLogs(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/logs?since=10m&tail=5&container=web&pod=web-1&follow=true").
		ReplyLines(logStream(t0)...)
	err := h.run("logs", "web", "--env", "staging", "-f", "--since", "10m", "--tail", "5", "-c", "web", "--pod", "web-1")
	// The fake ends a followed stream: the server went away.
	wantExit(t, err, "the server ended the log stream (did it restart?): run the command again to go on", false)
	h.wantOutput(t, `web-6c8e-a1b2c  {"msg":"hello listening","version":"1"}
event  Normal  ScalingReplicaSet  deployment/web: Scaled up replica set web-7d9f8 from 0 to 1
web-7d9f8-x2x4q/sidecar  ready
event  Warning  BackOff  pod/web-7d9f8-x2x4q: Back-off restarting failed container (x3)
`, "berth: pod web-7d9f8-x2x4q started: following it\n")
}

// TestLogsTimestampsColoursAndJSON: --timestamps starts each line with its time; a
// terminal gets colours; -o json is the records as the server sends them.
func TestLogsTimestampsColoursAndJSON(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 123000000, time.UTC)
	h := newHarness(t, true)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/logs?previous=true").ReplyLines(logStream(t0)[:2]...)
	if err := h.run("logs", "web", "--team", "shop", "--env", "staging", "--previous", "--timestamps"); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	if !strings.HasPrefix(out, "2026-03-04T05:06:07.123Z \x1b[") || !strings.Contains(out, "web-6c8e-a1b2c\x1b[0m") ||
		!strings.Contains(out, "2026-03-04T05:06:08.123Z \x1b[1mevent\x1b[0m  Normal") {
		t.Errorf("terminal output:\n%q", out)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/logs?tail=0").ReplyLines(logStream(t0)[:2]...)
	if err := h.run("logs", "web", "--team", "shop", "--env", "staging", "--tail", "0", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `{"time":"2026-03-04T05:06:07.123Z","pod":"web-6c8e-a1b2c","line":"{\"msg\":\"hello listening\",\"version\":\"1\"}"}
{"time":"2026-03-04T05:06:08.123Z","event":{"type":"Normal","reason":"ScalingReplicaSet","object":"deployment/web","message":"Scaled up replica set web-7d9f8 from 0 to 1","count":1,"firstAt":"0001-01-01T00:00:00Z","lastAt":"0001-01-01T00:00:00Z"}}
`, "")
}

// TestLogsErrors: mistakes are usage errors before any request; the server's refusal
// and an error that ends the stream are the command's error.
func TestLogsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"logs", "web"}, "--env is required: name the environment whose pods to read (berth status APP lists them)"},
		{[]string{"logs", "web", "--env", "staging", "--since", "abc"}, `--since "abc": use a duration such as 10m or 2h, or an RFC 3339 time such as 2026-03-14T15:09:26Z`},
		{[]string{"logs", "web", "--env", "staging", "--since", "-5m"}, "--since -5m is in the future: give how long ago, such as 10m"},
		{[]string{"logs", "web", "--env", "staging", "--tail", "20000"}, "--tail must be 0 to 10000 lines, not 20000"},
		{[]string{"logs", "web", "--env", "staging", "-p", "-f"}, "--previous reads a container that has ended: it cannot be followed (drop -f)"},
		{[]string{"logs", "web", "--env", "staging", "-o", "yaml"}, `invalid output format "yaml": use text or json`},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(c.args...), c.msg, true)
	}

	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/other/apps/web/envs/staging/logs").
		ReplyError(403, apiv1.Error{Code: "forbidden", Message: "bob is not a member of team other"})
	wantExit(t, h.run("logs", "web", "--team", "other", "--env", "staging"), "bob is not a member of team other", false)

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/logs").
		ReplyLines(logStream(time.Now())[0], apiv1.LogRecord{Time: time.Now(), Error: "list the app's pods in shop-staging: connection refused"})
	wantExit(t, h.run("logs", "web", "--team", "shop", "--env", "staging"), "list the app's pods in shop-staging: connection refused", false)
	if !strings.Contains(h.out.String(), "hello listening") {
		t.Errorf("the lines before the error are not shown: %q", h.out.String())
	}
}

// TestEvents lists the kept events as a table, and says so when there are none.
func TestEvents(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/events?env=staging&since=1h&type=Warning&limit=5").
		Reply(200, apiv1.List[apiv1.ClusterEvent]{Items: []apiv1.ClusterEvent{
			{Env: "staging", Type: "Warning", Reason: "BackOff", Object: "pod/web-7d9f8-x2x4q", Message: "Back-off restarting failed container", Count: 7, LastAt: at},
		}})
	if err := h.run("events", "web", "--env", "staging", "--since", "1h", "--type", "Warning", "--limit", "5"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `LAST SEEN             ENV      TYPE     REASON   OBJECT               COUNT  MESSAGE
2026-03-04T05:06:07Z  staging  Warning  BackOff  pod/web-7d9f8-x2x4q  7      Back-off restarting failed container
`, "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/events?env=dev").Reply(200, apiv1.List[apiv1.ClusterEvent]{Items: []apiv1.ClusterEvent{}})
	if err := h.run("events", "web", "--team", "shop", "--env", "dev"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no events of shop/web kept in dev\n")

	h = newHarness(t, false)
	wantExit(t, h.run("events", "web", "--type", "Error"), `--type "Error": use Normal or Warning`, true)
}
