package cli_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/buildinfo"
	"github.com/berth-dev/berth/internal/cli"
)

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "berth "+buildinfo.Version) {
		t.Fatalf("version: %v %q", err, out)
	}
	out, _, err = run(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Version != buildinfo.Version || info.GoVersion == "" {
		t.Fatalf("version -o json: %v %q", err, out)
	}
}

func TestUsageMistakesAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuchcommand"},
		{"version", "--nosuchflag"},
		{"version", "extra-arg"},
		{"version", "-o", "xml"},
		{"dev", "cluster", "up", "--nodes", "0"},
		{"dev", "cluster", "up", "--apiserver-port", "70000"},
		{"dev", "cluster", "up", "--timeout", "soon"},
		{"config", "set", "NO_VALUE"},
		{"config", "set", "=value"},
		{"config", "set", "A=1", "A=2"},
		{"secrets", "set", "A", "B"},
		{"config", "list", "--resolved", "--app", "web"},
		{"secrets", "list", "-o", "xml"},
		{"deploy", "web", "--env", "staging", "--refresh", "--revision", "3"},
		{"server", "rotate-key"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, err := run(t, args...)
			var ue *cli.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v (%T), want *cli.UsageError", err, err)
			}
		})
	}
}

func TestEveryCommandTeachesByExample(t *testing.T) {
	s, _, _, _ := cli.Test()
	var missing []string
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if c.Runnable() && c.Example == "" {
			missing = append(missing, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(cli.NewRootCmd(&cli.Factory{IO: s}))
	if len(missing) > 0 {
		t.Errorf("commands without an Example in --help: %v", missing)
	}
}
