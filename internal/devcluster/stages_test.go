package devcluster

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The stages file kwok reads holds kwok's Stages and every one of Berth's, each a Stage
// with a unique name and a selector on the image Berth's tests use.
func TestWriteStagesAddsBerthStages(t *testing.T) {
	src := t.TempDir()
	kwokStage := "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: pod-ready\n"
	if err := os.WriteFile(filepath.Join(src, "pod-ready.yaml"), []byte(kwokStage), 0o644); err != nil {
		t.Fatal(err)
	}
	dst, err := writeStages(src, filepath.Join(t.TempDir(), "stages.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Weight   int `json:"weight"`
			Selector struct {
				MatchExpressions []struct {
					Key string `json:"key"`
				} `json:"matchExpressions"`
			} `json:"selector"`
		} `json:"spec"`
	}
	seen := map[string]bool{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---")))) == 0 {
			continue
		}
		var s stage
		if err := yaml.Unmarshal(doc, &s); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if s.Kind != "Stage" || seen[s.Metadata.Name] {
			t.Errorf("stage %q: kind %q, seen before: %v", s.Metadata.Name, s.Kind, seen[s.Metadata.Name])
		}
		seen[s.Metadata.Name] = true
		if !strings.HasPrefix(s.Metadata.Name, "berth-") {
			continue
		}
		var image bool
		for _, e := range s.Spec.Selector.MatchExpressions {
			image = image || strings.Contains(e.Key, `startswith("registry.berth.test/`)
		}
		// Without a positive weight, kwok's pod-ready stage would sometimes win.
		if !image || s.Spec.Weight <= 0 {
			t.Errorf("stage %s: selects by image %v, weight %d", s.Metadata.Name, image, s.Spec.Weight)
		}
	}
	for _, name := range []string{"pod-ready", "berth-pod-crash-loop", "berth-pod-image-pull-backoff", "berth-pod-never-ready"} {
		if !seen[name] {
			t.Errorf("stage %s missing from %s", name, dst)
		}
	}
}
