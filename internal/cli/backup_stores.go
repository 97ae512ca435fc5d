package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
)

// NewCmdBackupStores returns `berth backup-stores`.
func NewCmdBackupStores(f *Factory) *cobra.Command {
	cmd := group("backup-stores", "Manage where backups go: directories on the server's machine, S3-compatible buckets",
		NewCmdBackupStoresSet(f, nil), NewCmdBackupStoresList(f, nil), NewCmdBackupStoresDelete(f, nil))
	cmd.Long = `A backup store is where backups go: a directory on the server's machine, or a bucket of an
S3-compatible object store. An environment's backups go to the store berth envs
set-backup-store names, or to the server's own directory (the store "default",
berth server --backup-dir). Backups are sealed before they leave the server.`
	cmd.Example = `  berth backup-stores set offsite --s3-endpoint s3.eu-west-1.amazonaws.com --secure --bucket acme-backups \
    --access-key AKIA... --secret-key-file s3.secret
  berth envs set-backup-store production offsite`
	return cmd
}

// BackupStoresSetOptions are the inputs of `berth backup-stores set`.
type BackupStoresSetOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	Dir       string
	Endpoint  string
	Secure    bool
	Bucket    string
	Prefix    string
	Region    string
	AccessKey string
	// SecretKeyFile holds the S3 secret key, or is - for standard input.
	SecretKeyFile string
	Output        string
	Changed       func(flag string) bool
}

// NewCmdBackupStoresSet returns `berth backup-stores set`.
func NewCmdBackupStoresSet(f *Factory, runF func(*BackupStoresSetOptions) error) *cobra.Command {
	o := &BackupStoresSetOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "set NAME (--dir PATH | --s3-endpoint HOST:PORT --bucket B --access-key KEY --secret-key-file FILE " +
			"[--prefix P] [--region R] [--secure])",
		Short: "Create or replace a backup store (global admins)",
		Long: `Creates the backup store NAME, or replaces it: --dir, an absolute path on the server's
machine, or an S3-compatible bucket at --s3-endpoint (host:port, over TLS with --secure)
under --prefix. The server checks it can write there before saving it.

The S3 secret key is read from --secret-key-file (- for standard input), never from a
flag's value: it travels in the request body, is sealed like secrets, and is never shown
again. Backups made to a store stay there when it is replaced; point environments at a
store with berth envs set-backup-store.`,
		Example: `  berth backup-stores set local --dir /var/backups/berth
  berth backup-stores set offsite --s3-endpoint s3.eu-west-1.amazonaws.com --secure --region eu-west-1 \
    --bucket acme-backups --prefix berth --access-key AKIAIOSFODNN7EXAMPLE --secret-key-file s3.secret
  pass show s3/minio | berth backup-stores set minio --s3-endpoint 127.0.0.1:9000 --bucket backups \
    --access-key berth --secret-key-file -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return backupStoresSetRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", "", "a directory on the server's machine, absolute (or --s3-endpoint)")
	fl.StringVar(&o.Endpoint, "s3-endpoint", "", "the S3 server's host:port, such as s3.eu-west-1.amazonaws.com or 127.0.0.1:9000")
	fl.BoolVar(&o.Secure, "secure", false, "reach the S3 server over TLS (https)")
	fl.StringVar(&o.Bucket, "bucket", "", "the bucket (required with --s3-endpoint)")
	fl.StringVar(&o.Prefix, "prefix", "", "where in the bucket backups go, such as berth/")
	fl.StringVar(&o.Region, "region", "", "the bucket's region, such as eu-west-1")
	fl.StringVar(&o.AccessKey, "access-key", "", "the S3 access key (required with --s3-endpoint)")
	fl.StringVar(&o.SecretKeyFile, "secret-key-file", "", "file holding the S3 secret key, or - for standard input (required with --s3-endpoint)")
	bindOutput(cmd, &o.Output)
	o.Changed = fl.Changed
	return cmd
}

func backupStoresSetRun(ctx context.Context, o *BackupStoresSetOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	in := apiv1.SetBackupStore{Dir: o.Dir, Endpoint: o.Endpoint, Secure: o.Secure, Bucket: o.Bucket, Prefix: o.Prefix, Region: o.Region,
		AccessKey: o.AccessKey}
	switch {
	case (o.Dir == "") == (o.Endpoint == ""):
		return &UsageError{Err: errors.New("give one of --dir PATH (a directory on the server's machine) or --s3-endpoint HOST:PORT (an S3-compatible bucket)")}
	case o.Dir != "":
		for _, s3 := range []string{"secure", "bucket", "prefix", "region", "access-key", "secret-key-file"} {
			if o.Changed(s3) {
				return &UsageError{Err: fmt.Errorf("--%s is for an S3 store: a directory store takes only --dir", s3)}
			}
		}
		in.Kind = string(berth.BackupStoreDir)
	default:
		if err := need([3]string{"bucket", o.Bucket, "the bucket backups go to"},
			[3]string{"access-key", o.AccessKey, "the S3 access key"},
			[3]string{"secret-key-file", o.SecretKeyFile, "a file holding the S3 secret key, or - for standard input"}); err != nil {
			return err
		}
		secret, err := readToken(o.IO, o.SecretKeyFile)
		if err != nil {
			return err
		}
		in.Kind, in.SecretKey = string(berth.BackupStoreS3), secret
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	s, err := c.SetBackupStore(ctx, o.Name, in)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, s)
	}
	line := fmt.Sprintf("backup store %s: %s", s.Name, storeWhere(s))
	if s.Kind == string(berth.BackupStoreS3) {
		line += fmt.Sprintf(" (access key %s; the secret key is sealed and never shown again)", s.AccessKey)
	}
	fmt.Fprintln(o.IO.Out, line)
	fmt.Fprintf(o.IO.ErrOut, "berth envs set-backup-store ENV %s sends an environment's backups there\n", s.Name)
	return nil
}

// storeWhere says where a store keeps backups.
func storeWhere(s apiv1.BackupStore) string {
	return berth.BackupStore{Kind: berth.BackupStoreKind(s.Kind), Dir: s.Dir, Endpoint: s.Endpoint, Secure: s.Secure, Bucket: s.Bucket,
		Prefix: s.Prefix}.String()
}

// BackupStoresListOptions are the inputs of `berth backup-stores list`.
type BackupStoresListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdBackupStoresList returns `berth backup-stores list`.
func NewCmdBackupStoresList(f *Factory, runF func(*BackupStoresListOptions) error) *cobra.Command {
	o := &BackupStoresListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List the backup stores, without their secrets",
		Example: "  berth backup-stores list\n  berth backup-stores list -o json", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupStoresListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupStoresListRun(ctx context.Context, o *BackupStoresListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ss, err := c.BackupStores(ctx)
	if err != nil {
		return err
	}
	if len(ss) == 0 && o.Output == "table" {
		fmt.Fprintln(o.IO.ErrOut, "no backup stores yet: backups go to the server's own directory (the store default); berth backup-stores set NAME makes one")
		return nil
	}
	return printList(o.IO, o.Output, ss, []string{"NAME", "KIND", "WHERE", "REGION", "ACCESS KEY", "UPDATED"}, func(s apiv1.BackupStore) []string {
		return []string{s.Name, s.Kind, storeWhere(s), orDash(s.Region), orDash(s.AccessKey), ago(o.IO, s.UpdatedAt)}
	})
}

// BackupStoresDeleteOptions are the inputs of `berth backup-stores delete`.
type BackupStoresDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdBackupStoresDelete returns `berth backup-stores delete`.
func NewCmdBackupStoresDelete(f *Factory, runF func(*BackupStoresDeleteOptions) error) *cobra.Command {
	o := &BackupStoresDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a backup store no environment uses and no kept backup is in (global admins)",
		Long: `Deletes the backup store NAME from Berth; what it holds is not touched. A store an
environment's backups go to, or that holds backups retention keeps, is refused: point the
environments elsewhere (berth envs set-backup-store ENV default) and let the backups be
pruned first.`,
		Example: "  berth backup-stores delete offsite",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			c, err := o.APIClient()
			if err != nil {
				return err
			}
			if err := c.DeleteBackupStore(cmd.Context(), o.Name); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "deleted backup store %s\n", o.Name)
			return nil
		},
	}
	return cmd
}

// EnvsSetBackupStoreOptions are the inputs of `berth envs set-backup-store`.
type EnvsSetBackupStoreOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Store     string
}

// NewCmdEnvsSetBackupStore returns `berth envs set-backup-store`.
func NewCmdEnvsSetBackupStore(f *Factory, runF func(*EnvsSetBackupStoreOptions) error) *cobra.Command {
	o := &EnvsSetBackupStoreOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "set-backup-store ENV STORE",
		Short: "Send an environment's backups to a backup store (global admins)",
		Long: `Makes the environment's backups go to the backup store STORE (berth backup-stores list), or
to the server's own directory for default. Backups made before stay where they are, and
restore from there.`,
		Example: "  berth envs set-backup-store production offsite\n  berth envs set-backup-store production default",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env, o.Store = args[0], args[1]
			if runF != nil {
				return runF(o)
			}
			c, err := o.APIClient()
			if err != nil {
				return err
			}
			if err := c.SetEnvBackupStore(cmd.Context(), o.Env, o.Store); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "environment %s: backups go to backup store %s from now on; those made before stay where they are\n", o.Env, o.Store)
			return nil
		},
	}
	return cmd
}
