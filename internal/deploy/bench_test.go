package deploy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/smoke"
)

// timedTarget sends HTTP checks to a real loopback server and adds up the time spent in
// them: the checks' own latency.
type timedTarget struct {
	url string
	mu  sync.Mutex
	in  time.Duration
}

func (t *timedTarget) HTTP(ctx context.Context, r smoke.HTTPRequest) (smoke.HTTPResponse, error) {
	start := time.Now()
	defer func() {
		t.mu.Lock()
		t.in += time.Since(start)
		t.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, r.Method, t.url+r.Path, nil)
	if err != nil {
		return smoke.HTTPResponse{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return smoke.HTTPResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, smoke.MaxBody))
	return smoke.HTTPResponse{Status: resp.StatusCode, Body: body}, err
}

func (t *timedTarget) Command(context.Context, smoke.CommandRequest) (smoke.CommandResult, error) {
	panic("no command checks in this benchmark")
}

const benchSmokeManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {image: "registry.example.com/web:1"}
containers:
  web: {image: "${args.image}"}
service: {ports: {http: {port: 80, targetPort: 8080}}}
smoke:
  - {path: /smoke, contains: "smoke ok"}
  - {path: /info, matches: '"version":"[0-9]+"'}
  - {path: /healthz}
`

// BenchmarkSmokeStage measures what the verify stage adds to 3 HTTP smoke checks beyond
// their own latency (the time spent waiting for the app, here a loopback server answering
// after 5ms): planning, judging, excerpts, redaction, and recording the results and events
// in a real SQLite store. The target is at most 300ms; overhead-ms/op reports it.
func BenchmarkSmokeStage(b *testing.B) {
	f := newEngineFixture(b)
	rev := f.addRevision(benchSmokeManifest)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // the app's own latency
		switch r.URL.Path {
		case "/info":
			io.WriteString(w, `{"version":"1"}`)
		default:
			io.WriteString(w, "smoke ok\n")
		}
	}))
	defer app.Close()
	target := &timedTarget{url: app.URL}
	f.cluster.target = target
	ctx := context.Background()
	env, err := f.st.Environment(ctx, "staging")
	if err != nil {
		b.Fatal(err)
	}
	var stage time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d := f.enqueue(rev, "registry.example.com/web:1", berth.DeployOptions{})
		claimed, ok, err := f.st.ClaimDeploy(ctx, "w1", time.Minute)
		if err != nil || !ok || claimed.ID != d.ID {
			b.Fatalf("claim: %v %v", ok, err)
		}
		r := &run{e: f.e, d: claimed, owner: "w1", log: slog.New(slog.DiscardHandler), env: env,
			namespace: env.Namespace("shop", "web"), cluster: f.cluster}
		b.StartTimer()
		start := time.Now()
		if err := r.verify(ctx); err != nil {
			b.Fatal(err)
		}
		stage += time.Since(start)
		b.StopTimer()
		if r.smoke == nil || !r.smoke.Passed || len(r.smoke.Results) != 3 {
			b.Fatalf("smoke run %+v", r.smoke)
		}
		r.finish(ctx, outcome{state: berth.DeploySucceeded, reason: "available"})
		b.StartTimer()
	}
	b.StopTimer()
	overhead := stage - target.in
	b.ReportMetric(float64(overhead.Microseconds())/1000/float64(b.N), "overhead-ms/op")
	b.ReportMetric(float64(target.in.Microseconds())/1000/float64(b.N), "checks-ms/op")
	if per := overhead / time.Duration(b.N); per > 300*time.Millisecond {
		b.Errorf("the smoke stage adds %s to 3 checks, over the 300ms target", per)
	}
}
