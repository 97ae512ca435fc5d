package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPIMatchesHandlers checks the document against the live handlers: it lists every
// route and nothing else, and each operation, called as a global admin, answers with the
// documented status and a body that matches the documented schema.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(noToken, "GET", "/api/v1/openapi.json", nil)
	if status != 200 {
		t.Fatalf("openapi.json: %d", status)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}

	var documented, routed []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range f.api.Routes() {
		routed = append(routed, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("documented operations:\n%s\nroutes:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}

	cases := routeCases()
	for _, r := range f.api.Routes() {
		t.Run(r.ID, func(t *testing.T) {
			f := newFixture(t)
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
				Parameters  []struct{ Name, In string }
			}
			if err := json.Unmarshal(doc.Paths[r.Path][strings.ToLower(r.Method)], &op); err != nil {
				t.Fatal(err)
			}
			for _, p := range op.Parameters {
				if p.In == "path" && !strings.Contains(r.Path, "{"+p.Name+"}") {
					t.Errorf("documented path parameter %s not in %s", p.Name, r.Path)
				}
			}
			rc := cases[r.ID]
			path := f.expand(rc.path)
			var b any
			if rc.body != nil {
				b = rc.body(f)
			}
			status, data := f.do(globalAdmin, r.Method, path, b)
			switch {
			case r.ID == "reportProbe": // a probe run's report: the run's token (probes_test.go)
				run, token := f.runningProbe("staging")
				status, data, _ = f.report(run.ID, token, []byte(fmt.Sprintf(
					`{"run": %d, "env": "staging", "steps": [{"name": "dns", "started": "2026-12-07T04:12:00Z", "durationNs": 412000, "ok": true}]}`, run.ID)))
			case !r.Auth: // a webhook: a signed delivery (hooks_test.go)
				status, data = f.delivery("gitea", "push", "openapi-1", giteaPush(f, "refs/heads/main"), f.hookSecret)
			}
			resp, ok := op.Responses[strconv.Itoa(status)]
			if !ok {
				t.Fatalf("status %d is not documented for %s (body %s)", status, r.ID, data)
			}
			var rd struct {
				Content map[string]struct {
					Schema any `json:"schema"`
				} `json:"content"`
			}
			if err := json.Unmarshal(resp, &rd); err != nil {
				t.Fatal(err)
			}
			if _, isStream := rd.Content["text/event-stream"]; isStream {
				if !strings.Contains(string(data), "event: deploy") {
					t.Fatalf("stream of a finished deploy lacks its final event:\n%s", data)
				}
				return
			}
			if c, isNDJSON := rd.Content["application/x-ndjson"]; isNDJSON {
				for line := range strings.Lines(string(data)) {
					var got any
					if err := json.Unmarshal([]byte(line), &got); err != nil {
						t.Fatalf("a line of the stream is not JSON: %v\n%s", err, data)
					}
					if err := validate(c.Schema, got, doc.Components.Schemas, "$"); err != nil {
						t.Fatalf("a line of the stream does not match the documented schema: %v\n%s", err, data)
					}
				}
				return
			}
			c, hasBody := rd.Content["application/json"]
			if status == http.StatusNoContent || !hasBody {
				if len(data) != 0 {
					t.Fatalf("undocumented body: %s", data)
				}
				return
			}
			var got any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, data)
			}
			if err := validate(c.Schema, got, doc.Components.Schemas, "$"); err != nil {
				t.Fatalf("response does not match the documented schema: %v\n%s", err, data)
			}
		})
	}
}

// validate checks v against the subset of JSON Schema the generator emits.
func validate(schema, v any, defs map[string]any, at string) error {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return validate(defs[strings.TrimPrefix(ref, "#/components/schemas/")], v, defs, at)
	}
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range anySlice(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		for k, val := range obj {
			if ps, ok := props[k]; ok {
				if err := validate(ps, val, defs, at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := validate(ap, val, defs, at+"."+k); err != nil {
					return err
				}
			} else if s["additionalProperties"] == false {
				return fmt.Errorf("%s: undocumented property %q", at, k)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		for i, e := range arr {
			if err := validate(s["items"], e, defs, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	}
	return nil
}

func anySlice(v any) []any { s, _ := v.([]any); return s }

// TestHealthAndMetrics checks the unauthenticated endpoints and that requests are counted
// by route and status.
func TestHealthAndMetrics(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, data := f.do(noToken, "GET", path, nil); status != 200 {
			t.Errorf("%s: %d %s", path, status, data)
		}
	}
	f.do(ownViewer, "GET", "/api/v1/teams/alpha", nil)
	f.do(otherViewer, "GET", "/api/v1/teams/alpha", nil)
	status, data := f.do(noToken, "GET", "/metrics", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`berth_http_requests_total{route="GET /api/v1/teams/{team}",status="200"} 1`,
		`berth_http_requests_total{route="GET /api/v1/teams/{team}",status="403"} 1`,
		`berth_http_request_duration_seconds_bucket{route="GET /api/v1/teams/{team}",status="200"`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
