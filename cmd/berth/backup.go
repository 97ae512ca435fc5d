package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/backup"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/objstore"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// backupStores opens backup stores by name: the server's directory for "default", else
// the store's configuration and secret from the store.
type backupStores struct {
	st  *store.Store
	dir string
}

func (b backupStores) Open(ctx context.Context, name string) (backup.Objects, error) {
	if name == berth.DefaultBackupStore {
		return objstore.NewDir(b.dir)
	}
	s, secret, err := b.st.BackupStore(ctx, name)
	if err != nil {
		return nil, err
	}
	return openStore(s, secret)
}

// Check opens s and writes, reads and deletes a probe object: the service's check of a
// store before it is saved.
func (backupStores) Check(ctx context.Context, s berth.BackupStore, secret string) error {
	objects, err := openStore(s, secret)
	if err != nil {
		return err
	}
	return objects.(interface{ Check(context.Context) error }).Check(ctx)
}

func openStore(s berth.BackupStore, secret string) (backup.Objects, error) {
	switch s.Kind {
	case berth.BackupStoreDir:
		return objstore.NewDir(s.Dir)
	case berth.BackupStoreS3:
		return objstore.NewS3(objstore.S3Config{Endpoint: s.Endpoint, Secure: s.Secure, Bucket: s.Bucket, Prefix: s.Prefix,
			Region: s.Region, AccessKey: s.AccessKey, SecretKey: secret})
	}
	return nil, fmt.Errorf("backup store %s: unknown kind %q", s.Name, s.Kind)
}

// backupKey is the key that seals backups: --backup-key-file or BERTH_BACKUP_KEY, else
// backup.key in the data directory, made on first start (and said so in the log).
func backupKey(o *cli.ServerOptions, log *slog.Logger) (*seal.Key, error) {
	key, err := seal.Load(o.BackupKeyFile, o.BackupKey)
	if err != nil {
		return nil, fmt.Errorf("backup key: %w", err)
	}
	if key == nil {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("backup key: %w", err)
		}
		file := filepath.Join(o.DataDir, "backup.key")
		var created bool
		if key, created, err = seal.LoadOrCreate(file); err != nil {
			return nil, fmt.Errorf("backup key: %w", err)
		}
		if created {
			log.Warn("generated a backup key: keep a copy of it apart from the backups, or restores will be impossible",
				"file", file, "key_id", key.ID())
		}
	}
	return key.Named("backup"), nil
}

// backupDir is the default store's directory: --backup-dir, else backups in the data
// directory.
func backupDir(o *cli.ServerOptions) string {
	if o.BackupDir != "" {
		return o.BackupDir
	}
	return filepath.Join(o.DataDir, "backups")
}
