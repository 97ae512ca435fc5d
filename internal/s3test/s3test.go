// Package s3test runs a real S3-compatible server for tests: versitygw, built from the Go
// module proxy by tools/versitygw/build.sh, serving S3 over a directory of the test's (its
// POSIX backend) on a free loopback port, with a root access key and secret of its own.
package s3test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/tooltest"
)

// startTimeout bounds a server's start, from exec to its health endpoint answering.
const startTimeout = 30 * time.Second

// healthPath is versitygw's health endpoint (--health), answered without credentials; no
// bucket can be named _health, so it shadows none.
const healthPath = "/_health"

// Server is a running versitygw.
type Server struct {
	// Endpoint is its address, 127.0.0.1:PORT, as minio.New takes it.
	Endpoint string
	// URL is http://Endpoint.
	URL string
	// AccessKey and SecretKey are the root account's credentials, new for each server.
	AccessKey, SecretKey string
	// Region is the region it answers as.
	Region string
	// Dir is the directory it serves: each bucket is a directory in it and each object a
	// file below that (tests may damage a stored object there).
	Dir string
	// Log is its output.
	Log string
}

// binary builds (or finds in the cache) versitygw and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	dir, err := tooltest.Build("versitygw")
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return filepath.Join(dir, "versitygw")
}

// Start runs a new versitygw for the test, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	root := t.TempDir()
	s := &Server{
		AccessKey: rand.Text(),
		SecretKey: rand.Text() + rand.Text(),
		Region:    "us-east-1",
		Dir:       filepath.Join(root, "data"),
		Log:       filepath.Join(root, "versitygw.log"),
	}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "http://" + s.Endpoint

	// Without --keep-alive (versitygw's default) it closes each connection after its answer.
	// With it, a 0-byte PUT from minio-go (Transfer-Encoding: chunked, which v1.8.0 does not
	// drain when the handler reads nothing) leaves the body's bytes on the connection,
	// parsed as a next request and answered 400.
	args := []string{"--port", s.Endpoint, "--region", s.Region, "--health", healthPath, "posix"}
	if !xattrs(s.Dir) {
		// Objects' metadata lives in extended attributes, which some filesystems of temporary
		// directories lack (tmpfs before Linux 6.6): keep it in a directory beside instead.
		meta := filepath.Join(root, "meta")
		if err := os.Mkdir(meta, 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--sidecar", meta)
	}
	args = append(args, s.Dir)
	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The credentials go in the environment, not on a command line every process can read.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	// Die with the test binary if it is killed before the cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("s3test: start versitygw: %v", err)
	}
	// exited is closed once it has exited, with waitErr set: unlike a value sent on a
	// channel, a close is seen by both the start's wait and the cleanup.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	if err := s.waitReady(exited, &waitErr); err != nil {
		log, _ := os.ReadFile(s.Log)
		t.Fatalf("s3test: versitygw at %s did not start: %v\nthe end of its log:\n%s", s.Endpoint, err, tooltest.Tail(string(log), 30))
	}
	return s
}

// xattrs reports whether dir's filesystem stores user extended attributes.
func xattrs(dir string) bool {
	_, err := syscall.Getxattr(dir, "user.berth-s3test", nil)
	return !errors.Is(err, syscall.ENOTSUP)
}

// waitReady polls the health endpoint until it answers 200 OK, the server exits, or
// startTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}, waitErr *error) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get(s.URL + healthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited: %v", *waitErr)
		case <-deadline:
			return fmt.Errorf("%s did not answer 200 within %s (last: %v)", healthPath, startTimeout, err)
		case <-tick.C:
		}
	}
}

// Client is a minio-go client of the server with the root account's credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	return s.ClientWith(t, s.AccessKey, s.SecretKey)
}

// ClientWith is a minio-go client of the server signing with the given credentials.
func (s *Server) ClientWith(t testing.TB, accessKey, secretKey string) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(accessKey, secretKey, ""),
		Region: s.Region,
	})
	if err != nil {
		t.Fatalf("s3test: minio client: %v", err)
	}
	return c
}

// Bucket creates an empty bucket named name.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("s3test: make bucket %s: %v", name, err)
	}
}
