package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// printTable writes rows under an upper-case header, aligned in columns.
func printTable(s *IOStreams, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// printFields writes one record as "label: value" lines, the values aligned.
func printFields(s *IOStreams, rows [][2]string) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 1, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, r[0]+":\t"+r[1])
	}
	return tw.Flush()
}

// ago formats a time for a table: relative in a terminal, RFC 3339 in a pipe.
func ago(s *IOStreams, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if !s.IsTerminal() {
		return t.UTC().Format(time.RFC3339)
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
