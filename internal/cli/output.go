package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
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

// printList writes items as JSON or YAML, or as a table of header and one row per item;
// no items is an empty list, not null.
func printList[T any](s *IOStreams, format string, items []T, header []string, row func(T) []string) error {
	if items == nil {
		items = []T{}
	}
	if format != "table" {
		return printData(s.Out, format, items)
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	return printTable(s, header, rows)
}

// bindOutput adds the -o flag of commands that print data.
func bindOutput(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "table", "output format: table, json or yaml")
}
