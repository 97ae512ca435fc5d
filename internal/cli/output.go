package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/yaml"
)

// outputFormats are the values every `-o` flag takes.
var outputFormats = []string{"table", "json", "yaml"}

func checkOutput(format string) error {
	if !slices.Contains(outputFormats, format) {
		return &UsageError{Err: fmt.Errorf("invalid output format %q: use one of table, json, yaml", format)}
	}
	return nil
}

// printData writes v as JSON or YAML; table output is each command's own.
func printData(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("printData: unsupported format %q", format)
}
