package service

import (
	"context"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// ListAudit returns audit events, newest first. Team viewers read their team's events;
// reading across teams needs a global admin.
func (s *Service) ListAudit(ctx context.Context, p *authz.Principal, f berth.AuditFilter) ([]berth.AuditEvent, error) {
	action, res := authz.AuditReadAll, authz.Resource{}
	if f.Team != "" {
		action, res = authz.AuditRead, authz.Resource{Team: f.Team}
	}
	if err := authz.Check(p, action, res); err != nil {
		return nil, err
	}
	evs, err := s.st.ListAudit(ctx, f)
	return evs, storeErr(err)
}

// VerifyAudit checks the audit log's hash chain (global admins only). It returns how many
// events it checked and every problem found.
func (s *Service) VerifyAudit(ctx context.Context, p *authz.Principal) (checked int64, problems []berth.AuditProblem, err error) {
	if err := authz.Check(p, authz.AuditVerify, authz.Resource{}); err != nil {
		return 0, nil, err
	}
	return s.st.VerifyAudit(ctx)
}
