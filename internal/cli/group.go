package cli

import "github.com/spf13/cobra"

// The commands that manage the server's resources (teams, users, tokens, apps,
// environments, audit) are thin: parse flags, call one apiclient method, print a table or
// -o json|yaml, or one line.

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subs...)
	return cmd
}
