package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestBadInputIsRefusedAndWritesNothing sends malformed requests as a global admin: each
// gets a 4xx with {code, message, field} and leaves the database as it was.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string
		field       string
	}{
		{"malformed json", "POST", "/api/v1/teams", "application/json", `{"name": "delta"`, 400, "malformed_json", ""},
		{"not json", "POST", "/api/v1/teams", "application/json", `name=delta`, 400, "malformed_json", ""},
		{"empty body", "POST", "/api/v1/teams", "application/json", ``, 400, "malformed_json", ""},
		{"two values", "POST", "/api/v1/teams", "application/json", `{"name":"delta"}{"name":"epsilon"}`, 400, "malformed_json", ""},
		{"unknown field", "POST", "/api/v1/teams", "application/json", `{"name":"delta","owner":"x"}`, 400, "unknown_field", "owner"},
		{"wrong type", "POST", "/api/v1/users", "application/json", `{"name":"x","globalAdmin":"yes"}`, 400, "invalid", "globalAdmin"},
		{"wrong content type", "POST", "/api/v1/teams", "text/plain", `{"name":"delta"}`, 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/api/v1/teams", "", `{"name":"delta"}`, 415, "unsupported_media_type", ""},
		{"oversized", "POST", "/api/v1/teams", "application/json", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too_large", ""},
		{"invalid team name", "POST", "/api/v1/teams", "application/json", `{"name":"Delta Team"}`, 400, "invalid", "name"},
		{"empty team name", "POST", "/api/v1/teams", "application/json", `{"name":""}`, 400, "invalid", "name"},
		{"invalid user name", "POST", "/api/v1/users", "application/json", `{"name":"../etc"}`, 400, "invalid", "name"},
		{"invalid role", "PUT", "/api/v1/teams/alpha/members/carol", "application/json", `{"role":"owner"}`, 400, "invalid", "role"},
		{"invalid app name", "POST", "/api/v1/teams/alpha/apps", "application/json", `{"name":"Billing_App"}`, 400, "invalid", "name"},
		{"invalid manifest", "POST", "/api/v1/teams/alpha/apps", "application/json", `{"name":"billing","manifest":"apiVersion: berth.dev/v1\nmetadata: {name: billing}\n"}`, 400, "invalid", "manifest"},
		{"manifest for another app", "POST", "/api/v1/teams/alpha/apps/reports/revisions", "application/json", mustJSON(apiv1.CreateRevision{Manifest: strings.Replace(reportsManifest, "name: reports", "name: other", 1)}), 400, "invalid", "manifest"},
		{"bad token expiry", "POST", "/api/v1/tokens", "application/json", `{"name":"x","expiresIn":"forever"}`, 400, "invalid", "expiresIn"},
		{"env with no cluster", "POST", "/api/v1/envs", "application/json", `{"name":"prod"}`, 400, "invalid", "kubeconfig"},
		{"env name", "POST", "/api/v1/envs", "application/json", `{"name":"Prod!","inCluster":true}`, 400, "invalid", "name"},
		{"env node selector", "POST", "/api/v1/envs", "application/json", `{"name":"prod","inCluster":true,"nodeSelector":{"zone":"eu west"}}`, 400, "invalid", "nodeSelector"},
		{"env node selector value", "POST", "/api/v1/envs", "application/json", `{"name":"prod","inCluster":true,"nodeSelector":{"zone":1}}`, 400, "invalid", "nodeSelector"},
		{"env toleration effect", "POST", "/api/v1/envs", "application/json", `{"name":"prod","inCluster":true,"tolerations":[{"key":"k","operator":"Exists","effect":"Never"}]}`, 400, "invalid", "tolerations[0].effect"},
		{"env toleration field", "POST", "/api/v1/envs", "application/json", `{"name":"prod","inCluster":true,"tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule","seconds":1}]}`, 400, "unknown_field", "seconds"},
		{"env update nothing", "PATCH", "/api/v1/envs/staging", "application/json", `{}`, 400, "invalid", "nodeSelector"},
		{"env update nulls", "PATCH", "/api/v1/envs/staging", "application/json", `{"nodeSelector":null,"tolerations":null}`, 400, "invalid", "nodeSelector"},
		{"env update toleration", "PATCH", "/api/v1/envs/staging", "application/json", `{"tolerations":[{"key":"k","operator":"Equal","value":"v","effect":"NoSchedule"},{"key":"k","operator":"Equal","value":"v","effect":"NoSchedule"}]}`, 400, "invalid", "tolerations[1]"},
		{"env update operator", "PATCH", "/api/v1/envs/staging", "application/json", `{"nodeSelector":{"zone":"eu"},"tolerations":[{"key":"k","effect":"NoSchedule"}]}`, 400, "invalid", "tolerations[0].operator"},
		{"env update not a list", "PATCH", "/api/v1/envs/staging", "application/json", `{"tolerations":"k:NoSchedule"}`, 400, "invalid", "tolerations"},
		{"env update missing env", "PATCH", "/api/v1/envs/nope", "application/json", `{"nodeSelector":{}}`, 404, "not_found", ""},
		{"env update unknown field", "PATCH", "/api/v1/envs/staging", "application/json", `{"kubeconfig":"/other"}`, 400, "unknown_field", "kubeconfig"},
		{"duplicate team", "POST", "/api/v1/teams", "application/json", `{"name":"alpha"}`, 409, "conflict", ""},
		{"bad token id", "DELETE", "/api/v1/tokens/abc", "", ``, 400, "invalid", "id"},
		{"bad audit limit", "GET", "/api/v1/audit?limit=0", "", ``, 400, "invalid", "limit"},
		{"bad audit since", "GET", "/api/v1/audit?since=yesterday", "", ``, 400, "invalid", "since"},
		{"unknown route", "GET", "/api/v1/nothing", "", ``, 404, "not_found", ""},
		{"missing team", "GET", "/api/v1/teams/zeta/apps", "", ``, 404, "not_found", ""},
		{"setting bad key", "PATCH", "/api/v1/teams/alpha/config", "application/json", `{"set":{"BAD KEY":"x"}}`, 400, "invalid", "key"},
		{"setting nothing", "PATCH", "/api/v1/config", "application/json", `{}`, 400, "invalid", "set"},
		{"set and unset", "PATCH", "/api/v1/config", "application/json", `{"set":{"A":"1"},"unset":["A"]}`, 400, "invalid", "unset"},
		{"unset missing key", "PATCH", "/api/v1/teams/alpha/secrets", "application/json", `{"set":{"B":"2"},"unset":["NOPE"]}`, 404, "not_found", ""},
		{"empty secret", "PATCH", "/api/v1/teams/alpha/secrets", "application/json", `{"set":{"A":""}}`, 400, "invalid", "value"},
		{"huge setting", "PATCH", "/api/v1/teams/alpha/config", "application/json", `{"set":{"A":"` + strings.Repeat("v", 70000) + `"}}`, 400, "invalid", "value"},
		{"setting of missing app", "PATCH", "/api/v1/teams/alpha/apps/nope/config", "application/json", `{"set":{"A":"1"}}`, 404, "not_found", ""},
		{"setting of missing env", "PATCH", "/api/v1/teams/alpha/apps/reports/envs/nope/secrets", "application/json", `{"set":{"A":"1"}}`, 404, "not_found", ""},
		{"setting value not a string", "PATCH", "/api/v1/config", "application/json", `{"set":{"A":1}}`, 400, "invalid", "set"},
		{"resolved of missing env", "GET", "/api/v1/teams/alpha/apps/reports/envs/nope/resolved", "", ``, 404, "not_found", ""},
		{"refresh with a manifest", "POST", "/api/v1/deploys", "application/json", mustJSON(apiv1.CreateDeploy{Env: "staging", Refresh: true, Manifest: reportsManifest}), 400, "invalid", "refresh"},
		{"refresh of an undeployed env", "POST", "/api/v1/deploys", "application/json", `{"team":"alpha","app":"reports","env":"old","refresh":true}`, 400, "invalid", "refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := dump(t, f)
			req, err := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+f.tokens[globalAdmin])
			status, data := f.send(req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, data)
			}
			var e apiv1.Error
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatalf("body is not a JSON error: %v: %s", err, data)
			}
			if e.Code != tt.code || e.Field != tt.field || e.Message == "" {
				t.Errorf("error %+v, want code %q field %q and a message", e, tt.code, tt.field)
			}
			if after := dump(t, f); !bytes.Equal(before, after) {
				t.Errorf("the request changed the database")
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// dump reads every table the API writes, to compare before and after a request.
func dump(t *testing.T, f *fixture) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, table := range []string{"teams", "users", "memberships", "api_tokens", "apps", "app_revisions", "environments", "audit_events", "settings", "setting_versions", "deploys"} {
		rows, err := f.st.DB().Query("SELECT * FROM " + table + " ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(vals)
			out.WriteString(table)
			out.Write(b)
			out.WriteByte('\n')
		}
		rows.Close()
	}
	return out.Bytes()
}
