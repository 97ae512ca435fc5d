package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/apiclient"
)

// Config is what `berth login` saves: which server to talk to, with which token.
type Config struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

// configPath is $BERTH_CONFIG, else berth/config.json in the user's config directory.
func configPath() (string, error) {
	if p := os.Getenv("BERTH_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w (set BERTH_CONFIG)", err)
	}
	return filepath.Join(dir, "berth", "config.json"), nil
}

// loadConfig reads the login saved in path; BERTH_SERVER and BERTH_TOKEN override it.
func loadConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, err
	default:
		if err := json.Unmarshal(data, &c); err != nil {
			return c, fmt.Errorf("%s is not valid JSON (%v): run `berth login` again", path, err)
		}
	}
	// The environment wins, for CI jobs that never log in.
	if v := os.Getenv("BERTH_SERVER"); v != "" {
		c.Server = v
	}
	if v := os.Getenv("BERTH_TOKEN"); v != "" {
		c.Token = v
	}
	return c, nil
}

// saveConfig writes the config with mode 0600: it holds a token.
func saveConfig(path string, c Config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loginClient returns an API client from the login saved in the file configPath names
// (or BERTH_SERVER and BERTH_TOKEN).
func loginClient(configPath func() (string, error)) (*apiclient.Client, error) {
	path, err := configPath()
	if err != nil {
		return nil, err
	}
	c, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	if c.Server == "" || c.Token == "" {
		return nil, errors.New("not logged in: run `berth login --server URL --token TOKEN` (or set BERTH_SERVER and BERTH_TOKEN)")
	}
	return apiclient.New(c.Server, c.Token)
}
