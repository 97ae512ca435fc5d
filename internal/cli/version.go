package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/buildinfo"
)

// VersionOptions are the inputs of `berth version`.
type VersionOptions struct {
	IO     *IOStreams
	Output string
}

// NewCmdVersion returns `berth version`.
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	o := &VersionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of berth",
		Example: `  berth version
  berth version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return versionRun(o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func versionRun(o *VersionOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	info := buildinfo.Get()
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, info)
	}
	fmt.Fprintf(o.IO.Out, "berth %s", info.Version)
	if info.Commit != "" {
		fmt.Fprintf(o.IO.Out, " (%s)", info.Commit)
	}
	fmt.Fprintf(o.IO.Out, " %s %s\n", info.GoVersion, info.Platform)
	return nil
}
