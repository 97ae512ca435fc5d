package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/objstore"
	"github.com/berth-dev/berth/internal/s3test"
	"github.com/berth-dev/berth/internal/seal"
)

// store is what Dir and S3 have in common.
type store interface {
	Put(ctx context.Context, name string, r io.Reader) (int64, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	Stat(ctx context.Context, name string) (objstore.Object, error)
	Delete(ctx context.Context, name string) error
	List(ctx context.Context, prefix string) ([]objstore.Object, error)
	Check(ctx context.Context) error
	String() string
}

var (
	_ store = (*objstore.Dir)(nil)
	_ store = (*objstore.S3)(nil)
)

// fixture is an empty store and a view of the files behind it.
type fixture struct {
	store
	// root is the directory whose files are the objects, named as the objects are.
	root string
	// parts returns the number of parts of a multipart upload of the object, 0 for one
	// PUT; nil for a directory.
	parts func(t *testing.T, name string) int
	// leftovers lists what else is stored: temporary files, incomplete uploads.
	leftovers func(t *testing.T) []string
}

// backend makes fixtures of one kind.
type backend struct {
	name string
	new  func(t *testing.T) fixture
}

// backends returns the directory backend and the S3 one, on srv.
func backends(srv *s3test.Server) []backend {
	var buckets atomic.Int64
	return []backend{
		{"dir", func(t *testing.T) fixture {
			root := filepath.Join(t.TempDir(), "backups")
			d, err := objstore.NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			return fixture{store: d, root: root, leftovers: func(t *testing.T) []string {
				return strays(t, root, d)
			}}
		}},
		{"s3", func(t *testing.T) fixture {
			bucket := "bucket-" + strconv.FormatInt(buckets.Add(1), 10)
			srv.Bucket(t, bucket)
			s, err := objstore.NewS3(s3Config(srv, bucket))
			if err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(srv.Dir, bucket, "berth", "backups")
			return fixture{store: s, root: root,
				parts: func(t *testing.T, name string) int {
					st, err := srv.Client(t).StatObject(t.Context(), bucket, "berth/backups/"+name, minio.StatObjectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					return partsOf(st.ETag)
				},
				leftovers: func(t *testing.T) []string {
					var left []string
					for u := range srv.Client(t).ListIncompleteUploads(t.Context(), bucket, "", true) {
						if u.Err != nil {
							t.Fatal(u.Err)
						}
						left = append(left, "upload of "+u.Key)
					}
					return append(left, strays(t, root, s)...)
				},
			}
		}},
	}
}

func s3Config(srv *s3test.Server, bucket string) objstore.S3Config {
	return objstore.S3Config{
		Endpoint:  srv.Endpoint,
		Bucket:    bucket,
		Prefix:    "/berth/backups/",
		Region:    srv.Region,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
	}
}

// strays lists the files under root that are not objects of s.
func strays(t *testing.T, root string, s store) []string {
	t.Helper()
	objects := map[string]bool{}
	for _, o := range list(t, s, "") {
		objects[o.Name] = true
	}
	var left []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return fs.SkipAll
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !objects[filepath.ToSlash(rel)] {
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// TestStores runs one suite against both stores.
func TestStores(t *testing.T) {
	srv := s3test.Start(t)
	for _, b := range backends(srv) {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				test func(t *testing.T, f fixture)
			}{
				{"RoundTrip", testRoundTrip},
				{"List", testList},
				{"Large", testLarge},
				{"Names", testNames},
				{"FailedPut", testFailedPut},
				{"Missing", testMissing},
				{"Check", testCheck},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.test(t, b.new(t)) })
			}
		})
	}
}

func testRoundTrip(t *testing.T, f fixture) {
	ctx := testContext(t)
	start := time.Now().Add(-2 * time.Second) // S3 times are in whole seconds
	objects := map[string][]byte{
		"shop/notes/production/17/db.dump":     randomBytes(100 << 10),
		"shop/notes/production/17/manifest":    []byte("{}"),
		"shop/notes/staging/3/db.dump":         {},
		"other app/ü/file with spaces.dump":    []byte("x"),
		"shop/notes/production/17/db.dump.sha": []byte("sum"),
	}
	for name, data := range objects {
		// A reader without a known size, as a backup's stream is.
		n, err := f.Put(ctx, name, struct{ io.Reader }{bytes.NewReader(data)})
		if err != nil || n != int64(len(data)) {
			t.Fatalf("put %s: %d bytes, %v", name, n, err)
		}
	}
	for name, data := range objects {
		if got := read(t, f, name); !bytes.Equal(got, data) {
			t.Errorf("open %s: %d bytes differing from the %d put", name, len(got), len(data))
		}
		onDisk, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(onDisk, data) {
			t.Errorf("%s is not the file %s/%s: %v", name, f.root, name, err)
		}
		o, err := f.Stat(ctx, name)
		if err != nil || o.Name != name || o.Size != int64(len(data)) || o.Modified.Before(start) || o.Modified.After(time.Now().Add(time.Second)) {
			t.Errorf("stat %s: %+v, %v", name, o, err)
		}
	}

	// Put replaces.
	if _, err := f.Put(ctx, "shop/notes/staging/3/db.dump", strings.NewReader("v2")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f, "shop/notes/staging/3/db.dump"); string(got) != "v2" {
		t.Errorf("after a second put: %q", got)
	}

	if err := f.Delete(ctx, "shop/notes/production/17/db.dump"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := f.Open(ctx, "shop/notes/production/17/db.dump"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("open after the delete: %v", err)
	}
	if err := f.Delete(ctx, "shop/notes/production/17/db.dump"); err != nil {
		t.Errorf("delete again: %v", err)
	}
	if err := f.Delete(ctx, "never/was"); err != nil {
		t.Errorf("delete of a missing object: %v", err)
	}
	want := []string{"other app/ü/file with spaces.dump", "shop/notes/production/17/db.dump.sha", "shop/notes/production/17/manifest", "shop/notes/staging/3/db.dump"}
	if diff := cmp.Diff(want, names(list(t, f, ""))); diff != "" {
		t.Errorf("list after the delete (-want +got):\n%s", diff)
	}
	for _, name := range want {
		if err := f.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(t, f, ""); len(got) != 0 {
		t.Errorf("list after deleting all: %v", got)
	}
	if left := f.leftovers(t); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func testList(t *testing.T, f fixture) {
	ctx := testContext(t)
	// Not a and a/b: neither a directory nor versitygw's POSIX backend has a name both
	// an object and a directory.
	all := []string{"a.b", "a/b/c", "a/bc", "a/x", "ab/x", "b/a"}
	for i, name := range all {
		if _, err := f.Put(ctx, name, strings.NewReader(strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := list(t, f, "")
	if diff := cmp.Diff(all, names(got)); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	for i, o := range got {
		if o.Size != int64(i) {
			t.Errorf("list: %s is %d bytes, want %d", o.Name, o.Size, i)
		}
	}
	for _, prefix := range []string{"a", "a/", "a/b", "a/b/", "ab", "b/a", "c", "c/d/", "a/.."} {
		var want []string
		for _, name := range all {
			if strings.HasPrefix(name, prefix) {
				want = append(want, name)
			}
		}
		if diff := cmp.Diff(want, names(list(t, f, prefix))); diff != "" {
			t.Errorf("list %q (-want +got):\n%s", prefix, diff)
		}
	}
	for _, prefix := range []string{"/a", "a//b", "../a", "./", "a\\b", "a\x00"} {
		if _, err := f.List(ctx, prefix); !errors.Is(err, berth.ErrInvalid) {
			t.Errorf("list %q: %v, want ErrInvalid", prefix, err)
		}
	}
}

// testLarge: a 40 MiB object goes up in parts (three of 16 MiB to S3) in bounded memory.
func testLarge(t *testing.T, f fixture) {
	ctx := testContext(t)
	const size = 40 << 20
	const name = "shop/notes/production/1/db.dump"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := f.Put(ctx, name, io.LimitReader(&pattern{}, size))
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("put: %d bytes, %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("a put of %d MiB allocated %d MiB", size>>20, alloc>>20)
	}
	if f.parts != nil {
		if parts := f.parts(t, name); parts != 3 {
			t.Errorf("uploaded in %d parts, want 3", parts)
		}
	}
	want, got := sha256.New(), sha256.New()
	io.Copy(want, io.LimitReader(&pattern{}, size))
	rc, err := f.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if n, err := io.Copy(got, rc); err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes (%v), equal %v", n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

func testNames(t *testing.T, f fixture) {
	ctx := testContext(t)
	for _, name := range []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "../a", "a\\b", "a\x00b",
		".berth-check/x", "a/.berth-tmp-1", strings.Repeat("x", 1025), "\xff"} {
		t.Run(fmt.Sprintf("%.20q", name), func(t *testing.T) {
			if _, err := f.Put(ctx, name, strings.NewReader("x")); !errors.Is(err, berth.ErrInvalid) {
				t.Errorf("put: %v, want ErrInvalid", err)
			}
			if _, err := f.Open(ctx, name); !errors.Is(err, berth.ErrInvalid) {
				t.Errorf("open: %v", err)
			}
			if _, err := f.Stat(ctx, name); !errors.Is(err, berth.ErrInvalid) {
				t.Errorf("stat: %v", err)
			}
			if err := f.Delete(ctx, name); !errors.Is(err, berth.ErrInvalid) {
				t.Errorf("delete: %v", err)
			}
		})
	}
	if got := list(t, f, ""); len(got) != 0 {
		t.Errorf("refused names stored %v", got)
	}
	for _, name := range []string{"a", ".hidden/.x", "a..b/c.", "b/...", "x/" + strings.Repeat("y", 200)} {
		if _, err := f.Put(ctx, name, strings.NewReader(name)); err != nil {
			t.Errorf("put %q: %v", name, err)
		}
	}
}

// testFailedPut: a Put whose reader fails or whose context is cancelled, small (one PUT)
// or large (multipart), leaves nothing, and an object it would have replaced intact.
func testFailedPut(t *testing.T, f fixture) {
	ctx := testContext(t)
	const name = "shop/notes/production/2/db.dump"
	if _, err := f.Put(ctx, "shop/notes/production/1/db.dump", strings.NewReader("kept")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Put(ctx, "shop/notes/production/2/db.dump.old", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	errBroken := errors.New("the dump broke")
	for _, size := range []int64{1 << 20, 24 << 20} {
		for _, replace := range []bool{false, true} {
			target := name
			if replace {
				target = "shop/notes/production/1/db.dump"
			}
			t.Run(fmt.Sprintf("reader error after %d MiB to %s", size>>20, target), func(t *testing.T) {
				r := io.MultiReader(io.LimitReader(&pattern{}, size), iotest.ErrReader(errBroken))
				if _, err := f.Put(ctx, target, r); !errors.Is(err, errBroken) {
					t.Errorf("put: %v, want the reader's error", err)
				}
			})
			t.Run(fmt.Sprintf("cancelled after %d MiB to %s", size>>20, target), func(t *testing.T) {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				r := &cancelAfter{r: &pattern{}, n: size, cancel: cancel}
				if _, err := f.Put(ctx, target, r); !errors.Is(err, context.Canceled) {
					t.Errorf("put: %v, want context.Canceled", err)
				}
			})
		}
	}
	if _, err := f.Stat(ctx, name); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("stat after the failed puts: %v", err)
	}
	if got := read(t, f, "shop/notes/production/1/db.dump"); string(got) != "kept" {
		t.Errorf("the object the failed puts would have replaced: %q", got)
	}
	want := []string{"shop/notes/production/1/db.dump", "shop/notes/production/2/db.dump.old"}
	if diff := cmp.Diff(want, names(list(t, f, ""))); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if left := f.leftovers(t); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// cancelAfter yields n bytes of r, then cancels, then keeps yielding.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	n, err := c.r.Read(p[:min(int64(len(p)), max(c.n, 1))])
	c.n -= int64(n)
	return n, err
}

func testMissing(t *testing.T, f fixture) {
	ctx := testContext(t)
	if _, err := f.Put(ctx, "shop/x/y", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing", "shop/x", "shop/x/y/z", "shop/missing/y"} {
		_, err := f.Open(ctx, name)
		if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), f.String()) {
			t.Errorf("open %s: %v, want ErrNotFound naming it and the store", name, err)
		}
		if _, err := f.Stat(ctx, name); !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("stat %s: %v, want ErrNotFound naming it", name, err)
		}
	}
}

func testCheck(t *testing.T, f fixture) {
	ctx := testContext(t)
	if err := f.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := list(t, f, ""); len(got) != 0 {
		t.Errorf("check left objects: %v", got)
	}
	if left := f.leftovers(t); len(left) != 0 {
		t.Errorf("check left behind: %v", left)
	}
}

// TestS3CheckFails: Check names the store and the cause, and never the secret key.
func TestS3CheckFails(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "backups")
	wrong := s3Config(srv, "backups")
	wrong.SecretKey = srv.SecretKey + "x"
	noBucket := s3Config(srv, "missing")
	for _, tc := range []struct {
		name string
		cfg  objstore.S3Config
		want string
	}{
		{"wrong secret", wrong, "the secret key is wrong"},
		{"unknown access key", objstore.S3Config{Endpoint: srv.Endpoint, Bucket: "backups", Region: srv.Region, AccessKey: "nobody", SecretKey: srv.SecretKey}, "does not know the access key"},
		{"missing bucket", noBucket, "the bucket does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := objstore.NewS3(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(testContext(t))
			if err == nil {
				t.Fatal("check passed")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, s.String()) {
				t.Errorf("check: %v\nwant it to say %q and name %s", err, tc.want, s)
			}
			if strings.Contains(msg, srv.SecretKey) {
				t.Errorf("check: the error holds the secret key: %v", err)
			}
			if str := fmt.Sprintf("%v %+v", tc.cfg, tc.cfg); strings.Contains(str, srv.SecretKey) {
				t.Errorf("the configuration prints its secret key: %s", str)
			}
		})
	}
	s, err := objstore.NewS3(s3Config(srv, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("the refused checks stored %v", got)
	}
}

func TestNewS3(t *testing.T) {
	ok := objstore.S3Config{Endpoint: "s3.example.com:443", Secure: true, Bucket: "backups", Prefix: "berth/", AccessKey: "a", SecretKey: "s"}
	s, err := objstore.NewS3(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "s3://backups/berth at https://s3.example.com:443"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	ok.Prefix, ok.Secure = "", false
	if s, _ := objstore.NewS3(ok); s.String() != "s3://backups at http://s3.example.com:443" {
		t.Errorf("String() = %q", s)
	}
	for name, change := range map[string]func(c *objstore.S3Config){
		"no endpoint":     func(c *objstore.S3Config) { c.Endpoint = "" },
		"a URL":           func(c *objstore.S3Config) { c.Endpoint = "https://s3.example.com" },
		"no bucket":       func(c *objstore.S3Config) { c.Bucket = "" },
		"a bad bucket":    func(c *objstore.S3Config) { c.Bucket = "Bad_Bucket" },
		"a bad prefix":    func(c *objstore.S3Config) { c.Prefix = "a/../b" },
		"no secret key":   func(c *objstore.S3Config) { c.SecretKey = "" },
		"no access key":   func(c *objstore.S3Config) { c.AccessKey = "" },
		"a reserved name": func(c *objstore.S3Config) { c.Prefix = ".berth-check" },
	} {
		cfg := ok
		change(&cfg)
		if _, err := objstore.NewS3(cfg); !errors.Is(err, berth.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestDirFiles: the files of a Dir are private, the directories a Delete empties go, and
// the temporary files of a crashed Put are never objects.
func TestDirFiles(t *testing.T) {
	ctx := testContext(t)
	root := filepath.Join(t.TempDir(), "new", "backups")
	d, err := objstore.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "directory "+root {
		t.Errorf("String() = %q", d)
	}
	if _, err := d.Put(ctx, "shop/notes/1/db.dump", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{
		root:                           fs.ModeDir | 0o700,
		root + "/shop":                 fs.ModeDir | 0o700,
		root + "/shop/notes/1":         fs.ModeDir | 0o700,
		root + "/shop/notes/1/db.dump": 0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, want mode %v", path, fi, want)
		}
	}

	// What a crashed Put leaves, and a stray directory and symbolic link.
	for _, path := range []string{"shop/notes/1/.berth-tmp-123", ".berth-tmp-9", ".berth-check/probe"} {
		writeFile(t, filepath.Join(root, path))
	}
	if err := os.Symlink(filepath.Join(root, "shop/notes/1/db.dump"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"shop/notes/1/db.dump"}, names(list(t, d, ""))); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if _, err := d.Open(ctx, "shop/notes"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("open of a directory: %v", err)
	}
	if err := d.Delete(ctx, "shop/notes"); err != nil {
		t.Errorf("delete of a directory: %v", err)
	}

	if _, err := d.Put(ctx, "shop/other/2/db.dump", strings.NewReader("y")); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "shop/other/2/db.dump"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "shop/other")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the directories the delete emptied remain: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "shop/notes/1/db.dump")); err != nil {
		t.Errorf("the delete removed too much: %v", err)
	}

	if _, err := objstore.NewDir(filepath.Join(root, "shop/notes/1/db.dump")); err == nil {
		t.Error("NewDir of a file succeeded")
	}
}

// TestSameBytes: a deterministic backup stream, put in a directory and in S3 as it is
// encrypted, is stored byte-identical in both.
func TestSameBytes(t *testing.T) {
	srv := s3test.Start(t)
	var stores []fixture
	for _, b := range backends(srv) {
		stores = append(stores, b.new(t))
	}
	ctx := testContext(t)
	key, err := seal.NewKey(randomBytes(seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	const name = "shop/notes/production/3/db.dump"
	plain := randomBytes(20<<20 + 12345)
	for _, f := range stores {
		pr, pw := io.Pipe()
		go func() {
			w := key.EncryptStream(pw, []byte(name))
			_, err := w.Write(plain)
			if err == nil {
				err = w.Close()
			}
			pw.CloseWithError(err)
		}()
		if _, err := f.Put(ctx, name, pr); err != nil {
			t.Fatalf("put in %s: %v", f, err)
		}
	}
	dirFile, err := os.ReadFile(filepath.Join(stores[0].root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	s3File, err := os.ReadFile(filepath.Join(stores[1].root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dirFile, s3File) {
		t.Fatalf("the directory holds %d bytes, S3 %d different ones", len(dirFile), len(s3File))
	}
	got, err := io.ReadAll(key.DecryptStream(bytes.NewReader(s3File), []byte(name)))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt: %d bytes, %v", len(got), err)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pattern is an endless reader of cheap bytes, the same however it is read.
type pattern struct{ off int }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		n := r.off + i
		p[i] = byte(n*7 ^ n>>12)
	}
	r.off += len(p)
	return len(p), nil
}

func read(t *testing.T, s store, name string) []byte {
	t.Helper()
	rc, err := s.Open(testContext(t), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

func list(t *testing.T, s store, prefix string) []objstore.Object {
	t.Helper()
	objects, err := s.List(testContext(t), prefix)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return objects
}

func names(objects []objstore.Object) []string {
	var out []string
	for _, o := range objects {
		out = append(out, o.Name)
	}
	return out
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// partsOf is the number of parts of a multipart upload's ETag, 0 for a single PUT's.
func partsOf(etag string) int {
	_, n, ok := strings.Cut(strings.Trim(etag, `"`), "-")
	if !ok {
		return 0
	}
	parts, _ := strconv.Atoi(n)
	return parts
}
