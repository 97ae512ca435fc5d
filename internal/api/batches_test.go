package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// batch queues a team redeploy of alpha/reports in staging and in old, the way
// RedeployTeam does, and returns the batch's id and deploys.
func (f *fixture) batch() (int64, []berth.Deploy) {
	f.t.Helper()
	ctx := context.Background()
	var id int64
	var ds []berth.Deploy
	err := f.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = tx.CreateBatch(ctx, "alpha", 4, "admin"); err != nil {
			return err
		}
		for _, env := range []string{"staging", "old"} {
			d, err := tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "alpha", App: "reports", Env: env, Revision: 1,
				Kind: berth.KindRedeploy, BatchID: id, CreatedBy: "admin"})
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id, ds
}

// finishedBatch is a batch whose deploys have all ended.
func (f *fixture) finishedBatch() int64 {
	f.t.Helper()
	id, ds := f.batch()
	for _, d := range ds {
		f.finish(d.ID, berth.DeploySucceeded, "available")
	}
	return id
}

type event struct {
	name string
	data string
}

// readEvent reads the next server-sent event.
func readEvent(t *testing.T, r *bufio.Reader) event {
	t.Helper()
	var ev event
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read event: %v (so far %+v)", err, ev)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && ev.name != "":
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestStreamBatch follows a team redeploy: an event per deploy as it ends (the one that
// ended before the stream began first), then the whole batch, then the end of the stream.
func TestStreamBatch(t *testing.T) {
	f := newFixture(t)
	id, ds := f.batch()
	f.finish(ds[0].ID, berth.DeploySucceeded, "available")

	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/batches/%d/stream", f.srv.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[ownViewer]) // viewers may follow
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	deployEvent := func(wantID int64, wantState string) {
		t.Helper()
		ev := readEvent(t, r)
		var d apiv1.Deploy
		if ev.name != "deploy" || json.Unmarshal([]byte(ev.data), &d) != nil || d.ID != wantID || d.State != wantState || d.BatchID != id {
			t.Fatalf("got event %s %s, want deploy %d %s of batch %d", ev.name, ev.data, wantID, wantState, id)
		}
	}
	deployEvent(ds[0].ID, "succeeded")
	// The second ends while the stream runs.
	f.finish(ds[1].ID, berth.DeployFailed, "CrashLoopBackOff")
	deployEvent(ds[1].ID, "failed")
	ev := readEvent(t, r)
	var all apiv1.List[apiv1.Deploy]
	if ev.name != "batch" || json.Unmarshal([]byte(ev.data), &all) != nil {
		t.Fatalf("got event %s %s, want the batch", ev.name, ev.data)
	}
	var got []string
	for _, d := range all.Items {
		got = append(got, fmt.Sprintf("%d %s %s", d.ID, d.Env, d.State))
	}
	want := []string{fmt.Sprintf("%d staging succeeded", ds[0].ID), fmt.Sprintf("%d old failed", ds[1].ID)}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("batch event holds %v, want %v (in the order queued)", got, want)
	}
	if rest, err := r.ReadString('\n'); err == nil || rest != "" {
		t.Errorf("the stream goes on after the batch event: %q %v", rest, err)
	}
}

// TestStreamBatchRefusals: the errors come as JSON, before any event.
func TestStreamBatchRefusals(t *testing.T) {
	f := newFixture(t)
	id := f.finishedBatch()
	for _, c := range []struct {
		caller, path string
		status       int
		code, msg    string
	}{
		{otherViewer, fmt.Sprintf("/api/v1/batches/%d/stream", id), 403, "forbidden", "bob is not a member of team alpha"},
		{noToken, fmt.Sprintf("/api/v1/batches/%d/stream", id), 401, "unauthenticated", ""},
		{ownViewer, "/api/v1/batches/999/stream", 404, "not_found", "batch 999 has no deploys"},
		{ownViewer, "/api/v1/batches/x/stream", 400, "invalid", "batch id must be a positive number"},
	} {
		status, data := f.do(c.caller, "GET", c.path, nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("GET %s as %s: %d %s, want %d %s %q", c.path, c.caller, status, data, c.status, c.code, c.msg)
		}
	}
}
