package provision

import (
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

// OfflineOptions are what `berth render` knows of the environment without a server.
type OfflineOptions struct {
	Env          berth.Environment // Name, NamespaceTemplate, BaseDomain, StorageClass
	Team         string            // for a manifest that names none (a Score file)
	File         *File             // the platform's provisioner file, if given
	FileName     string
	NamespaceFor func(team, app string) string // nil: Env's namespace template
}

// Offline provisions m's resources as a deploy to opts.Env would, without a server, for
// `berth render`: service, dns, route and volume fully, types the file provides by running
// its templates (with no earlier state), and the rest — postgres, whose database only a
// server makes, and types nothing provisions — as clearly marked placeholders.
func Offline(m *manifest.Manifest, ropts manifest.RenderOptions, opts OfflineOptions) (*Resolver, error) {
	ns := opts.NamespaceFor
	if ns == nil {
		ns = opts.Env.Namespace
	}
	team := m.Metadata.Team
	if team == "" {
		team = opts.Team // a Score file names none
	}
	env := Env{Name: opts.Env.Name, Team: team, App: m.Metadata.Name, BaseDomain: opts.Env.BaseDomain,
		StorageClass: opts.Env.StorageClass, Service: m.ForEnv(ropts.SectionEnv()).Service,
		Locate: func(team, app string) Location { return Location{Env: opts.Env.Name, Namespace: ns(team, app)} }}
	namespace := ropts.Namespace
	if namespace == "" {
		namespace = ns(team, m.Metadata.Name)
	}
	return Walk(m, ropts, func(name string, decl *manifest.Resource) (*Outcome, string, error) {
		if opts.File != nil {
			if p, err := opts.File.Match(decl.Type, decl.Class, decl.ID); err == nil {
				res, err := p.Provision(NewInput(opts.Env.Name, team, m.Metadata.Name, name, decl, namespace, nil))
				if err != nil {
					return nil, "", fmt.Errorf("resources.%s: %w", name, err)
				}
				out, err := FromResult(p.URI, res)
				return out, "", err
			}
		}
		out, ok, err := Builtin(env, name, decl, "")
		if ok {
			if err != nil {
				return nil, "", fmt.Errorf("resources.%s: %w", name, err)
			}
			return out, "", nil
		}
		return &Outcome{Provisioner: "offline", Placeholder: true, Outputs: map[string]string{}}, "", nil
	})
}
