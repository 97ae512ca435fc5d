package cli_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/devimage"
	"github.com/berth-dev/berth/internal/devimage/registrytest"
)

// clusterState writes the state of a dev cluster whose real node has the registry reg (none
// when reg is nil) into a new state directory and returns it. Only the registry is read by
// `berth dev image`; nothing else of the cluster runs.
func clusterState(t *testing.T, reg *devcluster.Registry) string {
	t.Helper()
	dir := t.TempDir()
	st := devcluster.State{Dir: dir, Server: "https://127.0.0.1:1"}
	if reg != nil {
		st.Node = &devcluster.NodeState{Name: "berth-node", Registry: *reg}
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	// The file `berth dev cluster up` writes; LoadState below proves the name is right.
	if err := os.WriteFile(filepath.Join(dir, "cluster.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := devcluster.LoadState(dir); err != nil || (reg != nil && got.Node.Registry != *reg) {
		t.Fatalf("the state written does not load back: %v", err)
	}
	return dir
}

func TestDevImageBuildParsesItsArguments(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		dir, tag string
	}{
		{[]string{"-t", "hello:1.0.0"}, ".", "hello:1.0.0"},
		{[]string{"./examples/hello", "--tag", "team/hello:2"}, "./examples/hello", "team/hello:2"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s, _, _, _ := cli.Test()
			var got *cli.ImageBuildOptions
			cmd := cli.NewCmdImageBuild(&cli.ClusterOptions{IO: s, StateDir: "/state"}, func(o *cli.ImageBuildOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tc.dir, tc.tag, "/state"}, []string{got.Dir, got.Tag, got.StateDir}); diff != "" {
				t.Errorf("dir, tag, state dir (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDevImageSaysWhatToDo(t *testing.T) {
	empty := t.TempDir()
	noNode := clusterState(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	down := clusterState(t, &devcluster.Registry{Addr: closed, Name: "registry.berth.localhost"})
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"no cluster", []string{"build", "-t", "hello:1", "--state-dir", empty},
			"no dev cluster is running in " + empty + ": start one with `berth dev cluster up`", false},
		{"no cluster, list", []string{"list", "--state-dir", empty},
			"no dev cluster is running in " + empty + ": start one with `berth dev cluster up`", false},
		{"no real node", []string{"build", "-t", "hello:1", "--state-dir", noNode},
			"the dev cluster in " + noNode + " runs without a real node, and the image registry runs only beside the real node: " +
				"start the cluster with its real node (see `berth dev cluster up --help`)", false},
		{"registry host in the tag", []string{"build", "-t", "registry.berth.localhost/hello:1", "--state-dir", noNode},
			`--tag: image tag "registry.berth.localhost/hello:1" names the registry host registry.berth.localhost: give only NAME:TAG (e.g. hello:1); images go to the dev cluster's registry`, true},
		{"no tag", []string{"build", "--state-dir", noNode}, `required flag(s) "tag" not set`, true},
		{"two dirs", []string{"build", "a", "b", "-t", "hello:1"}, "accepts at most 1 arg(s), received 2", true},
		{"a dir and a binary", []string{"build", "a", "--binary", "bin/berth", "-t", "hello:1"}, "give a package's directory (a) or --binary, not both", true},
		{"bad output", []string{"list", "-o", "xml", "--state-dir", noNode}, `invalid output format "xml": use one of table, json, yaml`, true},
		{"registry down", []string{"list", "--state-dir", down},
			"the image registry at http://" + closed + "/ does not answer: ", false},
		{"registry down, build", []string{"build", "../../examples/hello", "-t", "hello:1", "--state-dir", down},
			"\nis the dev cluster running? `berth dev cluster status` shows its processes and the registry", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, append([]string{"dev", "image"}, tc.args...)...)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			var ue *cli.UsageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("error %q (%T): usage error %v, want %v", err, err, !tc.usage, tc.usage)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

func TestDevImageBuildPushesAndListShows(t *testing.T) {
	reg := registrytest.Start(t)
	state := clusterState(t, &devcluster.Registry{Addr: reg.Addr, Name: "registry.berth.localhost"})

	out, progress, err := run(t, "dev", "image", "build", "../../examples/hello", "-t", "hello:1.0.0", "--state-dir", state)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, progress)
	}
	if diff := cmp.Diff("registry.berth.localhost/hello:1.0.0\n", out); diff != "" {
		t.Errorf("build stdout (-want +got):\n%s", diff)
	}
	for _, step := range []string{"building ../../examples/hello for linux/", "built hello in ", "pushing " + reg.Addr + "/hello:1.0.0 ...", "pushed sha256:"} {
		if !strings.Contains(progress, step) {
			t.Errorf("build progress does not say %q:\n%s", step, progress)
		}
	}

	out, _, err = run(t, "dev", "image", "list", "--state-dir", state, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var images []devimage.Tagged
	if err := json.Unmarshal([]byte(out), &images); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	if len(images) != 1 || !strings.HasPrefix(images[0].Digest, "sha256:") {
		t.Fatalf("list -o json: %s", out)
	}
	want := []devimage.Tagged{{Repository: "hello", Tag: "1.0.0", Reference: "registry.berth.localhost/hello:1.0.0", Digest: images[0].Digest}}
	if diff := cmp.Diff(want, images); diff != "" {
		t.Errorf("list -o json (-want +got):\n%s", diff)
	}

	out, _, err = run(t, "dev", "image", "list", "--state-dir", state)
	if err != nil {
		t.Fatal(err)
	}
	wantTable := "IMAGE                                 DIGEST\n" +
		"registry.berth.localhost/hello:1.0.0  " + images[0].Digest + "\n"
	if diff := cmp.Diff(wantTable, out); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}

	// A binary as it is, printed by its digest.
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = "../../examples/hello", append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out, progress, err = run(t, "dev", "image", "build", "--binary", bin, "-t", "probe:1", "--digest", "--state-dir", state)
	if err != nil {
		t.Fatalf("build --binary: %v\n%s", err, progress)
	}
	if !regexp.MustCompile(`^registry\.berth\.localhost/probe@sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("build --binary --digest printed %q, want the image by its digest", out)
	}
	if strings.Contains(progress, "building") {
		t.Errorf("the binary was compiled again:\n%s", progress)
	}

}

func TestDevImageListOfAnEmptyRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	state := clusterState(t, &devcluster.Registry{Addr: reg.Addr, Name: "registry.berth.localhost"})
	for _, tc := range []struct{ format, want string }{
		{"table", "IMAGE  DIGEST\n"},
		{"json", "[]\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out, _, err := run(t, "dev", "image", "list", "--state-dir", state, "-o", tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("list -o %s (-want +got):\n%s", tc.format, diff)
			}
		})
	}
}
