package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/apiclient"
)

// LoginOptions are the inputs of `berth login`.
type LoginOptions struct {
	IO         *IOStreams
	ConfigPath func() (string, error)
	Server     string
	Token      string
}

// NewCmdLogin returns `berth login`.
func NewCmdLogin(f *Factory, runF func(*LoginOptions) error) *cobra.Command {
	o := &LoginOptions{IO: f.IO, ConfigPath: f.configPath}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save the server URL and API token the other commands use",
		Long: `Checks the token against the server, then saves both in the user config directory
(~/.config/berth/config.json, mode 0600; BERTH_CONFIG moves it). Without --token the token
is read from standard input, or a hidden prompt, so it stays out of shell history.
BERTH_SERVER and BERTH_TOKEN override the saved values.`,
		Example: `  berth login --server http://127.0.0.1:8080
  echo "$TOKEN" | berth login --server https://berth.example.com
  berth login --server http://127.0.0.1:8080 --token berth_...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return loginRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Server, "server", "", "server URL, e.g. http://127.0.0.1:8080")
	cmd.Flags().StringVar(&o.Token, "token", "", "API token (default: read from stdin or a hidden prompt)")
	return cmd
}

func loginRun(ctx context.Context, o *LoginOptions) error {
	if o.Server == "" {
		return &UsageError{Err: errors.New("--server is required, for example --server http://127.0.0.1:8080")}
	}
	if o.Token == "" {
		tok, err := readSecret(o.IO, "API token: ")
		if err != nil {
			return err
		}
		o.Token = tok
	}
	c, err := apiclient.New(o.Server, o.Token)
	if err != nil {
		return &UsageError{Err: err}
	}
	who, err := c.Whoami(ctx)
	if err != nil {
		return fmt.Errorf("log in to %s: %w", o.Server, err)
	}
	path, err := o.ConfigPath()
	if err != nil {
		return err
	}
	if err := saveConfig(path, Config{Server: c.Server(), Token: o.Token}); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "logged in to %s as %s; saved in %s\n", c.Server(), who.User, path)
	return nil
}

// readSecret reads one line from a hidden prompt on a terminal, or from stdin otherwise.
func readSecret(s *IOStreams, prompt string) (string, error) {
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.ErrOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(s.In).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		if err != nil {
			return "", fmt.Errorf("no value on standard input: %w", err)
		}
		return "", errors.New("empty value on standard input")
	}
	return line, nil
}

// WhoamiOptions are the inputs of `berth whoami`.
type WhoamiOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdWhoami returns `berth whoami`.
func NewCmdWhoami(f *Factory, runF func(*WhoamiOptions) error) *cobra.Command {
	o := &WhoamiOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:     "whoami",
		Short:   "Show who the saved token belongs to and its team roles",
		Example: "  berth whoami\n  berth whoami -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return whoamiRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func whoamiRun(ctx context.Context, o *WhoamiOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	who, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, who)
	}
	fmt.Fprintf(o.IO.Out, "%s on %s", who.User, c.Server())
	if who.GlobalAdmin {
		fmt.Fprint(o.IO.Out, " (global admin)")
	}
	fmt.Fprintln(o.IO.Out)
	for team, role := range who.Teams {
		fmt.Fprintf(o.IO.Out, "  %s: %s\n", team, role)
	}
	return nil
}
