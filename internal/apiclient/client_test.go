package apiclient_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
)

func client(t *testing.T, s *apiclienttest.Server) *apiclient.Client {
	t.Helper()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStreams: events reach the callbacks; an error before the stream is the server's
// own; a stream that ends early says so.
func TestStreams(t *testing.T) {
	ctx := context.Background()
	s := apiclienttest.New(t)
	c := client(t, s)
	s.Expect("GET", "/api/v1/batches/3/stream").ReplyEvents(
		apiclienttest.Event{Name: "deploy", Data: apiv1.Deploy{ID: 8, State: "failed"}},
		apiclienttest.Event{Name: "deploy", Data: apiv1.Deploy{ID: 7, State: "succeeded"}},
		apiclienttest.Event{Name: "batch", Data: apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{{ID: 7, State: "succeeded"}, {ID: 8, State: "failed"}}}})
	var ended []int64
	all, err := c.StreamBatch(ctx, 3, func(d apiv1.Deploy) { ended = append(ended, d.ID) })
	if err != nil || len(all) != 2 || all[0].ID != 7 || len(ended) != 2 || ended[0] != 8 {
		t.Errorf("StreamBatch: %v %v, ended %v", all, err, ended)
	}

	s.Expect("GET", "/api/v1/batches/4/stream").ReplyError(404, apiv1.Error{Code: "not_found", Message: "batch 4 has no deploys: not found"})
	if _, err := c.StreamBatch(ctx, 4, nil); !apiclient.IsStatus(err, 404) || err.Error() != "batch 4 has no deploys: not found" {
		t.Errorf("StreamBatch of an unknown batch: %v", err)
	}

	s.Expect("GET", "/api/v1/deploys/5/stream").ReplyEvents(apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{Phase: "progressing"}})
	var phases []string
	_, err = c.StreamDeploy(ctx, 5, func(ev apiv1.DeployEvent) { phases = append(phases, ev.Phase) })
	if err == nil || err.Error() != "stream deploy 5: the server closed the stream before the deploy ended" || len(phases) != 1 {
		t.Errorf("StreamDeploy cut short: %v, phases %v", err, phases)
	}
}
