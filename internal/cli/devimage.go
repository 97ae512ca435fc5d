package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/devimage"
)

// NewCmdDevImage returns `berth dev image`, whose --state-dir names the dev cluster whose
// registry its commands use, as `berth dev cluster`'s does.
func NewCmdDevImage(f *Factory) *cobra.Command {
	o := &ClusterOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build Go apps into images in the dev cluster's registry, and list them",
		Long: `The dev cluster's real node pulls images from a registry of its own, on loopback.
` + "`berth dev image build`" + ` compiles a Go main package into a small image (a static binary
on an empty base, run as user 65532) and pushes it there, without Docker; manifests name it
as the command prints it. A deploy pulls it for real: a tag never pushed is an
ImagePullBackOff.`,
		Example: `  berth dev image build ./examples/hello -t hello:1.0.0
  berth dev image list`,
		Args: cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.AddCommand(NewCmdImageBuild(o, nil), NewCmdImageList(o, nil))
	return cmd
}

// ImageBuildOptions are the inputs of `berth dev image build`.
type ImageBuildOptions struct {
	*ClusterOptions
	Dir string
	Tag string
	// Binary is a static program already built, put in the image instead of compiling Dir.
	Binary string
	// Digest prints the image by its digest (NAME@sha256:...) instead of its tag.
	Digest bool
}

// NewCmdImageBuild returns `berth dev image build`; co holds the parent's --state-dir.
func NewCmdImageBuild(co *ClusterOptions, runF func(*ImageBuildOptions) error) *cobra.Command {
	o := &ImageBuildOptions{ClusterOptions: co}
	cmd := &cobra.Command{
		Use:   "build [DIR | --binary FILE] -t NAME:TAG",
		Short: "Build a Go main package into an image and push it to the dev cluster's registry",
		Long: `Compiles the main package in DIR (default: the current directory) with go build for
linux (CGO_ENABLED=0, -trimpath, stripped), puts the binary at /app/<name> in a one-layer
image on an empty base that runs as user 65532:65532, and pushes it to the dev cluster's
registry as NAME:TAG. The same source and Go version give the same digest.

With --binary, a program already built goes in the image as it is: it must be a static
linux executable for this machine (CGO_ENABLED=0); ` + "`make run`" + ` puts bin/berth in the image
of Berth's synthetic probes so.

Prints the image as manifests name it (the registry's name, not its port), and nothing
else, so that it can be captured; progress goes to standard error. The registry runs
beside the dev cluster's real node.`,
		Example: `  # Build and push; prints registry.berth.localhost/hello:1.0.0
  berth dev image build ./examples/hello -t hello:1.0.0

  # Capture the image for a deploy
  img=$(berth dev image build -t reports:$(git rev-parse --short HEAD))

  # A static binary as it is, named by its digest
  berth dev image build --binary bin/berth -t berth:dev --digest

  # What the registry holds
  berth dev image list`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Binary != "" && len(args) == 1:
				return &UsageError{Err: fmt.Errorf("give a package's directory (%s) or --binary, not both", args[0])}
			case o.Binary == "":
				o.Dir = "."
				if len(args) == 1 {
					o.Dir = args[0]
				}
			}
			if runF != nil {
				return runF(o)
			}
			return imageBuildRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Tag, "tag", "t", "", "the image's NAME:TAG in the registry, without a registry host (e.g. hello:1.0.0)")
	cmd.Flags().StringVar(&o.Binary, "binary", "", "a static linux executable to put in the image as it is, instead of building DIR")
	cmd.Flags().BoolVar(&o.Digest, "digest", false, "print the image by its digest (NAME@sha256:...), which pins exactly what was pushed")
	_ = cmd.MarkFlagRequired("tag")
	return cmd
}

func imageBuildRun(ctx context.Context, o *ImageBuildOptions) error {
	repo, tag, err := devimage.ParseTag(o.Tag)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--tag: %w", err)}
	}
	reg, err := devRegistry(o.StateDir)
	if err != nil {
		return err
	}
	res, err := devimage.Build(ctx, devimage.Options{Dir: o.Dir, Binary: o.Binary, Repository: repo, Tag: tag, Registry: reg, Progress: o.IO.ErrOut})
	if err != nil {
		return registryHint(err)
	}
	if o.Digest {
		fmt.Fprintln(o.IO.Out, strings.TrimSuffix(res.Reference, ":"+tag)+"@"+res.Digest)
		return nil
	}
	fmt.Fprintln(o.IO.Out, res.Reference)
	return nil
}

// ImageListOptions are the inputs of `berth dev image list`.
type ImageListOptions struct {
	*ClusterOptions
	Output string
}

// NewCmdImageList returns `berth dev image list`; co holds the parent's --state-dir.
func NewCmdImageList(co *ClusterOptions, runF func(*ImageListOptions) error) *cobra.Command {
	o := &ImageListOptions{ClusterOptions: co}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the images in the dev cluster's registry: every tag and its digest",
		Example: `  berth dev image list
  berth dev image list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return imageListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func imageListRun(ctx context.Context, o *ImageListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	reg, err := devRegistry(o.StateDir)
	if err != nil {
		return err
	}
	images, err := devimage.List(ctx, reg)
	if err != nil {
		return registryHint(err)
	}
	return printList(o.IO, o.Output, images, []string{"IMAGE", "DIGEST"}, func(t devimage.Tagged) []string {
		return []string{t.Reference, t.Digest}
	})
}

// devRegistry is the registry of the dev cluster in stateDir.
func devRegistry(stateDir string) (devimage.Registry, error) {
	st, err := devcluster.LoadState(stateDir)
	if err != nil {
		return devimage.Registry{}, err
	}
	if st.Node == nil || st.Node.Registry.Addr == "" {
		return devimage.Registry{}, fmt.Errorf("the dev cluster in %s runs without a real node, and the image registry runs only "+
			"beside the real node: start the cluster with its real node (see `berth dev cluster up --help`)", stateDir)
	}
	return devimage.Registry{Addr: st.Node.Registry.Addr, Name: st.Node.Registry.Name}, nil
}

// registryHint adds what to do when the registry does not answer.
func registryHint(err error) error {
	var ue *devimage.UnreachableError
	if errors.As(err, &ue) {
		return fmt.Errorf("%w\nis the dev cluster running? `berth dev cluster status` shows its processes and the registry", err)
	}
	return err
}
