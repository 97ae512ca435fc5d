package manifest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// blockedReader blocks in Read until released, as a read from a stuck
// mount does.
type blockedReader struct {
	reading, release chan struct{}
}

func (r *blockedReader) Read([]byte) (int, error) {
	close(r.reading)
	<-r.release
	return 0, io.EOF
}

// TestReadAllEndsWithContext checks that a read blocked in the OS ends
// when its context does.
func TestReadAllEndsWithContext(t *testing.T) {
	r := &blockedReader{reading: make(chan struct{}), release: make(chan struct{})}
	defer close(r.release)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-r.reading
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := readAll(ctx, r, 0, 100)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("readAll() error = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("readAll still blocked 30s after its context ended")
	}
}

func TestReadAllLimits(t *testing.T) {
	for _, tt := range []struct {
		data        string
		size, limit int64
		want        string
	}{
		{"hello", 5, 10, "hello"},
		{"hello", 0, 10, "hello"},   // size unknown or wrong: the buffer grows
		{"hello", 100, 10, "hello"}, // a size above the limit allocates no more than the limit
		{"hello world", 11, 6, "hello "},
		{"", 0, 1, ""},
	} {
		got, err := readAll(context.Background(), strings.NewReader(tt.data), tt.size, tt.limit)
		if err != nil || string(got) != tt.want {
			t.Errorf("readAll(%q, %d, %d) = %q, %v, want %q", tt.data, tt.size, tt.limit, got, err, tt.want)
		}
		got, err = readAll(t.Context(), strings.NewReader(tt.data), tt.size, tt.limit)
		if err != nil || string(got) != tt.want {
			t.Errorf("readAll(ctx, %q, %d, %d) = %q, %v, want %q", tt.data, tt.size, tt.limit, got, err, tt.want)
		}
	}
}
