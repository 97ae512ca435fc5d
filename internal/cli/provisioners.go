package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
)

// NewCmdProvisioners returns `berth provisioners`.
func NewCmdProvisioners(f *Factory) *cobra.Command {
	return group("provisioners", "Manage an environment's platform provisioners: resource types Berth does not provision itself",
		NewCmdProvisionersSet(f, nil), NewCmdProvisionersShow(f, nil), NewCmdProvisionersList(f, nil))
}

// ProvisionersOptions are the inputs of `berth provisioners set|show|list`.
type ProvisionersOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	File      string
	Version   int64
	Output    string
}

// NewCmdProvisionersSet returns `berth provisioners set`.
func NewCmdProvisionersSet(f *Factory, runF func(*ProvisionersOptions) error) *cobra.Command {
	o := &ProvisionersOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "set --env ENV -f FILE",
		Short: "Check a provisioner file and make it the environment's (global admins)",
		Long: `Stores FILE as the next version of the environment's provisioner file. The file is a
YAML list in the format of score-k8s's template provisioners (type, class, id, init, state,
shared, outputs, manifests, expected_outputs, supported_params), plus secrets: the outputs
that are secret. The server checks it first: any problem refuses the whole file and is
reported at FILE:LINE:COLUMN. Earlier versions are kept (berth provisioners list).`,
		Example: `  berth provisioners set --env staging -f platform/provisioners.yaml
  cat provisioners.yaml | berth provisioners set --env staging -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return provisionersSetRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "the environment (required)")
	cmd.Flags().StringVarP(&o.File, "file", "f", "", "the provisioner file, - for standard input (required)")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("file")
	bindOutput(cmd, &o.Output)
	return cmd
}

func provisionersSetRun(ctx context.Context, o *ProvisionersOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	name, data, err := readProvisionerFile(o.IO.In, o.File)
	if err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	f, err := c.SetProvisioners(ctx, o.Env, apiv1.SetProvisioners{Name: name, Content: string(data)})
	if err != nil {
		return err
	}
	if o.Output != "table" {
		f.Content = ""
		return printData(o.IO.Out, o.Output, f)
	}
	fmt.Fprintf(o.IO.Out, "environment %s: provisioner file version %d (%s)\n", f.Env, f.Version, typesText(f.Types))
	return nil
}

// NewCmdProvisionersShow returns `berth provisioners show`.
func NewCmdProvisionersShow(f *Factory, runF func(*ProvisionersOptions) error) *cobra.Command {
	o := &ProvisionersOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "show --env ENV",
		Short: "Show what an environment's provisioner file offers, and the file",
		Example: `  berth provisioners show --env staging
  berth provisioners show --env staging --version 3 -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return provisionersShowRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "the environment (required)")
	cmd.Flags().Int64Var(&o.Version, "version", 0, "a version of the file (default: the newest)")
	_ = cmd.MarkFlagRequired("env")
	bindOutput(cmd, &o.Output)
	return cmd
}

func provisionersShowRun(ctx context.Context, o *ProvisionersOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	f, err := c.Provisioners(ctx, o.Env, o.Version)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, f)
	}
	fmt.Fprintf(o.IO.Out, "environment %s, provisioner file version %d, set by %s %s\n\n", f.Env, f.Version, f.CreatedBy, ago(o.IO, f.CreatedAt))
	if err := printList(o.IO, "table", f.Types, []string{"TYPE", "CLASS", "ID", "OUTPUTS", "SECRET", "DESCRIPTION"},
		func(p apiv1.Provisioner) []string {
			return []string{p.Type, orDash(p.Class), orDash(p.ID), orDash(strings.Join(p.ExpectedOutputs, ",")),
				orDash(strings.Join(p.Secrets, ",")), orDash(p.Description)}
		}); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "\n%s", f.Content)
	return nil
}

// NewCmdProvisionersList returns `berth provisioners list`.
func NewCmdProvisionersList(f *Factory, runF func(*ProvisionersOptions) error) *cobra.Command {
	o := &ProvisionersOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list --env ENV", Short: "List the versions of an environment's provisioner file", Aliases: []string{"ls"},
		Example: "  berth provisioners list --env staging", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return provisionersListRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "the environment (required)")
	_ = cmd.MarkFlagRequired("env")
	bindOutput(cmd, &o.Output)
	return cmd
}

func provisionersListRun(ctx context.Context, o *ProvisionersOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	fs, err := c.ProvisionerHistory(ctx, o.Env)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, fs, []string{"VERSION", "SET BY", "SET"}, func(f apiv1.ProvisionerFile) []string {
		return []string{strconv.FormatInt(f.Version, 10), f.CreatedBy, ago(o.IO, f.CreatedAt)}
	})
}

func typesText(ps []apiv1.Provisioner) string {
	if len(ps) == 0 {
		return "provisions nothing"
	}
	var out []string
	for _, p := range ps {
		t := p.Type
		if p.Class != "" {
			t += "/" + p.Class
		}
		out = append(out, t)
	}
	return "provisions " + strings.Join(out, ", ")
}

// readProvisionerFile reads a provisioner file (- for in), bounded, and returns its name for
// messages.
func readProvisionerFile(in io.Reader, file string) (string, []byte, error) {
	r, name := in, "provisioners.yaml"
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return "", nil, err
		}
		defer fh.Close()
		r, name = fh, filepath.Base(file)
	}
	data, err := io.ReadAll(io.LimitReader(r, berth.MaxProvisionerFileSize+1))
	if err != nil {
		return "", nil, err
	}
	if len(data) > berth.MaxProvisionerFileSize {
		return "", nil, fmt.Errorf("%s: over %d bytes, the limit of a provisioner file", name, berth.MaxProvisionerFileSize)
	}
	return name, data, nil
}
