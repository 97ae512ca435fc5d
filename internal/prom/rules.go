// Package prom is Berth's side of a Prometheus server: the rule files of apps' alerts
// written where it loads them (RuleDir), the scrape configuration that finds apps' pods
// and the kubelet's container metrics (ScrapeConfigs), and the golden signals read back
// through its HTTP API (Signals).
package prom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// RuleDir writes each app's rule file into a directory a Prometheus loads (its
// configuration's rule_files: DIR/*.rules.yaml), as ENV.NAMESPACE.APP.rules.yaml, and
// asks that Prometheus to reload when ReloadURL is set.
type RuleDir struct {
	Dir string
	// ReloadURL is the Prometheus's base URL (http://127.0.0.1:9090), started with
	// --web.enable-lifecycle; "" leaves reloading to it (a SIGHUP, or its own schedule).
	ReloadURL string
	// Client makes the reload request; nil is a client with a 10 s timeout.
	Client *http.Client
}

// RuleFileSuffix ends every rule file RuleDir writes: what rule_files globs.
const RuleFileSuffix = ".rules.yaml"

// RuleFileName is the name of the rule file of app in namespace of env.
func RuleFileName(env, namespace, app string) string {
	return env + "." + namespace + "." + app + RuleFileSuffix
}

// Put writes (or, for empty rules, removes) the rule file of app in namespace of env
// atomically, then reloads Prometheus, also when the file was already so: an earlier
// reload may have failed. When Prometheus refuses the new file, the one before is put back
// (and Prometheus reloaded with it), so that one app's bad rules never stop the others'
// from loading, nor Prometheus from starting again.
func (d RuleDir) Put(ctx context.Context, env berth.Environment, namespace, app string, rules []byte) error {
	for _, part := range []string{env.Name, namespace, app} {
		if part == "" || strings.ContainsAny(part, "/.\\") {
			return fmt.Errorf("alert rules of %s in %s (namespace %s): invalid name %q", app, env.Name, namespace, part)
		}
	}
	path := filepath.Join(d.Dir, RuleFileName(env.Name, namespace, app))
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	had := err == nil
	if (had && bytes.Equal(old, rules)) || (!had && len(rules) == 0) {
		return d.reload(ctx)
	}
	if err := d.write(path, rules); err != nil {
		return err
	}
	rerr := d.reload(ctx)
	if rerr == nil || len(rules) == 0 {
		return rerr
	}
	if had {
		err = d.write(path, old)
	} else {
		err = d.write(path, nil)
	}
	if err == nil {
		err = d.reload(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w; and putting back the rules before: %v", rerr, err)
	}
	return fmt.Errorf("%w; the rules before stay", rerr)
}

// write makes path hold data atomically; no data removes it.
func (d RuleDir) write(path string, data []byte) error {
	if len(data) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.Dir, ".rules-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Remove removes the rule file of app in namespace of env, as Put with no rules does: for
// an app removed from env.
func (d RuleDir) Remove(ctx context.Context, env berth.Environment, namespace, app string) error {
	return d.Put(ctx, env, namespace, app, nil)
}

// redacted is raw, a URL, with any password in it replaced, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// maxReloadAnswer bounds what is read of the reload's answer (its error message).
const maxReloadAnswer = 4 << 10

func (d RuleDir) reload(ctx context.Context) error {
	if d.ReloadURL == "" {
		return nil
	}
	c := d.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(d.ReloadURL, "/")+"/-/reload", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("reload Prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReloadAnswer))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload Prometheus at %s: %s: %s", redacted(d.ReloadURL), resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Sync makes the rule files of env in the directory be files, by namespace and app (the
// rules ConfigMaps on env's cluster: kube's RuleConfigMaps): it writes what is missing or
// different, removes env's files that are not in files, and reloads Prometheus once when
// it changed anything. What deploys write as they go is so made whole again: a directory
// added or lost since, an app deleted while its workloads were kept, a namespace renamed.
// It returns how many files it wrote and removed.
func (d RuleDir) Sync(ctx context.Context, env berth.Environment, files map[[2]string][]byte) (wrote, removed int, err error) {
	if env.Name == "" || strings.ContainsAny(env.Name, "/.\\") {
		return 0, 0, fmt.Errorf("alert rules of environment %q: invalid name", env.Name)
	}
	want := map[string][]byte{}
	for key, data := range files {
		ns, app := key[0], key[1]
		if ns == "" || app == "" || strings.ContainsAny(ns+app, "/.\\") {
			continue // not a name Berth renders; Put would refuse it too
		}
		want[RuleFileName(env.Name, ns, app)] = data
	}
	entries, err := os.ReadDir(d.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, env.Name+".") || !strings.HasSuffix(name, RuleFileSuffix) {
			continue
		}
		if strings.Count(strings.TrimSuffix(name, RuleFileSuffix), ".") != 2 {
			continue // ENV.NAMESPACE.APP: not env's if ENV is a prefix of another's name
		}
		if _, ok := want[name]; ok {
			continue
		}
		if err := d.write(filepath.Join(d.Dir, name), nil); err != nil {
			return wrote, removed, err
		}
		removed++
	}
	for name, data := range want {
		path := filepath.Join(d.Dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := d.write(path, data); err != nil {
			return wrote, removed, err
		}
		wrote++
	}
	if wrote+removed == 0 {
		return 0, 0, nil
	}
	return wrote, removed, d.reload(ctx)
}
