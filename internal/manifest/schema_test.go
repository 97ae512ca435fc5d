package manifest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaMatchesParser checks that docs/berth.schema.json describes
// exactly the fields the parser accepts, so the two cannot drift apart.
func TestSchemaMatchesParser(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "berth.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Definitions map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(fieldSets)) {
		t.Run(name, func(t *testing.T) {
			def, ok := schema.Definitions[name]
			if !ok {
				t.Fatalf("schema has no definitions.%s", name)
			}
			want := slices.Sorted(slices.Values(fieldSets[name].fields))
			got := slices.Sorted(maps.Keys(def.Properties))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("definitions.%s.properties differ from the parser's fields (-parser +schema):\n%s", name, diff)
			}
		})
	}
	for name, def := range schema.Definitions {
		if _, ok := fieldSets[name]; !ok && len(def.Properties) > 0 {
			t.Errorf("schema definitions.%s has properties but the parser has no such field set", name)
		}
	}
}
