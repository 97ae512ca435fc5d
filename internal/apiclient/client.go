// Package apiclient is the typed client of Berth's REST API, used by the CLI.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Client calls one Berth server with one token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the server at serverURL.
func New(serverURL, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", serverURL)
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// Error is a failed request as the server explained it.
type Error struct {
	Status int
	Body   apiv1.Error
}

func (e *Error) Error() string {
	msg := e.Body.Message
	if e.Body.Field != "" && !strings.Contains(msg, e.Body.Field) {
		msg = e.Body.Field + ": " + msg
	}
	if e.Body.Code == "internal" && e.Body.RequestID != "" {
		msg += " (request id " + e.Body.RequestID + ")"
	}
	return msg
}

// IsCode reports whether err is an API error with the given code, such as
// "confirmation_required".
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Body.Code == code
}

// IsStatus reports whether err is an API error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.doStatus(ctx, method, path, query, in, out)
	return err
}

// doStatus is do that also returns the response's status, for the calls whose answer
// says something by it (201 Created or 200 OK).
func (c *Client) doStatus(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	u, err := c.url(path)
	if err != nil {
		return 0, err
	}
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w (is the server running? check `berth login`)", method, c.base.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, responseError(resp, method, path)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(&boundedReader{r: resp.Body, left: maxResponse}).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// responseError reads a failed response's body (at most 1 MiB) as the server's explanation.
func responseError(resp *http.Response, method, path string) *Error {
	e := &Error{Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &e.Body) != nil || e.Body.Message == "" {
		e.Body.Code, e.Body.Message = "http", fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	}
	return e
}

// maxResponse bounds a successful JSON response; the largest are long histories and a
// deploy's objects.
const maxResponse = 64 << 20

// boundedReader reads at most left bytes of r, and fails past them rather than cut a
// response short.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if n, err := b.r.Read(make([]byte, 1)); n == 0 {
			return 0, err // io.EOF: the response ends at the bound
		}
		return 0, fmt.Errorf("response larger than %d MiB", maxResponse>>20)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func esc(s string) string { return url.PathEscape(s) }

// url is the server's URL of path, whose names come escaped (esc): the escaped form goes on
// the wire and Path holds the names as typed, so that the server sees, and its errors
// name, "../dev" rather than "..%2Fdev".
func (c *Client) url(path string) (*url.URL, error) {
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", path, err)
	}
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path += decoded
	return &u, nil
}

// Whoami returns the caller.
func (c *Client) Whoami(ctx context.Context) (apiv1.Whoami, error) {
	var out apiv1.Whoami
	return out, c.do(ctx, "GET", "/api/v1/whoami", nil, nil, &out)
}

// Teams lists teams.
func (c *Client) Teams(ctx context.Context) ([]apiv1.Team, error) {
	var out apiv1.List[apiv1.Team]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams", nil, nil, &out)
}

// Team returns one team.
func (c *Client) Team(ctx context.Context, name string) (apiv1.Team, error) {
	var out apiv1.Team
	return out, c.do(ctx, "GET", "/api/v1/teams/"+esc(name), nil, nil, &out)
}

// CreateTeam creates a team.
func (c *Client) CreateTeam(ctx context.Context, name string) (apiv1.Team, error) {
	var out apiv1.Team
	return out, c.do(ctx, "POST", "/api/v1/teams", nil, apiv1.CreateTeam{Name: name}, &out)
}

// DeleteTeam deletes a team.
func (c *Client) DeleteTeam(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/teams/"+esc(name), nil, nil, nil)
}

// Members lists a team's members.
func (c *Client) Members(ctx context.Context, team string) ([]apiv1.Member, error) {
	var out apiv1.List[apiv1.Member]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/members", nil, nil, &out)
}

// SetMember gives user a role in team.
func (c *Client) SetMember(ctx context.Context, team, user, role string) (apiv1.Member, error) {
	var out apiv1.Member
	return out, c.do(ctx, "PUT", "/api/v1/teams/"+esc(team)+"/members/"+esc(user), nil, apiv1.SetMember{Role: role}, &out)
}

// RemoveMember takes user out of team.
func (c *Client) RemoveMember(ctx context.Context, team, user string) error {
	return c.do(ctx, "DELETE", "/api/v1/teams/"+esc(team)+"/members/"+esc(user), nil, nil, nil)
}

// Users lists users.
func (c *Client) Users(ctx context.Context) ([]apiv1.User, error) {
	var out apiv1.List[apiv1.User]
	return out.Items, c.do(ctx, "GET", "/api/v1/users", nil, nil, &out)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, in apiv1.CreateUser) (apiv1.User, error) {
	var out apiv1.User
	return out, c.do(ctx, "POST", "/api/v1/users", nil, in, &out)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/users/"+esc(name), nil, nil, nil)
}

// Tokens lists user's tokens ("" for the caller's).
func (c *Client) Tokens(ctx context.Context, user string) ([]apiv1.Token, error) {
	var out apiv1.List[apiv1.Token]
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	return out.Items, c.do(ctx, "GET", "/api/v1/tokens", q, nil, &out)
}

// CreateToken creates a token; the secret is in the result only.
func (c *Client) CreateToken(ctx context.Context, in apiv1.CreateToken) (apiv1.CreatedToken, error) {
	var out apiv1.CreatedToken
	return out, c.do(ctx, "POST", "/api/v1/tokens", nil, in, &out)
}

// RevokeToken revokes a token.
func (c *Client) RevokeToken(ctx context.Context, id int64) (apiv1.Token, error) {
	var out apiv1.Token
	return out, c.do(ctx, "DELETE", "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// Apps lists team's apps, or every visible app with team "".
func (c *Client) Apps(ctx context.Context, team string) ([]apiv1.App, error) {
	var out apiv1.List[apiv1.App]
	path := "/api/v1/apps"
	if team != "" {
		path = "/api/v1/teams/" + esc(team) + "/apps"
	}
	return out.Items, c.do(ctx, "GET", path, nil, nil, &out)
}

// AppsNamed lists the apps called name in every team the caller can see: how to learn the
// team of an app known by name.
func (c *Client) AppsNamed(ctx context.Context, name string) ([]apiv1.App, error) {
	var out apiv1.List[apiv1.App]
	return out.Items, c.do(ctx, "GET", "/api/v1/apps", url.Values{"name": {name}}, nil, &out)
}

// CreateApp registers an app.
func (c *Client) CreateApp(ctx context.Context, team string, in apiv1.CreateApp) (apiv1.App, error) {
	var out apiv1.App
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps", nil, in, &out)
}

// App returns one app.
func (c *Client) App(ctx context.Context, team, name string) (apiv1.App, error) {
	var out apiv1.App
	return out, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(name), nil, nil, &out)
}

// DeleteApp removes an app and what it runs, or with keepWorkloads only the app.
func (c *Client) DeleteApp(ctx context.Context, team, name string, keepWorkloads bool) error {
	var q url.Values
	if keepWorkloads {
		q = url.Values{"keepWorkloads": {"true"}}
	}
	return c.do(ctx, "DELETE", "/api/v1/teams/"+esc(team)+"/apps/"+esc(name), q, nil, nil)
}

// Revisions lists an app's manifest revisions.
func (c *Client) Revisions(ctx context.Context, team, app string) ([]apiv1.Revision, error) {
	var out apiv1.List[apiv1.Revision]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/revisions", nil, nil, &out)
}

// CreateRevision stores a new manifest revision.
func (c *Client) CreateRevision(ctx context.Context, team, app, manifest string) (apiv1.Revision, error) {
	var out apiv1.Revision
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/revisions", nil, apiv1.CreateRevision{Manifest: manifest}, &out)
}

// Environments lists environments.
func (c *Client) Environments(ctx context.Context) ([]apiv1.Environment, error) {
	var out apiv1.List[apiv1.Environment]
	return out.Items, c.do(ctx, "GET", "/api/v1/envs", nil, nil, &out)
}

// CreateEnvironment defines an environment.
func (c *Client) CreateEnvironment(ctx context.Context, in apiv1.CreateEnvironment) (apiv1.Environment, error) {
	var out apiv1.Environment
	return out, c.do(ctx, "POST", "/api/v1/envs", nil, in, &out)
}

// Environment returns one environment.
func (c *Client) Environment(ctx context.Context, name string) (apiv1.Environment, error) {
	var out apiv1.Environment
	return out, c.do(ctx, "GET", "/api/v1/envs/"+esc(name), nil, nil, &out)
}

// UpdateEnvironment changes an environment's scheduling defaults: each field of in that is
// not nil replaces the environment's.
func (c *Client) UpdateEnvironment(ctx context.Context, name string, in apiv1.UpdateEnvironment) (apiv1.Environment, error) {
	var out apiv1.Environment
	return out, c.do(ctx, "PATCH", "/api/v1/envs/"+esc(name), nil, in, &out)
}

// SetEnvironmentPostgres registers the PostgreSQL server of the environment's postgres
// resources; the server checks it first. dsn travels only in the request's body.
func (c *Client) SetEnvironmentPostgres(ctx context.Context, env, dsn string) (apiv1.Environment, error) {
	var out apiv1.Environment
	return out, c.do(ctx, "PUT", "/api/v1/envs/"+esc(env)+"/postgres", nil, apiv1.SetEnvironmentPostgres{DSN: dsn}, &out)
}

// ClearEnvironmentPostgres unregisters the environment's PostgreSQL server.
func (c *Client) ClearEnvironmentPostgres(ctx context.Context, env string) (apiv1.Environment, error) {
	var out apiv1.Environment
	return out, c.do(ctx, "DELETE", "/api/v1/envs/"+esc(env)+"/postgres", nil, nil, &out)
}

// DeleteEnvironment removes an environment.
func (c *Client) DeleteEnvironment(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/envs/"+esc(name), nil, nil, nil)
}

// FreezeWindows lists the freeze windows of env ("" for every environment) not over yet.
func (c *Client) FreezeWindows(ctx context.Context, env string) ([]apiv1.FreezeWindow, error) {
	var q url.Values
	if env != "" {
		q = url.Values{"env": {env}}
	}
	var out apiv1.List[apiv1.FreezeWindow]
	return out.Items, c.do(ctx, "GET", "/api/v1/freezes", q, nil, &out)
}

// FreezeEnvironment freezes env: only emergency deploys go there in the window.
func (c *Client) FreezeEnvironment(ctx context.Context, env string, in apiv1.FreezeEnvironment) (apiv1.FreezeWindow, error) {
	var out apiv1.FreezeWindow
	return out, c.do(ctx, "POST", "/api/v1/envs/"+esc(env)+"/freezes", nil, in, &out)
}

// UnfreezeEnvironment ends freeze window id at once.
func (c *Client) UnfreezeEnvironment(ctx context.Context, id int64) (apiv1.FreezeWindow, error) {
	var out apiv1.FreezeWindow
	return out, c.do(ctx, "DELETE", "/api/v1/freezes/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Team, App, Actor, Since string
	Limit                   int
}

// Audit lists audit events, newest first.
func (c *Client) Audit(ctx context.Context, f AuditFilter) ([]apiv1.AuditEvent, error) {
	q := url.Values{}
	for k, v := range map[string]string{"team": f.Team, "app": f.App, "actor": f.Actor, "since": f.Since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out apiv1.List[apiv1.AuditEvent]
	return out.Items, c.do(ctx, "GET", "/api/v1/audit", q, nil, &out)
}

// VerifyAudit checks the audit log's hash chain.
func (c *Client) VerifyAudit(ctx context.Context) (apiv1.AuditVerification, error) {
	var out apiv1.AuditVerification
	return out, c.do(ctx, "GET", "/api/v1/audit/verify", nil, nil, &out)
}

// SetProvisioners stores a provisioner file as the environment's next version; a file with
// problems comes back as an error listing each at its file:line:column.
func (c *Client) SetProvisioners(ctx context.Context, env string, in apiv1.SetProvisioners) (apiv1.ProvisionerFile, error) {
	var out apiv1.ProvisionerFile
	return out, c.do(ctx, "PUT", "/api/v1/envs/"+esc(env)+"/provisioners", nil, in, &out)
}

// Provisioners returns a version of the environment's provisioner file (0: the newest).
func (c *Client) Provisioners(ctx context.Context, env string, version int64) (apiv1.ProvisionerFile, error) {
	var q url.Values
	if version != 0 {
		q = url.Values{"version": {strconv.FormatInt(version, 10)}}
	}
	var out apiv1.ProvisionerFile
	return out, c.do(ctx, "GET", "/api/v1/envs/"+esc(env)+"/provisioners", q, nil, &out)
}

// ProvisionerHistory lists the versions of the environment's provisioner file, newest first.
func (c *Client) ProvisionerHistory(ctx context.Context, env string) ([]apiv1.ProvisionerFile, error) {
	var out apiv1.List[apiv1.ProvisionerFile]
	return out.Items, c.do(ctx, "GET", "/api/v1/envs/"+esc(env)+"/provisioners/history", nil, nil, &out)
}
