package web

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// feedLogs stands in for the cluster behind the service's Logs seam: every stream gets
// the records the test sends, until its context ends. (internal/kube's own tests and
// cmd/berth's real-node test read real pods.)
type feedLogs struct {
	records chan berth.LogRecord
	queries chan berth.LogQuery
}

func newFeedLogs() *feedLogs {
	return &feedLogs{records: make(chan berth.LogRecord), queries: make(chan berth.LogQuery, 10)}
}

func (f *feedLogs) AppLogs(ctx context.Context, _ berth.Environment, _ string, q berth.LogQuery, emit func(berth.LogRecord) error) error {
	f.queries <- q
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-f.records:
			if err := emit(r); err != nil {
				return err
			}
		}
	}
}

func (f *feedLogs) send(t *testing.T, rs ...berth.LogRecord) {
	t.Helper()
	for _, r := range rs {
		select {
		case f.records <- r:
		case <-time.After(30 * time.Second):
			t.Fatal("no log stream took the record within 30 s")
		}
	}
}

func line(at time.Time, pod, text string) berth.LogRecord {
	return berth.LogRecord{Time: at, Pod: pod, Line: text}
}

// TestAppLogsStream reads the app page's log stream: records as server-sent events whose
// ids are their times, a reconnect going on after the last id, and no stream for those who
// may not read the app.
func TestAppLogsStream(t *testing.T) {
	srv, svc, _ := serverWithStore(t)
	logs := newFeedLogs()
	svc.SetLogs(logs)
	queuedDeploy(t, svc)
	session := signIn(t, svc, adminToken)
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	open := func(lastID string) (*http.Response, *bufio.Scanner, context.CancelFunc) {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/apps/shop/web/envs/staging/logs/events", nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp, bufio.NewScanner(resp.Body), cancel
	}
	resp, sc, cancel := open("")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	q := <-logs.queries
	if !q.Follow || q.Tail != berth.DefaultLogTail || q.Selector["app.kubernetes.io/name"] != "web" || !q.Events("pod/web-7d9f8-x2x4q") || q.Events("pod/api-1") {
		t.Errorf("query %+v", q)
	}
	logs.send(t, line(t0, "web-7d9f8-x2x4q", "hello <listening>"))
	var got []string
	for len(got) < 3 && sc.Scan() {
		if sc.Text() != "" {
			got = append(got, sc.Text())
		}
	}
	id := strconv.FormatInt(t0.UnixNano(), 10)
	if len(got) != 3 || got[0] != "id: "+id || got[1] != "event: log" ||
		got[2] != `data: {"time":"2026-03-14T15:09:26.535897Z","pod":"web-7d9f8-x2x4q","line":"hello \u003clistening\u003e"}` {
		t.Errorf("event %q", got)
	}
	cancel()

	// A reconnecting browser goes on after the last record it got.
	open(id)
	if q := <-logs.queries; !q.Since.Equal(t0.Add(time.Nanosecond)) || q.Tail != berth.MaxLogTail {
		t.Errorf("resumed query: since %s, tail %d", q.Since, q.Tail)
	}

	if resp, _ := get(t, client(t), srv.URL+"/apps/shop/web/envs/staging/logs/events"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out: %d", resp.StatusCode)
	}
	for path, status := range map[string]int{
		"/apps/shop/web/envs/nope/logs/events":     http.StatusNotFound,
		"/apps/shop/nope/envs/staging/logs/events": http.StatusNotFound,
	} {
		c := client(t)
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// TestAppPageLogTail opens an app's page in Chromium: it lists the kept Kubernetes events,
// and its live tail shows each line after its pod and events marked as such, holds new
// lines while paused and shows them on resume, and shows one pod's lines when filtered.
func TestAppPageLogTail(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	logs := newFeedLogs()
	svc.SetLogs(logs)
	queuedDeploy(t, svc)
	t0 := time.Now().Add(-time.Minute).UTC()
	err := st.Tx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SaveClusterEvents(t.Context(), []berth.ClusterEvent{{Env: "staging", Team: "shop", App: "web", UID: "u1",
			Type: "Warning", Reason: "BackOff", Object: "pod/web-7d9f8-x2x4q", Message: "Back-off restarting failed container",
			Count: 4, FirstAt: t0, LastAt: t0}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := webtest.Browser(t)
	webtest.SignIn(t, b, srv.URL, adminToken, ".who")
	webtest.Do(t, b, "open the app", chromedp.Navigate(srv.URL+"/apps/shop/web"), chromedp.WaitVisible(`section.logs .logpause`))
	if got := webtest.Text(t, b, "table.cluster-events tbody"); !strings.Contains(got, "BackOff") || !strings.Contains(got, "pod/web-7d9f8-x2x4q") ||
		!strings.Contains(got, "Back-off restarting failed container") {
		t.Errorf("kept events: %q", got)
	}
	<-logs.queries
	const count = `document.querySelectorAll("ol.logtail li").length`
	logs.send(t, line(t0, "web-a", "hello from a"), line(t0.Add(time.Second), "web-b", "hello from b"),
		berth.LogRecord{Time: t0.Add(2 * time.Second), Event: &berth.ClusterEvent{Type: "Normal", Reason: "ScalingReplicaSet",
			Object: "deployment/web", Message: "Scaled up replica set web-7d9f8 to 2", Count: 1}})
	webtest.Do(t, b, "three records", webtest.WaitJS(count+` === 3`, time.Minute))
	text := webtest.Text(t, b, "ol.logtail")
	for _, want := range []string{"web-a", "hello from a", "web-b", "event", "ScalingReplicaSet  deployment/web: Scaled up replica set web-7d9f8 to 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the tail lacks %q:\n%s", want, text)
		}
	}

	webtest.Do(t, b, "pause", chromedp.Click(`section.logs .logpause`), webtest.WaitJS(`document.querySelector(".logstate").textContent.startsWith("paused")`, time.Minute))
	logs.send(t, line(t0.Add(3*time.Second), "web-c", "while paused"))
	// The record reached the page, and waits.
	webtest.Do(t, b, "the paused record came", webtest.WaitJS(`document.querySelector(".logstate").textContent === "paused: 1 new record waits"`, time.Minute))
	if n := webtest.Read(t, b, "count while paused", chromedp.Evaluate[int](count)); n != 3 {
		t.Errorf("%d lines while paused, want 3", n)
	}
	webtest.Do(t, b, "resume", chromedp.Click(`section.logs .logpause`), webtest.WaitJS(count+` === 4`, time.Minute))

	webtest.Read(t, b, "filter web-b", chromedp.Evaluate[bool](`(() => {
		const s = document.querySelector(".logpod");
		s.value = "web-b";
		s.dispatchEvent(new Event("change"));
		return true;
	})()`))
	webtest.Do(t, b, "only web-b", webtest.WaitJS(`Array.from(document.querySelectorAll("ol.logtail li")).filter(li => !li.hidden).length === 1`, time.Minute))
	if got := webtest.Text(t, b, "ol.logtail li:not([hidden])"); !strings.Contains(got, "hello from b") {
		t.Errorf("filtered to web-b: %q", got)
	}
}

// TestDeployPageClusterEvents: a deploy's page lists the Kubernetes events about the app's
// objects from while it ran, and not those from before.
func TestDeployPageClusterEvents(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	d := queuedDeploy(t, svc)
	w := claim(t, st, d)
	w.finish(berth.DeploySucceeded, "available")
	d, err := st.Deploy(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(uid, reason string, at time.Time) berth.ClusterEvent {
		return berth.ClusterEvent{Env: "staging", Team: "shop", App: "web", UID: uid, Type: "Normal", Reason: reason,
			Object: "deployment/web", Message: reason + " of web", Count: 1, FirstAt: at, LastAt: at}
	}
	err = st.Tx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SaveClusterEvents(t.Context(), []berth.ClusterEvent{
			ev("before", "LongBefore", d.StartedAt.Add(-time.Hour)), ev("during", "ScalingReplicaSet", d.StartedAt)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t)
	c.Jar.SetCookies(mustURL(t, srv.URL), []*http.Cookie{{Name: "berth_session", Value: signIn(t, svc, adminToken)}})
	resp, body := get(t, c, srv.URL+"/deploys/"+strconv.FormatInt(d.ID, 10))
	if resp.StatusCode != 200 || !strings.Contains(body, "Kubernetes events during this deploy") ||
		!strings.Contains(body, "ScalingReplicaSet of web") || strings.Contains(body, "LongBefore") {
		t.Errorf("deploy page: %d\n%s", resp.StatusCode, body)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
