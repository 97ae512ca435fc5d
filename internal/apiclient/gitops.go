package apiclient

import (
	"context"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// SetEnvGitOps turns on (or replaces) env's GitOps output; the token travels only in the
// request's body.
func (c *Client) SetEnvGitOps(ctx context.Context, env string, in apiv1.SetEnvGitOps) (apiv1.GitOps, error) {
	var out apiv1.GitOps
	return out, c.do(ctx, "PUT", "/api/v1/envs/"+esc(env)+"/gitops", nil, in, &out)
}

// EnvGitOps returns env's GitOps output; an error of code not_found when it has none.
func (c *Client) EnvGitOps(ctx context.Context, env string) (apiv1.GitOps, error) {
	var out apiv1.GitOps
	return out, c.do(ctx, "GET", "/api/v1/envs/"+esc(env)+"/gitops", nil, nil, &out)
}

// UnsetEnvGitOps turns env's GitOps output off and returns what it was.
func (c *Client) UnsetEnvGitOps(ctx context.Context, env string) (apiv1.GitOps, error) {
	var out apiv1.GitOps
	return out, c.do(ctx, "DELETE", "/api/v1/envs/"+esc(env)+"/gitops", nil, nil, &out)
}

// DeployGitOps returns what deploy id wrote to its environment's platform repository; an
// error of code not_found when it wrote nothing.
func (c *Client) DeployGitOps(ctx context.Context, id int64) (apiv1.GitOpsChange, error) {
	var out apiv1.GitOpsChange
	return out, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/gitops", nil, nil, &out)
}
