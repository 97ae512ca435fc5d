package seal_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/berth-dev/berth/internal/seal"
)

// encrypt seals plain into a stream, written in pieces of step bytes (all at once for 0).
func encrypt(t testing.TB, k *seal.Key, plain, aad []byte, step int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := k.EncryptStream(&out, aad)
	writeAll(t, w, plain, step)
	return out.Bytes()
}

// encryptChunk is encrypt with chunks of size bytes.
func encryptChunk(t testing.TB, k *seal.Key, plain, aad []byte, size int) []byte {
	t.Helper()
	var out bytes.Buffer
	writeAll(t, k.EncryptStreamChunk(&out, aad, size), plain, 0)
	return out.Bytes()
}

func writeAll(t testing.TB, w io.WriteCloser, plain []byte, step int) {
	t.Helper()
	if step == 0 {
		step = max(len(plain), 1)
	}
	for p := plain; len(p) > 0; {
		n := min(step, len(p))
		if m, err := w.Write(p[:n]); err != nil || m != n {
			t.Fatalf("write: %d of %d bytes, %v", m, n, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// decrypt reads the whole plaintext of sealed; on an error it returns what was read before.
func decrypt(k *seal.Key, sealed, aad []byte) ([]byte, error) {
	return io.ReadAll(k.DecryptStream(bytes.NewReader(sealed), aad))
}

// fixedKey returns a key made of n repeated, the same in every run (for the fuzz corpus).
func fixedKey(t testing.TB, n byte) *seal.Key {
	t.Helper()
	k, err := seal.NewKey(bytes.Repeat([]byte{n}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// overhead is the size of a stream's header, and of a chunk's nonce and tag.
const (
	headerSize = 19
	chunkExtra = 12 + 16
)

func TestStreamRoundTrip(t *testing.T) {
	k, _ := newKey(t)
	aad := []byte("backup/shop/notes/production/17/db.dump")
	const c = seal.ChunkSize
	for _, size := range []int{0, 1, c - 1, c, c + 1, 3*c + c/2} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			plain := randomBytes(size)
			sealed := encrypt(t, k, plain, aad, 0)
			// Full chunks, then a short last one (empty when size is a multiple of c).
			if want := headerSize + (size/c+1)*chunkExtra + size; len(sealed) != want {
				t.Errorf("%d bytes sealed into %d, want %d", size, len(sealed), want)
			}
			if size > 16 && bytes.Contains(sealed, plain[:16]) {
				t.Error("the stream holds plaintext")
			}
			got, err := decrypt(k, sealed, aad)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt: %d bytes (want %d), %v", len(got), size, err)
			}
			// Short reads of the stream and small reads of the plaintext.
			r := k.DecryptStream(iotest.HalfReader(bytes.NewReader(sealed)), aad)
			got, err = io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 3000)))
			if want := plain[:min(size, 3000)]; err != nil || !bytes.Equal(got, want) {
				t.Fatalf("decrypt by short reads: %d bytes, %v", len(got), err)
			}
			if err := iotest.TestReader(k.DecryptStream(iotest.DataErrReader(bytes.NewReader(sealed)), aad), plain); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestStreamDeterministic: one key, aad and plaintext give one stream however it is
// written; another aad or key gives another.
func TestStreamDeterministic(t *testing.T) {
	k, _ := newKey(t)
	other, _ := newKey(t)
	plain := randomBytes(2*seal.ChunkSize + 12345)
	aad := []byte("backup/1")
	sealed := encrypt(t, k, plain, aad, 0)
	for _, step := range []int{1 << 10, 7777, seal.ChunkSize, seal.ChunkSize + 1} {
		if again := encrypt(t, k, plain, aad, step); !bytes.Equal(again, sealed) {
			t.Errorf("written in pieces of %d bytes, the stream differs", step)
		}
	}
	if again := encrypt(t, k, plain, []byte("backup/2"), 0); bytes.Equal(again[headerSize:], sealed[headerSize:]) {
		t.Error("another aad gives the same stream")
	}
	if again := encrypt(t, other, plain, aad, 0); bytes.Equal(again[headerSize:], sealed[headerSize:]) {
		t.Error("another key gives the same stream")
	}
	// Equal chunks at other positions are sealed apart (the index is in the nonce).
	zeros := make([]byte, 2*seal.ChunkSize)
	z := encrypt(t, k, zeros, aad, 0)
	first, second := z[headerSize:headerSize+chunkExtra+seal.ChunkSize], z[headerSize+chunkExtra+seal.ChunkSize:][:chunkExtra+seal.ChunkSize]
	if bytes.Equal(first[:12], second[:12]) || bytes.Equal(first[12:], second[12:]) {
		t.Error("two equal chunks share a nonce or ciphertext")
	}
}

// chunked is a stream of small chunks split into its header and chunks.
type chunked struct {
	header []byte
	chunks [][]byte
}

func split(sealed []byte, size int) chunked {
	c := chunked{header: sealed[:headerSize]}
	for rest := sealed[headerSize:]; len(rest) > 0; {
		n := min(len(rest), size+chunkExtra)
		c.chunks = append(c.chunks, rest[:n])
		rest = rest[n:]
	}
	return c
}

func (c chunked) join(order ...int) []byte {
	out := bytes.Clone(c.header)
	for _, i := range order {
		out = append(out, c.chunks[i]...)
	}
	return out
}

// TestStreamTamper: every change to a stream fails with ErrAuth, after only chunks of the
// original plaintext.
func TestStreamTamper(t *testing.T) {
	k, _ := newKey(t)
	aad := []byte("backup/7")
	const size = 16
	plain := randomBytes(3*size + 5) // chunks of 16, 16, 16 and 5 bytes
	s := split(encryptChunk(t, k, plain, aad, size), size)
	even := split(encryptChunk(t, k, plain[:2*size], aad, size), size) // 16, 16, and an empty last
	other := split(encryptChunk(t, k, randomBytes(len(plain)), aad, size), size)
	if len(s.chunks) != 4 || len(even.chunks) != 3 {
		t.Fatalf("%d and %d chunks", len(s.chunks), len(even.chunks))
	}
	if got, err := decrypt(k, s.join(0, 1, 2, 3), aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the untouched stream: %v", err)
	}
	extended := s.join(0, 1, 2, 3)
	for _, tc := range []struct {
		name   string
		sealed []byte
		aad    []byte
	}{
		{"reordered", s.join(1, 0, 2, 3), aad},
		{"chunk dropped", s.join(0, 2, 3), aad},
		{"last chunk dropped", s.join(0, 1, 2), aad},
		{"empty last chunk dropped", even.join(0, 1), aad},
		{"chunk repeated", s.join(0, 0, 1, 2, 3), aad},
		{"chunk appended", s.join(0, 1, 2, 3, 0), aad},
		{"byte appended", append(bytes.Clone(extended), 0), aad},
		{"last chunk cut short", extended[:len(extended)-1], aad},
		{"cut inside a chunk", extended[:headerSize+size+chunkExtra+5], aad},
		{"header only", s.header, aad},
		{"empty", nil, aad},
		{"another aad", extended, []byte("backup/8")},
		{"no aad", extended, nil},
		// Another version of the stream, sealed under the same key and aad: chunks at the
		// same index are not interchangeable.
		{"last chunk of another version", slices.Concat(s.join(0, 1, 2), other.chunks[3]), aad},
		{"chunk of another version", slices.Concat(s.join(0), other.chunks[1], s.chunks[2], s.chunks[3]), aad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decrypt(k, tc.sealed, tc.aad)
			if !errors.Is(err, seal.ErrAuth) {
				t.Errorf("decrypt: %v, want ErrAuth", err)
			}
			if !bytes.HasPrefix(plain, got) {
				t.Errorf("decrypt returned %d bytes that are not the plaintext's start", len(got))
			}
		})
	}
}

// TestStreamFlippedByte: a flipped bit anywhere (header, nonce, ciphertext, tag) fails.
func TestStreamFlippedByte(t *testing.T) {
	k, _ := newKey(t)
	aad := []byte("backup/9")
	plain := randomBytes(40)
	sealed := encryptChunk(t, k, plain, aad, 16)
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			got, err := decrypt(k, bad, aad)
			var wrong *seal.WrongKeyError
			if !errors.Is(err, seal.ErrAuth) && !errors.As(err, &wrong) {
				t.Fatalf("byte %d ^ %#x: decrypt: %v, want ErrAuth or a wrong key", i, bit, err)
			}
			if !bytes.HasPrefix(plain, got) {
				t.Fatalf("byte %d ^ %#x: decrypt returned bytes that are not the plaintext's start", i, bit)
			}
		}
	}
}

func TestStreamWrongKey(t *testing.T) {
	k, _ := newKey(t)
	other, _ := newKey(t)
	sealed := encrypt(t, k, []byte("the dump"), nil, 0)

	got, err := decrypt(other, sealed, nil)
	var wrong *seal.WrongKeyError
	if !errors.As(err, &wrong) || wrong.Need != k.ID() || wrong.Have != other.ID() || wrong.What != "" || len(got) != 0 {
		t.Errorf("decrypt with another key: %q, %v", got, err)
	}

	got, err = decrypt(other.Named("backup"), sealed, nil)
	want := fmt.Sprintf("this backup is encrypted with backup key id %s, but the configured backup key has id %s: start berth server with --backup-key-file holding the key with id %s", k.ID(), other.ID(), k.ID())
	if err == nil || err.Error() != want || len(got) != 0 {
		t.Errorf("decrypt with another backup key: %q, %v\nwant error %s", got, err, want)
	}
	if got, err := decrypt(k.Named("backup"), sealed, nil); err != nil || string(got) != "the dump" {
		t.Errorf("decrypt with the named key: %q, %v", got, err)
	}

	var none *seal.Key
	if none.Named("backup") != nil {
		t.Error("a nil key named is not nil")
	}
	if _, err := decrypt(none, sealed, nil); !errors.As(err, &wrong) || wrong.Need != k.ID() || !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("decrypt without a key: %v", err)
	}
	if err := none.EncryptStream(io.Discard, nil).Close(); err == nil {
		t.Error("encrypt without a key succeeded")
	}
}

func TestWrongKeyErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  seal.WrongKeyError
		want string
	}{
		{seal.WrongKeyError{Need: "aaaaaaaaaaaa", Have: "bbbbbbbbbbbb"},
			"secrets are encrypted with key id aaaaaaaaaaaa, but the configured key has id bbbbbbbbbbbb: configure the key with id aaaaaaaaaaaa (after `berth server rotate-key`, the new key)"},
		{seal.WrongKeyError{Need: "aaaaaaaaaaaa"},
			"secrets are encrypted with key id aaaaaaaaaaaa, but no secrets key is configured: " + seal.Hint},
		{seal.WrongKeyError{Need: "aaaaaaaaaaaa", Have: "bbbbbbbbbbbb", What: "backup"},
			"this backup is encrypted with backup key id aaaaaaaaaaaa, but the configured backup key has id bbbbbbbbbbbb: start berth server with --backup-key-file holding the key with id aaaaaaaaaaaa"},
		{seal.WrongKeyError{Need: "aaaaaaaaaaaa", What: "backup"},
			"this backup is encrypted with backup key id aaaaaaaaaaaa, but no backup key is configured: start berth server with --backup-key-file holding the key with id aaaaaaaaaaaa"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.err, got, tc.want)
		}
	}
}

// TestNamedKeySealOpen: Open with a named key names it in a wrong key error.
func TestNamedKeySealOpen(t *testing.T) {
	k, _ := newKey(t)
	other, _ := newKey(t)
	s, err := k.Named("backup").Seal([]byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := k.Open(s, nil); err != nil || string(v) != "v" {
		t.Errorf("Open of a value sealed by the named key: %q, %v", v, err)
	}
	var wrong *seal.WrongKeyError
	if _, err := other.Named("backup").Open(s, nil); !errors.As(err, &wrong) || wrong.What != "backup" {
		t.Errorf("Open with another named key: %v", err)
	}
}

// TestStreamLarge streams 1 GiB through encryption and decryption in constant memory.
func TestStreamLarge(t *testing.T) {
	k, _ := newKey(t)
	const size = 1 << 30
	aad := []byte("backup/large")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	pr, pw := io.Pipe()
	go func() {
		w := k.EncryptStream(pw, aad)
		_, err := io.Copy(w, io.LimitReader(&pattern{}, size))
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	want, got := sha256.New(), sha256.New()
	io.Copy(want, io.LimitReader(&pattern{}, size))
	n, err := io.Copy(got, k.DecryptStream(pr, aad))
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("decrypted %d bytes (want %d), %v, equal %v", n, size, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MiB for a 1 GiB stream", alloc>>20)
	}
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

// FuzzDecryptStream: decrypting any bytes never panics, and only the streams sealed here
// decrypt, each to its own plaintext.
func FuzzDecryptStream(f *testing.F) {
	k := fixedKey(f, 1)
	aad := []byte("backup/fuzz")
	streams := map[string][]byte{} // sealed -> plaintext
	for _, tc := range []struct{ size, chunk int }{{0, 16}, {5, 16}, {16, 16}, {40, 16}, {100, 7}, {3, 1}, {300, seal.ChunkSize}} {
		plain := bytes.Repeat([]byte{byte(tc.size)}, tc.size)
		for i := range plain {
			plain[i] += byte(i)
		}
		sealed := encryptChunk(f, k, plain, aad, tc.chunk)
		streams[string(sealed)] = plain
		f.Add(sealed)
	}
	f.Add([]byte("BERTH-SS"))
	f.Add([]byte("BERTH-SS\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := io.ReadAll(k.DecryptStream(bytes.NewReader(data), aad))
		if err != nil {
			var wrong *seal.WrongKeyError
			if !errors.Is(err, seal.ErrAuth) && !errors.As(err, &wrong) {
				t.Fatalf("decrypt: %v, want ErrAuth or a wrong key", err)
			}
			for _, plain := range streams {
				if bytes.HasPrefix(plain, got) {
					return
				}
			}
			t.Fatalf("decrypt failed after %d bytes of no sealed plaintext", len(got))
		}
		plain, ok := streams[string(data)]
		if !ok || !bytes.Equal(got, plain) {
			t.Fatalf("a stream not sealed here decrypted to %d bytes", len(got))
		}
	})
}

func BenchmarkEncryptStream(b *testing.B) {
	k := fixedKey(b, 2)
	plain := randomBytes(64 << 20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		w := k.EncryptStream(io.Discard, []byte("backup/bench"))
		if _, err := w.Write(plain); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptStream(b *testing.B) {
	k := fixedKey(b, 2)
	aad := []byte("backup/bench")
	sealed := encrypt(b, k, randomBytes(64<<20), aad, 0)
	b.SetBytes(64 << 20)
	for b.Loop() {
		if _, err := io.Copy(io.Discard, k.DecryptStream(bytes.NewReader(sealed), aad)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStreamIOErrors: errors of dst and src are returned as they are, not as ErrAuth, and
// a stream cannot be written once closed.
func TestStreamIOErrors(t *testing.T) {
	k, _ := newKey(t)
	errDisk := errors.New("disk full")
	w := k.EncryptStreamChunk(&failWriter{n: 2, err: errDisk}, nil, 16) // the header and a chunk
	if _, err := w.Write(make([]byte, 40)); !errors.Is(err, errDisk) {
		t.Errorf("write to a failing dst: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("close after a failed write: %v", err)
	}

	w = k.EncryptStream(io.Discard, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after close succeeded")
	}

	errNet := errors.New("connection reset")
	sealed := encryptChunk(t, k, randomBytes(40), nil, 16)
	for _, cut := range []int{5, headerSize + 20} {
		src := io.MultiReader(bytes.NewReader(sealed[:cut]), iotest.ErrReader(errNet))
		if _, err := io.ReadAll(k.DecryptStream(src, nil)); !errors.Is(err, errNet) || errors.Is(err, seal.ErrAuth) {
			t.Errorf("decrypt of a src failing after %d bytes: %v", cut, err)
		}
	}
}

// failWriter accepts n writes, then fails.
type failWriter struct {
	n   int
	err error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, w.err
	}
	w.n--
	return len(p), nil
}
