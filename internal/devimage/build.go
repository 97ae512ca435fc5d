package devimage

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed parts.
const (
	// User is the user and group the image runs as: distroless's "nonroot".
	User = "65532:65532"
	// BinaryDir holds the binary; the entrypoint is BinaryDir/<last component of the name>.
	BinaryDir = "/app"
	// LabelSource and LabelRevision are the OCI labels of where the source came from.
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
)

// epoch is every timestamp in an image: the same source must give the same digest.
var epoch = time.Unix(0, 0).UTC()

// Options are the inputs of Build.
type Options struct {
	// Dir is the directory of the main package; "" is the working directory. It is built in
	// its own module, as `go build` run there would.
	Dir string
	// Binary, instead of Dir, is a program already built: a static linux executable for
	// Arch (CGO_ENABLED=0), put in the image as it is.
	Binary string
	// Repository and Tag name the image in the registry (see ParseTag).
	Repository string
	Tag        string
	// Registry is where the image goes.
	Registry Registry
	// Arch is the GOARCH to build for; "" is the host's, whose node runs the image.
	Arch string
	// Progress receives a line per step, with how long it took; nil discards them.
	Progress io.Writer
}

// Result is what Build pushed.
type Result struct {
	// Reference is the image as manifests name it: Registry.Name/repository:tag.
	Reference string `json:"reference"`
	// Pushed is where it went: Registry.Addr/repository:tag.
	Pushed string `json:"pushed"`
	// Digest is the manifest's digest, the same for the same source and Go version.
	Digest string `json:"digest"`
	// Size is the bytes a node pulls: manifest, config and the compressed layer.
	Size int64 `json:"size"`
}

// BuildError says `go build` (or `go list`) failed; Output is what the go command printed.
type BuildError struct {
	Dir    string
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("go build in %s failed: %v", e.Dir, e.Err)
	}
	return fmt.Sprintf("go build in %s failed (%v):\n%s", e.Dir, e.Err, out)
}

// NotMainError says the directory holds a package that is not a command.
type NotMainError struct {
	Dir     string
	Package string
}

func (e *NotMainError) Error() string {
	return fmt.Sprintf("%s holds package %s, not a main package: give the directory of a command (package main)", e.Dir, e.Package)
}

// Build compiles the main package in o.Dir into a static linux binary, puts it in a
// one-layer image on an empty base and pushes it to o.Registry. Nothing is pushed unless
// everything before succeeded.
func Build(ctx context.Context, o Options) (*Result, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	if _, _, err := ParseTag(o.Repository + ":" + o.Tag); err != nil {
		return nil, err
	}
	if o.Registry.Addr == "" {
		return nil, errors.New("no registry to push to")
	}
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	var dir string
	var err error
	if o.Binary != "" {
		if o.Dir != "" {
			return nil, errors.New("give a package's directory or a binary, not both")
		}
		if err := checkStatic(o.Binary, arch); err != nil {
			return nil, err
		}
	} else if dir, err = packageDir(o.Dir); err != nil {
		return nil, err
	}
	// Before the compiler's seconds: an unreachable registry fails at once.
	if err := Ping(ctx, o.Registry.Addr); err != nil {
		return nil, err
	}

	start := time.Now()
	name := path.Base(o.Repository)
	binary, labels := o.Binary, map[string]string(nil)
	if binary == "" {
		fmt.Fprintf(progress, "building %s for linux/%s ...\n", cmp.Or(o.Dir, "."), arch)
		tmp, err := os.MkdirTemp("", "berth-image-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		binary = filepath.Join(tmp, name)
		if err := goBuild(ctx, dir, arch, binary); err != nil {
			return nil, err
		}
		labels = sourceLabels(ctx, dir)
	}
	img, err := image(imageOptions{Binary: binary, Name: name, Arch: arch, Labels: labels})
	if err != nil {
		return nil, err
	}
	size, err := imageSize(img)
	if err != nil {
		return nil, err
	}
	verb := "built"
	if o.Binary != "" {
		verb = "packed"
	}
	fmt.Fprintf(progress, "%s %s in %s (%s compressed)\n", verb, name, since(start), formatSize(size))

	start = time.Now()
	pushed := o.Registry.Addr + "/" + o.Repository + ":" + o.Tag
	fmt.Fprintf(progress, "pushing %s ...\n", pushed)
	digest, err := push(ctx, img, pushed)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "pushed %s in %s\n", digest, since(start))
	return &Result{
		Reference: o.Registry.name() + "/" + o.Repository + ":" + o.Tag,
		Pushed:    pushed,
		Digest:    digest,
		Size:      size,
	}, nil
}

// packageDir checks that dir ("" is ".") is a directory and returns it absolute.
func packageDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s does not exist: give the directory of a main package", dir)
	case err != nil:
		return "", err
	case !fi.IsDir():
		return "", fmt.Errorf("%s is not a directory: give the directory of a main package", dir)
	}
	return abs, nil
}

// goBuild compiles the main package in dir into out: static (no cgo), without paths of
// this machine or VCS stamps, stripped.
func goBuild(ctx context.Context, dir, arch, out string) error {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	list := exec.CommandContext(ctx, "go", "list", "-f", "{{.Name}} {{.ImportPath}}", ".")
	list.Dir, list.Env = dir, env
	var stdout, stderr capped
	list.Stdout, list.Stderr = &stdout, &stderr
	if err := list.Run(); err != nil {
		return &BuildError{Dir: dir, Err: err, Output: stderr.String()}
	}
	pkgName, importPath, _ := strings.Cut(strings.TrimSpace(stdout.String()), " ")
	if pkgName != "main" {
		return &NotMainError{Dir: dir, Package: importPath}
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, ".")
	build.Dir, build.Env = dir, env
	var output capped
	build.Stdout, build.Stderr = &output, &output
	if err := build.Run(); err != nil {
		return &BuildError{Dir: dir, Err: err, Output: output.String()}
	}
	return nil
}

// sourceLabels are the OCI labels of the git checkout holding dir, when it is one.
func sourceLabels(ctx context.Context, dir string) map[string]string {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		var out capped
		cmd.Stdout = &out
		err := cmd.Run()
		return strings.TrimSpace(out.String()), err
	}
	labels := map[string]string{}
	rev, err := git("rev-parse", "--verify", "HEAD")
	if err != nil || rev == "" {
		return labels
	}
	// `git diff --quiet` exits 1 when tracked files differ from HEAD.
	if _, err := git("diff", "--quiet", "HEAD", "--"); err != nil {
		rev += "-dirty"
	}
	labels[LabelRevision] = rev
	if remote, err := git("config", "--get", "remote.origin.url"); err == nil && remote != "" {
		labels[LabelSource] = withoutCredentials(remote)
	}
	return labels
}

// withoutCredentials drops the user and password a remote URL may carry: they must not end
// up in an image anyone can pull.
func withoutCredentials(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return remote
	}
	u.User = nil
	return u.String()
}

// imageOptions are the inputs of image.
type imageOptions struct {
	// Binary is the path of the static binary; Name its name in the image.
	Binary string
	Name   string
	// Arch is the GOARCH it was built for.
	Arch   string
	Labels map[string]string
}

// image puts a static binary in a one-layer OCI image on an empty base, run as User. The
// layer is written beside the binary.
func image(o imageOptions) (v1.Image, error) {
	layerPath := o.Binary + ".layer.tar"
	if err := writeLayer(layerPath, o.Binary, o.Name); err != nil {
		return nil, fmt.Errorf("write the image's layer: %w", err)
	}
	// Compressed once, kept in memory for the digest and the push.
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "berth dev image build", Comment: "the binary of a Go main package"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: []string{path.Join(BinaryDir, o.Name)},
		User:       User,
		Env:        []string{"PATH=" + BinaryDir + ":/usr/local/bin:/usr/bin:/bin"},
		WorkingDir: "/",
		Labels:     o.Labels,
	}
	return mutate.ConfigFile(img, cf)
}

// imageSize is what a pull transfers: manifest, config and layers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	mf, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size := int64(len(m)) + mf.Config.Size
	for _, l := range mf.Layers {
		size += l.Size
	}
	return size, nil
}

// capped keeps the first 64 KiB written to it: enough for any compiler's errors, and
// bounded whatever a command prints.
type capped struct {
	buf bytes.Buffer
	cut bool
}

const capBytes = 64 << 10

func (c *capped) Write(p []byte) (int, error) {
	if room := capBytes - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) String() string {
	if c.cut {
		return c.buf.String() + "\n... (output cut at 64 KiB)"
	}
	return c.buf.String()
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(10 * time.Millisecond)
}

// formatSize is n bytes in kB or MB (powers of 1000, as registries and Docker count).
func formatSize(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
