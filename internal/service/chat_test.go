package service_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// TestRefuseChatIsBounded: anyone may send refused chat requests, so at most
// MaxChatRefusalAudits a minute become audit events one by one; the rest are counted into
// the first event of the next minute.
func TestRefuseChatIsBounded(t *testing.T) {
	svc, st, clk, _ := sessions(t)
	ctx := t.Context()
	for range service.MaxChatRefusalAudits + 10 {
		svc.RefuseChat(ctx, "slack", "bad signature")
	}
	count := func() []berth.AuditEvent {
		evs, err := st.ListAudit(ctx, berth.AuditFilter{Actor: "chat:slack", Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	if n := len(count()); n != service.MaxChatRefusalAudits {
		t.Fatalf("%d refusals audited in a minute, want %d", n, service.MaxChatRefusalAudits)
	}
	clk.Advance(time.Minute)
	svc.RefuseChat(ctx, "slack", "stale timestamp")
	evs := count()
	if len(evs) != service.MaxChatRefusalAudits+1 || evs[0].Details["refusedWithoutEvent"] != float64(10) {
		t.Errorf("the next minute's first refusal: %d events, newest %+v", len(evs), evs[0])
	}
}

// TestPreviewSettingsGoToTheirPreviewEnvironment: a pull request's preview reads its
// preview environment's settings, so settings of its own are refused, saying where they go.
func TestPreviewSettingsGoToTheirPreviewEnvironment(t *testing.T) {
	svc, st, _, admin := sessions(t)
	ctx := t.Context()
	for _, e := range []berth.Environment{{Name: "staging", InCluster: true}, {Name: "preview", InCluster: true, PreviewOf: "staging"}} {
		if _, err := svc.CreateEnvironment(ctx, admin, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateTeam(ctx, admin, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateApp(ctx, admin, "shop", "web", ""); err != nil {
		t.Fatal(err)
	}
	err := st.Tx(ctx, func(tx *store.Tx) error {
		base, err := tx.Environment(ctx, "preview")
		if err != nil {
			return err
		}
		_, _, err = tx.OpenPreview(ctx, berth.Preview{Team: "shop", App: "web", PR: 7, Branch: "b", SHA: "abc"}, base)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.UpdateSettings(ctx, admin, service.SettingsChange{Kind: berth.SettingConfig,
		Scope: berth.Scope{Team: "shop", App: "web", Env: "preview-shop-web-pr7"}, Set: map[string]string{"LOG": "debug"}})
	var inv *berth.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "set them there (--env preview)") {
		t.Errorf("settings of a pull request's preview: %v", err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, service.SettingsChange{Kind: berth.SettingConfig,
		Scope: berth.Scope{Team: "shop", App: "web", Env: "preview"}, Set: map[string]string{"LOG": "debug"}}); err != nil {
		t.Errorf("settings of the preview environment: %v", err)
	}
}
