package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	// partSize is the size of the parts of a multipart upload, and so the memory a Put
	// holds: minio-go buffers one part of a stream of unknown size, by default 1/10000 of
	// 5 TiB. With 16 MiB parts (S3 allows 10000 of them) an object is at most 156 GiB.
	partSize = 16 << 20
	// singlePutMax is the size up to which an object goes in one PUT, read first: a
	// multipart upload of one small part costs three requests instead of one.
	singlePutMax = 5 << 20
)

// S3Config says where an S3 store is and how to sign in.
type S3Config struct {
	Endpoint  string // host:port of the S3 API, without a scheme
	Secure    bool   // https, rather than http
	Bucket    string
	Prefix    string // joined in front of names, e.g. "berth" for berth/shop/...; may be ""
	Region    string // "" to ask the server
	AccessKey string
	SecretKey string
}

// String describes the configuration without its secret key, in case one is printed.
func (c S3Config) String() string {
	return fmt.Sprintf("{Endpoint:%s Secure:%v Bucket:%s Prefix:%s Region:%s AccessKey:%s SecretKey:REDACTED}",
		c.Endpoint, c.Secure, c.Bucket, c.Prefix, c.Region, c.AccessKey)
}

// S3 stores objects in an S3 bucket, under a prefix. Its Puts stream in multipart uploads,
// which S3 shows only once complete and which are aborted on an error.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	desc   string
}

// NewS3 returns the store cfg describes. It does not contact the server: Check does.
func NewS3(cfg S3Config) (*S3, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, berth.Invalid("s3 endpoint", "an endpoint (host:port) is required")
	case strings.Contains(cfg.Endpoint, "://"):
		return nil, berth.Invalid("s3 endpoint", "%q: give host:port without a scheme (https is the secure setting)", cfg.Endpoint)
	case cfg.AccessKey == "" || cfg.SecretKey == "":
		return nil, berth.Invalid("s3 credentials", "an access key and a secret key are required")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, berth.Invalid("s3 bucket", "%q: %v", cfg.Bucket, err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := CheckName(prefix); err != nil {
			return nil, berth.Invalid("s3 prefix", "%v", err)
		}
		prefix += "/"
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, berth.Invalid("s3 endpoint", "%q: %v", cfg.Endpoint, err)
	}
	scheme := "http"
	if cfg.Secure {
		scheme = "https"
	}
	desc := "s3://" + cfg.Bucket
	if prefix != "" {
		desc += "/" + strings.TrimSuffix(prefix, "/")
	}
	desc += " at " + scheme + "://" + cfg.Endpoint
	return &S3{client: client, bucket: cfg.Bucket, prefix: prefix, desc: desc}, nil
}

// String describes the store for messages: "s3://bucket/prefix at http://endpoint".
func (s *S3) String() string { return s.desc }

// Put stores what r yields as the object name, replacing any, and returns its size. It
// holds at most about 21 MiB of it in memory; a failed Put, or one whose ctx is cancelled,
// aborts its upload and leaves nothing under name.
func (s *S3) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	n, err := s.put(ctx, name, r)
	if err != nil {
		return 0, fmt.Errorf("put %s in %s: %w", name, s, err)
	}
	return n, nil
}

func (s *S3) put(ctx context.Context, name string, r io.Reader) (int64, error) {
	r = ctxReader{ctx, r}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: partSize}
	head := make([]byte, singlePutMax)
	n, err := io.ReadFull(r, head)
	var info minio.UploadInfo
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		info, err = s.client.PutObject(ctx, s.bucket, s.prefix+name, bytes.NewReader(head[:n]), int64(n), opts)
	case nil:
		info, err = s.client.PutObject(ctx, s.bucket, s.prefix+name, io.MultiReader(bytes.NewReader(head), r), -1, opts)
	default:
		return 0, err
	}
	if err != nil {
		return 0, explain(err)
	}
	return info.Size, nil
}

// explain maps S3's errors that callers branch on, or that operators must act on, to
// berth's errors and plain words; the S3 error stays wrapped.
func explain(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey:
		return berth.ErrNotFound
	case minio.NoSuchBucket:
		return fmt.Errorf("the bucket does not exist: %w", err)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("the server refused the request's signature: the secret key is wrong: %w", err)
	case minio.InvalidAccessKeyID, "XAdminUserNotFound": // the latter from versitygw
		return fmt.Errorf("the server does not know the access key: %w", err)
	case minio.AccessDenied:
		return fmt.Errorf("access denied to the credentials: %w", err)
	}
	return err
}

// Open returns a reader of the object name; a missing object is berth.ErrNotFound.
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	rc, err := s.open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", name, s, err)
	}
	return rc, nil
}

func (s *S3) open(ctx context.Context, name string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, explain(err)
	}
	// GetObject sends nothing until the first read or Stat: ask now, to report a missing
	// object here rather than on a read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, explain(err)
	}
	return obj, nil
}

// Stat describes the object name; a missing object is berth.ErrNotFound.
func (s *S3) Stat(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return Object{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, fmt.Errorf("stat %s in %s: %w", name, s, explain(err))
	}
	return Object{Name: name, Size: info.Size, Modified: info.LastModified}, nil
}

// Delete removes the object name; a missing object is no error.
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := s.delete(ctx, name); err != nil {
		return fmt.Errorf("delete %s in %s: %w", name, s, err)
	}
	return nil
}

func (s *S3) delete(ctx context.Context, name string) error {
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{})
	if err = explain(err); err == berth.ErrNotFound {
		return nil
	}
	return err
}

// List returns the objects whose names begin with prefix, sorted by name. Objects under
// the store's prefix whose names are not valid (not written here) are left out.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	objects, err := s.list(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q in %s: %w", prefix, s, err)
	}
	return objects, nil
}

func (s *S3) list(ctx context.Context, prefix string) ([]Object, error) {
	// Cancelled on return, it stops the listing's goroutine.
	listCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var objects []Object
	for o := range s.client.ListObjects(listCtx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, explain(o.Err)
		}
		name, ok := strings.CutPrefix(o.Key, s.prefix)
		if !ok || CheckName(name) != nil {
			continue
		}
		objects = append(objects, Object{Name: name, Size: o.Size, Modified: o.LastModified})
	}
	// A cancelled listing may end without an error.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(objects, func(a, b Object) int { return strings.Compare(a.Name, b.Name) })
	return objects, nil
}

// Check verifies that the bucket is reachable and writable with the credentials, by
// writing, reading back and deleting a probe object.
func (s *S3) Check(ctx context.Context) error { return check(ctx, s) }
