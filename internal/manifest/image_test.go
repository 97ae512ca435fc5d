package manifest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/internal/manifest"
)

// TestRenderChecksExpandedImages checks images with placeholders, which
// Parse can't check, once Render has expanded them.
func TestRenderChecksExpandedImages(t *testing.T) {
	m := mustParse(t, `apiVersion: berth.dev/v1
metadata: {name: app}
args: {team: core, tag: "1"}
containers:
  web:
    image: registry.example.com/${args.team}/app:${args.tag}
environments:
  prod:
    containers:
      web: {image: "registry.example.com/${args.team}:${args.tag}"}
`)
	tests := []struct {
		env  string
		set  map[string]string
		want string // "" for a valid image
	}{
		{env: "dev"},
		{env: "prod"},
		{env: "dev", set: map[string]string{"team": "Core"},
			want: `berth.yaml:6:12: containers.web.image: "registry.example.com/Core/app:1" (from "registry.example.com/${args.team}/app:${args.tag}") is not a valid image reference: repository name must be lowercase (did you mean "registry.example.com/core/app:1"?)`},
		{env: "dev", set: map[string]string{"tag": "1; rm -rf /"},
			want: `berth.yaml:6:12: containers.web.image: "registry.example.com/core/app:1; rm -rf /" (from "registry.example.com/${args.team}/app:${args.tag}") is not a valid image reference: character ";" is not allowed (an image is [host[:port]/]path[:tag][@digest], the path in lowercase, e.g. registry.example.com/team/app:1.2.3)`},
		{env: "dev", set: map[string]string{"tag": ""},
			want: `berth.yaml:6:12: containers.web.image: "registry.example.com/core/app:" (from "registry.example.com/${args.team}/app:${args.tag}") is not a valid image reference: the tag after : must be 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'`},
		{env: "prod", set: map[string]string{"team": "-x"},
			want: `berth.yaml:10:20: environments.prod.containers.web.image: "registry.example.com/-x:1" (from "registry.example.com/${args.team}:${args.tag}") is not a valid image reference: invalid reference format (an image is [host[:port]/]path[:tag][@digest], the path in lowercase, e.g. registry.example.com/team/app:1.2.3)`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.env, tt.set), func(t *testing.T) {
			objs, err := manifest.Render(m, manifest.RenderOptions{Env: tt.env, Set: tt.set})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := deployment(t, objs).Spec.Template.Spec.Containers[0].Image; got == "" {
					t.Error("no image rendered")
				}
				return
			}
			if !errors.As(err, new(*manifest.Errors)) || err.Error() != tt.want {
				t.Errorf("Render() error = %v\nwant %s", err, tt.want)
			}
		})
	}
}
