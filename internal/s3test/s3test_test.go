package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
)

// TestObjectLifecycle: an object put through minio-go comes back byte-identical, is listed
// under its prefix, is a file in the served directory, and is gone once deleted.
func TestObjectLifecycle(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "backups")
	c := s.Client(t)
	ctx := testContext(t)

	data := randomBytes(t, 64<<10)
	const key = "reports/production/0001/db.dump"
	if _, err := c.PutObject(ctx, "backups", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if _, err := c.PutObject(ctx, "backups", "other/x", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got := get(t, c, "backups", key); !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes, not the %d put", len(got), len(data))
	}
	onDisk, err := os.ReadFile(filepath.Join(s.Dir, "backups", filepath.FromSlash(key)))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("the object is not the file %s/backups/%s (%v)", s.Dir, key, err)
	}

	if diff := cmp.Diff([]string{key}, list(t, c, "backups", "reports/")); diff != "" {
		t.Errorf("list reports/ (-want +got):\n%s", diff)
	}

	if err := c.RemoveObject(ctx, "backups", key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if got := list(t, c, "backups", "reports/"); len(got) != 0 {
		t.Errorf("list reports/ after the delete: %v", got)
	}
	_, err = c.StatObject(ctx, "backups", key, minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).StatusCode; code != http.StatusNotFound {
		t.Errorf("stat after the delete: status %d (%v), want 404", code, err)
	}
}

// TestWrongSecretRefused: a request signed with the right access key but a wrong secret is
// refused with 403, and writes nothing.
func TestWrongSecretRefused(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "backups")
	bad := s.ClientWith(t, s.AccessKey, s.SecretKey+"x")
	ctx := testContext(t)

	_, err := bad.ListBuckets(ctx)
	if resp := minio.ToErrorResponse(err); resp.StatusCode != http.StatusForbidden {
		t.Errorf("list buckets with a wrong secret: status %d (%v), want 403", resp.StatusCode, err)
	}
	_, err = bad.PutObject(ctx, "backups", "intruder", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.StatusCode != http.StatusForbidden {
		t.Errorf("put with a wrong secret: status %d (%v), want 403", resp.StatusCode, err)
	}
	if got := list(t, s.Client(t), "backups", ""); len(got) != 0 {
		t.Errorf("the refused put stored %v", got)
	}
}

// TestSizes: an empty object and a 20 MiB one uploaded in parts round-trip byte-identical.
func TestSizes(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "backups")
	c := s.Client(t)
	for _, tc := range []struct {
		name  string
		size  int
		parts int // 0: a single PUT
	}{
		{"empty", 0, 0},
		{"20MiB-multipart", 20 << 20, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			data := randomBytes(t, tc.size)
			opts := minio.PutObjectOptions{}
			if tc.parts > 0 {
				opts.PartSize = uint64(tc.size / tc.parts)
			}
			info, err := c.PutObject(ctx, "backups", tc.name, bytes.NewReader(data), int64(len(data)), opts)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if info.Size != int64(tc.size) {
				t.Errorf("put reported %d bytes, want %d", info.Size, tc.size)
			}
			// A multipart upload's ETag is the MD5 of its parts' MD5s followed by -PARTS.
			st, err := c.StatObject(ctx, "backups", tc.name, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if parts := partsOf(st.ETag); parts != tc.parts {
				t.Errorf("ETag %q: an upload in %d parts, want %d", st.ETag, parts, tc.parts)
			}
			if got := get(t, c, "backups", tc.name); !bytes.Equal(got, data) {
				t.Fatalf("get returned %d bytes differing from the %d put", len(got), len(data))
			}
		})
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

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(testContext(t), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return data
}

func list(t *testing.T, c *minio.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range c.ListObjects(testContext(t), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}
