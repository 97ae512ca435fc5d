package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// objectSize is the size of the object the probe puts: small, but more than one read.
const objectSize = 4 << 10

// checkObjectStore makes a round trip through the bucket: an object of random bytes put
// under berth-probe/, read back byte for byte, and deleted.
func checkObjectStore(ctx context.Context, c Config, _ *scrubber) (string, error) {
	for _, v := range []struct{ name, value string }{
		{EnvS3Endpoint, c.S3Endpoint}, {EnvS3Bucket, c.S3Bucket}, {EnvS3AccessKey, c.S3AccessKey}, {EnvS3SecretKey, c.S3SecretKey},
	} {
		if v.value == "" {
			return "", notConfigured(v.name)
		}
	}
	endpoint, secure, err := s3Endpoint(c.S3Endpoint)
	if err != nil {
		return "", err
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.S3AccessKey, c.S3SecretKey, ""),
		Secure: secure,
		Region: c.S3Region,
	})
	if err != nil {
		return "", fmt.Errorf("%s: %q: %w", EnvS3Endpoint, c.S3Endpoint, err)
	}
	key := "berth-probe/" + randomID()
	where := fmt.Sprintf("s3://%s/%s at %s://%s", c.S3Bucket, key, scheme, endpoint)
	if err := objectRoundTrip(ctx, client, c.S3Bucket, key); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return "put, get, delete " + where, nil
}

func objectRoundTrip(ctx context.Context, client *minio.Client, bucket, key string) error {
	data := make([]byte, objectSize)
	_, _ = rand.Read(data)
	if _, err := client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	removed := false
	defer func() {
		if !removed {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			_ = client.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
		}
	}()
	obj, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	got, err := io.ReadAll(io.LimitReader(obj, objectSize+1))
	obj.Close()
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("get: %d bytes differing from the %d put", len(got), len(data))
	}
	if err := client.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	removed = true
	return nil
}

// s3Endpoint splits BERTH_PROBE_S3_ENDPOINT into minio-go's host:port and whether it is
// https: http://host:port, https://host:port, or host:port for https.
func s3Endpoint(raw string) (hostport string, secure bool, err error) {
	if !strings.Contains(raw, "://") {
		return raw, true, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		return "", false, fmt.Errorf("%s: %q is not http(s)://host[:port] or host[:port]", EnvS3Endpoint, redactURL(raw))
	}
	return u.Host, u.Scheme == "https", nil
}
