package web

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// TestSignalCharts: time runs left to right over the chart's 240 units, values from 0 at
// the bottom (y 46) to the greatest at the top (y 2), or the limit when they come near it;
// a missing step breaks the line, and a lone point is a dash.
func TestSignalCharts(t *testing.T) {
	end := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	start := end.Add(-80 * time.Second)
	at := func(sec int, v float64) berth.Point {
		return berth.Point{T: start.Add(time.Duration(sec) * time.Second), V: v}
	}
	sig := berth.Signals{End: end, Since: 80 * time.Second, Step: 10 * time.Second, Series: []berth.Series{
		{Name: berth.SignalTraffic, Unit: berth.UnitPerSecond, Help: "requests answered per second",
			Points: []berth.Point{at(0, 0), at(10, 2), at(20, 4), at(50, 1), at(60, 3), at(80, 2)}},
		{Name: berth.SignalMemory, Unit: berth.UnitBytes, Limit: 100 << 20, Points: []berth.Point{at(0, 60<<20), at(10, 80<<20)}},
		{Name: berth.SignalCPU, Unit: berth.UnitCores, Limit: 2, Points: []berth.Point{at(0, 0.1), at(10, 0.2)}},
		{Name: berth.SignalErrors, Unit: berth.UnitRatio},
	}}
	want := []chart{
		{Name: "traffic", Title: "Traffic", Help: "requests answered per second", Last: "2 req/s", Range: "0 req/s – 4 req/s",
			Lines: []string{"0,46 30,24 60,2", "150,35 180,13", "239,24 240,24"}},
		// 80 MiB of a 100 MiB limit: the chart goes up to the limit, drawn at the top.
		{Name: "memory", Title: "Memory", Last: "80 MiB", Range: "60 MiB – 80 MiB", Limit: "100 MiB", LimitY: "2",
			Lines: []string{"0,19.6 30,10.8"}},
		// Far below its limit: the chart goes up to the greatest value, without the limit.
		{Name: "cpu", Title: "CPU", Last: "200m", Range: "100m – 200m", Limit: "2 cores", Lines: []string{"0,24 30,2"}},
		{Name: "errors", Title: "Errors"},
	}
	if diff := cmp.Diff(want, signalCharts(sig)); diff != "" {
		t.Errorf("charts (-want +got):\n%s", diff)
	}
}

// cannedSignals stands in for the Prometheus behind the service's SignalReader port
// (internal/prom's test reads a real one): the hour of q, traffic with a gap.
type cannedSignals struct {
	envs chan string
	// noRequests answers as for an app without request metrics: CPU and memory only.
	noRequests bool
}

func (c cannedSignals) Signals(_ context.Context, q berth.SignalQuery) ([]berth.Series, error) {
	if c.envs != nil {
		c.envs <- q.Env
	}
	var traffic []berth.Point
	for i := 0; !q.Start.Add(time.Duration(i) * q.Step).After(q.End); i++ {
		if i < 50 || i >= 60 {
			traffic = append(traffic, berth.Point{T: q.Start.Add(time.Duration(i) * q.Step), V: float64(i % 11)})
		}
	}
	out := []berth.Series{
		{Name: berth.SignalTraffic, Unit: berth.UnitPerSecond, Help: "requests answered per second", Points: traffic},
		{Name: berth.SignalMemory, Unit: berth.UnitBytes, Help: "memory the largest pod used", Limit: 128 << 20,
			Points: []berth.Point{{T: q.End, V: 50 << 20}}},
		{Name: berth.SignalCPU, Unit: berth.UnitCores, Help: "CPU the busiest pod used"},
	}
	if c.noRequests {
		out = out[1:]
	}
	return out, nil
}

// TestAppPageSignals: the app page charts the golden signals of the first environment the
// app runs in, with their newest values, limits and a link to the other environments;
// a server without Prometheus says so in one line.
func TestAppPageSignals(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	envs := make(chan string, 10)
	svc.SetSignals(cannedSignals{envs: envs})
	d := queuedDeploy(t, svc)
	claim(t, st, d).finish(berth.DeploySucceeded, "available")
	session := signIn(t, svc, adminToken)
	page := func(path string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, data)
		}
		return string(data)
	}

	body := page("/apps/shop/web")
	if got := <-envs; got != "staging" {
		t.Errorf("signals read for %s, want staging", got)
	}
	for _, want := range []string{
		"Golden signals in staging", "the last 1h", `<tr data-signal="traffic">`, "<strong>Traffic</strong>",
		`<td class="rev">10 req/s</td>`, "0 req/s – 10 req/s",
		`<td class="rev">50 MiB<div class="sub">of limit 128 MiB</div></td>`, "no samples",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the app page lacks %q", want)
		}
	}
	if strings.Contains(body, "need the app's request metrics") {
		t.Error("the page asks for request metrics the app has")
	}
	// The traffic's gap splits its line in two; memory's lone point is a dash.
	if n := len(regexp.MustCompile(`<polyline points="[0-9., ]+"`).FindAllString(body, -1)); n != 3 {
		t.Errorf("%d polylines, want 3 (traffic's two, memory's one)", n)
	}

	body = page("/apps/shop/web?env=production&since=7d")
	for _, want := range []string{"Golden signals in production", "the last 7d", `<a href="?env=staging">staging</a>`,
		`environment &#34;production&#34;: not found`} {
		if !strings.Contains(body, want) {
			t.Errorf("the app page for production lacks %q", want)
		}
	}
	body = page("/apps/shop/web?since=1y")
	if !strings.Contains(body, "since: &#34;1y&#34; is not a duration") {
		t.Errorf("a bad since is not explained on the page")
	}

	t.Run("in a browser", func(t *testing.T) {
		// Chromium draws the charts under the dashboard's Content-Security-Policy.
		b := webtest.Browser(t)
		webtest.SignIn(t, b, srv.URL, adminToken, ".who")
		webtest.Do(t, b, "open the app", chromedp.Navigate(srv.URL+"/apps/shop/web"), chromedp.WaitVisible(`section.signals svg.chart polyline`))
		widths := webtest.Read(t, b, "measure the lines", chromedp.Evaluate[[]float64](
			`[...document.querySelectorAll("section.signals svg.chart polyline")].map(p => p.getBoundingClientRect().width)`))
		if len(widths) != 3 || widths[0] < 50 || widths[1] < 50 {
			t.Errorf("polylines %v wide, want traffic's two stretches drawn across the chart", widths)
		}
	})

	svc.SetSignals(cannedSignals{noRequests: true})
	body = page("/apps/shop/web")
	if !strings.Contains(body, "Latency, traffic and errors need the app's request metrics") || strings.Contains(body, `data-signal="traffic"`) {
		t.Error("for an app without request metrics, the page does not say what the missing signals need")
	}

	svc.SetSignals(nil)
	body = page("/apps/shop/web")
	if !strings.Contains(body, "this server has no Prometheus: start it with --prometheus-url") || strings.Contains(body, "<polyline") {
		t.Errorf("without Prometheus the page does not say so in one line")
	}
}
