package provision_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/provision"
)

// FuzzParseProvision: no file makes Parse or a run panic.
func FuzzParseProvision(f *testing.F) {
	f.Add([]byte(redisFile))
	f.Add([]byte("- type: redis\n  outputs: |\n    {{ range $k, $v := .Params }}{{ $k }}: {{ $v | quote }}\n    {{ end }}"))
	f.Add([]byte("- type: x\n  manifests: \"- {apiVersion: v1, kind: ConfigMap}\"\n  state: \"{{ dig \\\"a\\\" 1 .State }}\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := provision.Parse("p.yaml", data)
		if err != nil {
			return
		}
		for _, p := range file.Provisioners {
			_, _ = p.Provision(provision.Input{Type: p.Type, Guid: "0123456789abcdef", SourceWorkload: "app",
				Params: map[string]any{"size": "small", "list": []any{"a", "b"}}})
		}
	})
}
