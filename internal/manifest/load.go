package manifest

import (
	"errors"
	"os"
	"path/filepath"
)

// LoadFile reads and parses the manifest at path, then reads the files its
// containers take from a source path, relative to the manifest, into their
// content. Render never reads files itself, so it stays pure.
func LoadFile(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(filepath.Base(path), data)
	if err != nil {
		return nil, err
	}
	errs := &errorList{}
	dir := filepath.Dir(path)
	for _, mm := range append([]*Manifest{m}, envManifests(m)...) {
		for _, c := range mm.Containers {
			for i := range c.Files {
				f := &c.Files[i]
				if f.Source == "" {
					continue
				}
				src := f.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(dir, src)
				}
				b, err := os.ReadFile(src)
				if err != nil {
					if pe := new(os.PathError); errors.As(err, &pe) {
						err = pe.Err
					}
					errs.add(mm.errorAt(f.path+".source", "can't read "+quote(f.Source)+": "+err.Error(), ""))
					continue
				}
				f.Content, f.Source = string(b), ""
			}
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return m, nil
}

func envManifests(m *Manifest) []*Manifest {
	var out []*Manifest
	for _, name := range m.Environments() {
		out = append(out, m.envs[name])
	}
	return out
}
