package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestProvisionerFiles: a global admin sets an environment's provisioner file; a bad
// template is refused with its position and changes nothing; anyone signed in reads what
// the file offers; the audit names the version and types, never the content.
func TestProvisionerFiles(t *testing.T) {
	f := newFixture(t)
	const file = `- type: redis
  description: The shared Redis.
  expected_outputs: [host, password]
  secrets: [password]
  outputs: |
    host: redis.platform
    password: static-template-credential-91f3
`
	code, data := f.do(globalAdmin, "PUT", "/api/v1/envs/staging/provisioners", apiv1.SetProvisioners{Name: "platform.yaml", Content: file})
	if code != 200 {
		t.Fatalf("set: %d %s", code, data)
	}
	var set apiv1.ProvisionerFile
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	if set.Version != 2 || len(set.Types) != 1 || set.Types[0].Type != "redis" || set.Types[0].Secrets[0] != "password" {
		t.Errorf("set = %+v", set)
	}

	// A bad template: 400, positioned, and no version 2.
	bad := "- type: redis\n  outputs: |\n    host: {{ .Params.host \n"
	code, data = f.do(globalAdmin, "PUT", "/api/v1/envs/staging/provisioners", apiv1.SetProvisioners{Name: "platform.yaml", Content: bad})
	if code != 400 || !strings.Contains(string(data), "platform.yaml:3:5: [0].outputs: template: unclosed action") {
		t.Errorf("bad template: %d %s", code, data)
	}
	// Only global admins set; a team admin is denied.
	if code, data := f.do(teamAdmin, "PUT", "/api/v1/envs/staging/provisioners", apiv1.SetProvisioners{Content: file}); code != 403 {
		t.Errorf("team admin set: %d %s", code, data)
	}
	// Unknown environment.
	if code, data := f.do(globalAdmin, "PUT", "/api/v1/envs/nope/provisioners", apiv1.SetProvisioners{Content: file}); code != 404 {
		t.Errorf("unknown env: %d %s", code, data)
	}

	code, data = f.do(ownViewer, "GET", "/api/v1/envs/staging/provisioners", nil)
	var got apiv1.ProvisionerFile
	if code != 200 || json.Unmarshal(data, &got) != nil || got.Version != 2 || got.Content != file || got.CreatedBy == "" {
		t.Errorf("get: %d %s", code, data)
	}
	code, data = f.do(ownViewer, "GET", "/api/v1/envs/staging/provisioners/history", nil)
	var hist apiv1.List[apiv1.ProvisionerFile]
	if code != 200 || json.Unmarshal(data, &hist) != nil || len(hist.Items) != 2 || hist.Items[0].Version != 2 || hist.Items[0].Content != "" {
		t.Errorf("history: %d %s", code, data)
	}
	if code, data := f.do(ownViewer, "GET", "/api/v1/envs/staging/provisioners?version=0", nil); code != 400 {
		t.Errorf("version=0: %d %s", code, data)
	}
	if code, data := f.do(ownViewer, "GET", "/api/v1/envs/old/provisioners", nil); code != 404 {
		t.Errorf("no file: %d %s", code, data)
	}

	code, data = f.do(globalAdmin, "GET", "/api/v1/audit?limit=20", nil)
	if code != 200 || !strings.Contains(string(data), `"provisioners.set"`) {
		t.Fatalf("audit: %d %s", code, data)
	}
	if strings.Contains(string(data), "static-template-credential") || strings.Contains(string(data), "redis.platform") {
		t.Errorf("the audit log carries the file's content: %s", data)
	}
}
