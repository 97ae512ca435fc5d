package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// post sends a raw JSON body as caller.
func (f *fixture) post(caller, path, body string) (int, apiv1.Error) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.tokens[caller])
	status, data := f.send(req)
	var e apiv1.Error
	_ = json.Unmarshal(data, &e)
	return status, e
}

// Item 6 and 9 of the edges issue: JSON that encoding/json would quietly accept changes
// nothing and gets a 400 saying what is wrong.
func TestJSONBodiesAreReadStrictly(t *testing.T) {
	f := newFixture(t)
	before := f.auditCount()
	for _, tc := range []struct{ name, body, field, msg string }{
		{"invalid UTF-8", "{\"name\":\"del\xffta\"}", "", "not valid UTF-8 (at byte 12)"},
		{"duplicate key", `{"name":"delta","name":"epsilon"}`, "name", "field name appears twice"},
		{"duplicate nested key", `{"name":"delta","x":[{"a":1,"a":2}]}`, "x[0].a", "field x[0].a appears twice"},
	} {
		status, e := f.post(globalAdmin, "/api/v1/teams", tc.body)
		if status != 400 || e.Code != "malformed_json" || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %d %+v, want 400 malformed_json on %q saying %q", tc.name, status, e, tc.field, tc.msg)
		}
	}
	if n := f.auditCount(); n != before {
		t.Errorf("refused bodies wrote %d audit events", n-before)
	}
	if status, _ := f.do(globalAdmin, "GET", "/api/v1/teams/delta", nil); status != 404 {
		t.Errorf("team delta: %d, want 404 (nothing created)", status)
	}
	// The same keys in different objects are fine.
	if status, e := f.post(globalAdmin, "/api/v1/teams", `{"name":"delta"}`); status != 201 {
		t.Errorf("a plain body: %d %+v", status, e)
	}
}

// Item 8: a query the server cannot parse whole is refused, not half applied.
func TestUnparsableQueriesAreRefused(t *testing.T) {
	f := newFixture(t)
	many := strings.Repeat("x=1&", 10_001) + "team=alpha"
	for _, q := range []string{many, "team=%zz"} {
		status, data := f.do(globalAdmin, "GET", "/api/v1/audit?"+q, nil)
		var e apiv1.Error
		if status != 400 || json.Unmarshal(data, &e) != nil || e.Code != "invalid_query" {
			t.Errorf("GET /audit?%.40s...: %d %.200s, want 400 invalid_query", q, status, data)
		}
	}
	if status, _ := f.do(globalAdmin, "GET", "/api/v1/audit?team=alpha", nil); status != 200 {
		t.Errorf("a plain query: %d", status)
	}
}

// Item 7: the verification says how many events it checked.
func TestAuditVerifyCountsEvents(t *testing.T) {
	f := newFixture(t)
	want := f.auditCount()
	status, data := f.do(globalAdmin, "GET", "/api/v1/audit/verify", nil)
	var v apiv1.AuditVerification
	if status != 200 || json.Unmarshal(data, &v) != nil || !v.OK || v.Events != int64(want) || want == 0 {
		t.Errorf("verify: %d %s, want ok with %d events", status, data, want)
	}
}

// Item 10: an expired token is listed as expired, a revoked one as revoked.
func TestTokenStates(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(globalAdmin, "GET", "/api/v1/tokens?user=eve", nil)
	var l apiv1.List[apiv1.Token]
	if status != 200 || json.Unmarshal(data, &l) != nil || len(l.Items) == 0 {
		t.Fatalf("tokens of eve: %d %s", status, data)
	}
	for _, tok := range l.Items {
		if tok.State != "expired" {
			t.Errorf("eve's token %s expired at %v: state %q, want expired", tok.Name, tok.ExpiresAt, tok.State)
		}
	}
	status, data = f.do(globalAdmin, "GET", "/api/v1/tokens", nil)
	if status != 200 || json.Unmarshal(data, &l) != nil || len(l.Items) == 0 || l.Items[0].State != "active" {
		t.Errorf("the admin's own tokens: %d %s, want active", status, data)
	}
}

// Item 12: audit details are JSON values, not Go's formatting of them.
func TestAuditDetailsAreJSON(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	if status != 200 {
		t.Fatalf("audit: %d %s", status, data)
	}
	for _, bad := range []string{"map[", "<nil>", `"[]"`, `"[`} {
		if bytes.Contains(data, []byte(bad)) {
			t.Errorf("audit output holds Go formatting %q:\n%.2000s", bad, data)
		}
	}
	var l struct {
		Items []struct {
			Action  string         `json:"action"`
			Details map[string]any `json:"details"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	typed := false
	for _, ev := range l.Items {
		for _, v := range ev.Details {
			switch v.(type) {
			case float64, []any, bool, map[string]any:
				typed = true
			}
		}
	}
	if !typed {
		t.Errorf("no audit detail is a JSON number, list, bool or object: %.2000s", data)
	}
}
