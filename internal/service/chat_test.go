package service_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
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
