package service

import (
	"context"
	"strconv"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/provision"
	"github.com/berth-dev/berth/internal/store"
)

// SetProvisioners checks a platform provisioner file (internal/provision) and stores it as
// the next version of the environment's (global admins). A file with any problem is refused
// whole, each problem at its file:line:column, and nothing changes; it returns what was stored
// and the parsed file. The audit event names
// the version and the types the file provisions, never its content (templates may carry
// credentials).
func (s *Service) SetProvisioners(ctx context.Context, p *authz.Principal, env, name string, content []byte) (berth.ProvisionerFile, *provision.File, error) {
	var out berth.ProvisionerFile
	var parsed *provision.File
	c := change{action: "provisioners.set", target: "env/" + env, details: map[string]any{}}
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) error {
		if name == "" {
			name = "provisioners.yaml"
		}
		var err error
		if parsed, err = provision.Parse(name, content); err != nil {
			return invalid("content", "%s", err.Error())
		}
		if out, err = tx.SetProvisionerFile(ctx, env, string(content), p.Name); err != nil {
			return err
		}
		c.details["version"] = out.Version
		c.details["types"] = parsed.Types()
		return nil
	})
	return out, parsed, err
}

// Provisioners returns a version of the environment's provisioner file, the newest when
// version is 0, with what it provisions. Any signed-in user may read it: developers see
// what their resources get.
func (s *Service) Provisioners(ctx context.Context, p *authz.Principal, env string, version int64) (berth.ProvisionerFile, *provision.File, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return berth.ProvisionerFile{}, nil, err
	}
	f, err := s.st.ProvisionerFile(ctx, env, version)
	if err != nil {
		return berth.ProvisionerFile{}, nil, storeErr(err)
	}
	parsed, err := provision.Parse(env+"@"+strconv.FormatInt(f.Version, 10), []byte(f.Content))
	if err != nil {
		return berth.ProvisionerFile{}, nil, err
	}
	return f, parsed, nil
}

// ProvisionerHistory lists the versions of the environment's provisioner file, newest first.
func (s *Service) ProvisionerHistory(ctx context.Context, p *authz.Principal, env string) ([]berth.ProvisionerFile, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return nil, err
	}
	if _, err := s.st.Environment(ctx, env); err != nil {
		return nil, storeErr(err)
	}
	out, err := s.st.ProvisionerFileHistory(ctx, env)
	return out, storeErr(err)
}
