package devimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/internal/devimage"
	"github.com/berth-dev/berth/internal/devimage/registrytest"
)

// hello is the example app, a main package of this module.
const hello = "../../examples/hello"

func TestParseTag(t *testing.T) {
	for _, tc := range []struct {
		in, repo, tag, err string
	}{
		{in: "hello:1.0.0", repo: "hello", tag: "1.0.0"},
		{in: "team/hello:v1.2.3-rc.1", repo: "team/hello", tag: "v1.2.3-rc.1"},
		{in: "a.b/c:1", err: `image tag "a.b/c:1" names the registry host a.b: give only NAME:TAG (e.g. c:1); images go to the dev cluster's registry`},
		{in: "registry.berth.localhost/hello:1.0.0", err: `image tag "registry.berth.localhost/hello:1.0.0" names the registry host registry.berth.localhost: give only NAME:TAG (e.g. hello:1.0.0); images go to the dev cluster's registry`},
		{in: "127.0.0.1:5000/hello:1.0.0", err: `image tag "127.0.0.1:5000/hello:1.0.0" names the registry host 127.0.0.1:5000: give only NAME:TAG (e.g. hello:1.0.0); images go to the dev cluster's registry`},
		{in: "localhost/hello:1", err: `image tag "localhost/hello:1" names the registry host localhost: give only NAME:TAG (e.g. hello:1); images go to the dev cluster's registry`},
		{in: "", err: `image tag "" is empty: give NAME:TAG, e.g. hello:1.0.0`},
		{in: "hello", err: `image tag "hello" has no tag: give NAME:TAG, e.g. hello:1.0.0`},
		{in: "Hello:1", err: `image tag "Hello:1" has upper-case letters in its name: image names are lower case`},
		{in: "hello@sha256:" + strings.Repeat("a", 64), err: `image tag "hello@sha256:` + strings.Repeat("a", 64) + `" has a digest: give NAME:TAG; the build makes the digest`},
		{in: "hello:", err: `image tag "hello:" is not NAME:TAG: a name is lower-case letters, digits and separators (. _ -) in components split by /, a tag up to 128 letters, digits, . _ -`},
		{in: "hello/../x:1", err: `image tag "hello/../x:1" is not NAME:TAG: a name is lower-case letters, digits and separators (. _ -) in components split by /, a tag up to 128 letters, digits, . _ -`},
		{in: "hello:a b", err: `image tag "hello:a b" is not NAME:TAG: a name is lower-case letters, digits and separators (. _ -) in components split by /, a tag up to 128 letters, digits, . _ -`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			repo, tag, err := devimage.ParseTag(tc.in)
			var msg string
			if err != nil {
				msg = err.Error()
				var te *devimage.TagError
				if !errors.As(err, &te) {
					t.Errorf("error %T, want *TagError", err)
				}
			}
			if diff := cmp.Diff([]string{tc.repo, tc.tag, tc.err}, []string{repo, tag, msg}); diff != "" {
				t.Errorf("ParseTag(%q) repo, tag, error (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// entry is what the tests check of a file in the image's layer.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  time.Time
}

func TestBuildPushesASmallReproducibleImage(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	target := devimage.Registry{Addr: reg.Addr, Name: "registry.berth.localhost"}
	var progress bytes.Buffer
	start := time.Now()
	res, err := devimage.Build(ctx, devimage.Options{Dir: hello, Repository: "hello", Tag: "1.0.0", Registry: target, Progress: &progress})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, progress.String())
	}
	t.Logf("built and pushed in %s, %d bytes:\n%s", time.Since(start).Round(time.Millisecond), res.Size, progress.String())
	for _, step := range []string{"building " + hello + " for linux/" + runtime.GOARCH, "built hello in ", "pushing " + reg.Addr + "/hello:1.0.0", "pushed sha256:"} {
		if !strings.Contains(progress.String(), step) {
			t.Errorf("progress does not say %q:\n%s", step, progress.String())
		}
	}
	if diff := cmp.Diff(&devimage.Result{Reference: "registry.berth.localhost/hello:1.0.0", Pushed: reg.Addr + "/hello:1.0.0", Digest: res.Digest, Size: res.Size}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	// A static, stripped hello is a few MB; the image must not be much more.
	if res.Size < 1e6 || res.Size > 20e6 {
		t.Errorf("image size %d bytes, want a few MB", res.Size)
	}

	ref, err := name.ParseReference(reg.Addr+"/hello:1.0.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull the image back: %v", err)
	}
	if d, err := img.Digest(); err != nil || d.String() != res.Digest {
		t.Errorf("pulled digest %v (%v), pushed %s", d, err, res.Digest)
	}
	if mt, err := img.MediaType(); err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %q (%v), want %q", mt, err, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if rev := cf.Config.Labels[devimage.LabelRevision]; !regexp.MustCompile(`^[0-9a-f]{40}(-dirty)?$`).MatchString(rev) {
		t.Errorf("label %s = %q, want the checkout's commit", devimage.LabelRevision, rev)
	}
	cf.Config.Labels = nil
	want := v1.Config{
		Entrypoint: []string{"/app/hello"},
		User:       "65532:65532",
		Env:        []string{"PATH=/app:/usr/local/bin:/usr/bin:/bin"},
		WorkingDir: "/",
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("config: os %q, architecture %q, created %v; want linux, %s, the epoch", cf.OS, cf.Architecture, cf.Created, runtime.GOARCH)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	entries, binary := readLayer(t, layers[0], "app/hello")
	epoch := time.Unix(0, 0)
	wantEntries := []entry{
		{Name: "app/", Type: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "app/hello", Type: tar.TypeReg, Mode: 0o755, ModTime: epoch},
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "etc/group", Type: tar.TypeReg, Mode: 0o644, ModTime: epoch},
		{Name: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, ModTime: epoch},
		{Name: "home/", Type: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "home/nonroot/", Type: tar.TypeDir, Mode: 0o700, UID: 65532, GID: 65532, ModTime: epoch},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777, ModTime: epoch},
	}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
	checkStatic(t, binary)

	// The same source again, under another tag: the same image.
	again, err := devimage.Build(ctx, devimage.Options{Dir: hello, Repository: "hello", Tag: "1.0.1", Registry: target})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("second build of the same source: digest %s, first %s", again.Digest, res.Digest)
	}

	tags, err := devimage.List(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	wantTags := []devimage.Tagged{
		{Repository: "hello", Tag: "1.0.0", Reference: "registry.berth.localhost/hello:1.0.0", Digest: res.Digest},
		{Repository: "hello", Tag: "1.0.1", Reference: "registry.berth.localhost/hello:1.0.1", Digest: res.Digest},
	}
	if diff := cmp.Diff(wantTags, tags); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

// readLayer returns the layer's entries in order, and the content of the file named want.
func readLayer(t *testing.T, l v1.Layer, want string) ([]entry, []byte) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var entries []entry
	var content []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime})
		if h.Name == want {
			if content, err = io.ReadAll(io.LimitReader(tr, 200<<20)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if content == nil {
		t.Fatalf("no %s in the layer", want)
	}
	return entries, content
}

// checkStatic checks that binary is a Linux executable for this machine that needs no
// dynamic loader: it runs on an empty base.
func checkStatic(t *testing.T, binary []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("binary: machine %v, type %v; want %v, ET_EXEC", f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is not static", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: it is not stripped (-s)")
	}
}

func TestBuildFailsClearlyAndPushesNothing(t *testing.T) {
	reg := registrytest.Start(t)
	target := devimage.Registry{Addr: reg.Addr, Name: "registry.berth.localhost"}
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	missing := filepath.Join(t.TempDir(), "missing")
	lib := module(t, "lib.go", "package lib\n\nfunc F() {}\n")
	broken := module(t, "main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	file := filepath.Join(lib, "lib.go")
	for _, tc := range []struct {
		name string
		o    devimage.Options
		want string
		as   any
	}{
		{"missing dir", devimage.Options{Dir: missing, Repository: "x", Tag: "1"},
			missing + " does not exist: give the directory of a main package", nil},
		{"a file", devimage.Options{Dir: file, Repository: "x", Tag: "1"},
			file + " is not a directory: give the directory of a main package", nil},
		{"not main", devimage.Options{Dir: lib, Repository: "x", Tag: "1"},
			lib + " holds package example.test/m, not a main package: give the directory of a command (package main)", new(*devimage.NotMainError)},
		{"compile error", devimage.Options{Dir: broken, Repository: "x", Tag: "1"},
			"undefined: undefinedThing", new(*devimage.BuildError)},
		{"bad tag", devimage.Options{Dir: hello, Repository: "X", Tag: "1"},
			`image tag "X:1" has upper-case letters in its name: image names are lower case`, new(*devimage.TagError)},
		{"registry down", devimage.Options{Dir: hello, Repository: "x", Tag: "1", Registry: devimage.Registry{Addr: closed}},
			"the image registry at http://" + closed + "/ does not answer: ", new(*devimage.UnreachableError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Registry.Addr == "" {
				tc.o.Registry = target
			}
			res, err := devimage.Build(context.Background(), tc.o)
			if err == nil {
				t.Fatalf("Build succeeded (%+v), want %q", res, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("error %T, want %T", err, tc.as)
			}
		})
	}
	tags, err := devimage.List(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 0 {
		t.Errorf("failed builds pushed %v", tags)
	}
}

// module writes a one-file Go module example.test/m and returns its directory.
func module(t *testing.T, file, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.test/m\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildFromABinary: a program already built goes in the image as it is (make run puts
// bin/berth in the probe image so); what the empty base cannot run is refused, naming why.
func TestBuildFromABinary(t *testing.T) {
	reg := registrytest.Start(t)
	target := devimage.Registry{Addr: reg.Addr, Name: "registry.berth.localhost"}
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = hello, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	res, err := devimage.Build(context.Background(), devimage.Options{Binary: bin, Repository: "tools/probe", Tag: "1", Registry: target, Progress: &progress})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, progress.String())
	}
	if strings.Contains(progress.String(), "building") {
		t.Errorf("a binary was compiled again:\n%s", progress.String())
	}
	ref, err := name.ParseReference(reg.Addr+"/tools/probe:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull the image back: %v", err)
	}
	if d, _ := img.Digest(); d.String() != res.Digest {
		t.Errorf("pulled %s, pushed %s", d, res.Digest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/app/probe"}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-want +got):\n%s", diff)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	if _, got := readLayer(t, layers[0], "app/probe"); !bytes.Equal(got, want) {
		t.Errorf("the image's binary (%d bytes) is not the one given (%d bytes)", len(got), len(want))
	}

	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dynamic, err := exec.LookPath("ls") // Debian's coreutils link libc
	if err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct {
		name string
		o    devimage.Options
		want string
	}{
		{"dynamic", devimage.Options{Binary: dynamic}, "is dynamically linked (it needs a dynamic loader and libc, which the image does not have): build it with CGO_ENABLED=0"},
		{"not ELF", devimage.Options{Binary: text}, "is not a linux executable (ELF)"},
		{"missing", devimage.Options{Binary: text + ".gone"}, "does not exist"},
		{"both", devimage.Options{Binary: bin, Dir: hello}, "give a package's directory or a binary, not both"},
		{"another arch", devimage.Options{Binary: bin, Arch: other}, "not linux/" + other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Repository, tc.o.Tag, tc.o.Registry = "x", "1", target
			if _, err := devimage.Build(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}
