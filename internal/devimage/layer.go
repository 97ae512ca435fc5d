package devimage

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"strings"
)

// The files beside the binary: what a static Go program may look for, as in distroless's
// static image (user and group names, a home, a /tmp).
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// writeLayer writes the image's only layer, an uncompressed tar, to dst: the binary at
// BinaryDir/name and the few files around it. Every entry has the same times, owners and
// order on every build, so the same binary gives the same layer digest.
func writeLayer(dst, binary, name string) (err error) {
	bin, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer bin.Close()
	fi, err := bin.Stat()
	if err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	dir := func(name string, mode int64, id int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: id, Gid: id, ModTime: epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	binDir := strings.TrimPrefix(BinaryDir, "/")
	steps := []func() error{
		func() error { return dir(binDir, 0o755, 0) },
		func() error { return file(path.Join(binDir, name), 0o755, fi.Size(), io.LimitReader(bin, fi.Size())) },
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/group", 0o644, int64(len(group)), strings.NewReader(group)) },
		func() error { return file("etc/passwd", 0o644, int64(len(passwd)), strings.NewReader(passwd)) },
		func() error { return dir("home", 0o755, 0) },
		func() error { return dir("home/nonroot", 0o700, 65532) },
		// sticky and writable by all, as every /tmp
		func() error { return dir("tmp", 0o1777, 0) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return tw.Close()
}
