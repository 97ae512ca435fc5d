package berth

import "testing"

// TestRedoEmergency: an emergency is asked for each time, never carried on from the deploy
// redone.
func TestRedoEmergency(t *testing.T) {
	src := Deploy{ID: 7, Team: "shop", App: "web", Env: "production", Options: DeployOptions{Emergency: "checkout down"}}
	if nd := Redo(src, KindRollback, "ann", DeployOptions{}); nd.Options.Emergency != "" {
		t.Errorf("a redo of an emergency deploy is one too: %+v", nd.Options)
	}
	if nd := Redo(src, KindRedeploy, "ann", DeployOptions{Emergency: "again"}); nd.Options.Emergency != "again" {
		t.Errorf("an emergency asked for was dropped: %+v", nd.Options)
	}
}
