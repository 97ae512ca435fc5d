package seal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// A sealed stream encrypts data too large to hold in memory, such as a database backup,
// in chunks of at most ChunkSize bytes, each sealed with AES-256-GCM. Its layout:
//
//	header: magic "BERTH-SS", format version (1 byte), key id (6 bytes), chunk size
//	        (4 bytes, big-endian)
//	chunks: nonce (12 bytes) || ciphertext || tag (16 bytes), each of chunk size plaintext
//	        bytes but the last, which holds fewer (none for an empty stream or one whose
//	        length is a multiple of the chunk size)
//
// Each chunk's additional data is the header, the chunk's index, a last-chunk flag, the
// previous chunk's tag and the caller's aad, so that reordering, dropping, truncating (a
// missing last chunk), appending, or moving a stream to another aad all fail
// authentication. The previous tag chains each chunk to all those before it: streams are
// deterministic (below), so no random per-stream nonce keeps chunks of two streams sealed
// under one key and aad apart, and without the chain the chunks of two versions of a
// backup could be spliced. The reader needs no flag in the clear: a full chunk is never the
// last one, a short one always is.
//
// Streams are deterministic: the same key, aad and plaintext give the same bytes, so that
// a backup stored twice (to S3 and to a directory) is byte-identical. GCM must never use a
// nonce twice with different inputs, so the nonces are synthetic, as in SIV: each is the
// first 12 bytes of HMAC-SHA256, under a key of its own derived from the key, of
// everything the chunk's ciphertext depends on (its additional data and plaintext). A
// nonce repeats for the same input, which gives the same ciphertext again and reveals
// only that the inputs were equal, which determinism reveals anyway; for different inputs
// a 96-bit PRF output collides with probability about n²/2⁹⁷ over n distinct chunks,
// negligible below 2³² chunks (4 PiB under one key). The GCM key of streams is derived
// apart from the one of Seal, whose nonces are random.

// ChunkSize is the plaintext size of a sealed stream's chunks, but the last one.
const ChunkSize = 1 << 20

const (
	streamMagic   = "BERTH-SS"
	streamVersion = 1
	keyIDSize     = 6 // bytes of the key id, 12 hex digits
	headerSize    = len(streamMagic) + 1 + keyIDSize + 4
	nonceSize     = 12
	tagSize       = 16
	// The additional data of a chunk: header, index (8 bytes), last flag (1), the previous
	// chunk's tag (16, zeros for the first), the length of the caller's aad (8), and that
	// aad. Its fixed-size fields come first, so that it is unambiguous; the nonce's HMAC is
	// over it and then the plaintext.
	adIndex = headerSize
	adLast  = adIndex + 8
	adPrev  = adLast + 1
	adLen   = adPrev + tagSize
	adFixed = adLen + 8
)

// HKDF labels of the keys derived for streams (see Key).
const (
	streamKeyInfo = "berth seal stream: AES-256-GCM key"
	nonceKeyInfo  = "berth seal stream: HMAC-SHA256 nonce key"
)

// EncryptStream returns a writer that encrypts what is written to it into dst; Close
// writes the last chunk (it does not close dst). aad (not secret, not stored) must be
// given again to DecryptStream. It holds about two chunks in memory.
func (k *Key) EncryptStream(dst io.Writer, aad []byte) io.WriteCloser {
	return k.encryptStream(dst, aad, ChunkSize)
}

func (k *Key) encryptStream(dst io.Writer, aad []byte, chunkSize int) io.WriteCloser {
	if k == nil {
		return &encrypter{err: errors.New("seal: encrypt a stream: no key")}
	}
	id, _ := hex.DecodeString(k.id)
	header := binary.BigEndian.AppendUint32(append(append([]byte(streamMagic), streamVersion), id...), uint32(chunkSize))
	return &encrypter{
		k:    k,
		dst:  dst,
		ad:   additionalData(header, aad),
		mac:  hmac.New(sha256.New, k.nonceKey),
		buf:  make([]byte, 0, chunkSize),
		out:  make([]byte, 0, nonceSize+chunkSize+tagSize),
		size: chunkSize,
	}
}

// additionalData returns header followed by the fixed-size fields of a chunk's additional
// data (index 0, not last, no previous tag) and aad.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, adFixed, adFixed+len(aad))
	copy(ad, header)
	binary.BigEndian.PutUint64(ad[adLen:], uint64(len(aad)))
	return append(ad, aad...)
}

// setChunk sets the index and last flag of ad.
func setChunk(ad []byte, index uint64, last bool) {
	binary.BigEndian.PutUint64(ad[adIndex:], index)
	ad[adLast] = 0
	if last {
		ad[adLast] = 1
	}
}

type encrypter struct {
	k       *Key
	dst     io.Writer
	ad      []byte // header || chunk index || last flag || previous tag || aad length || aad
	mac     hash.Hash
	buf     []byte // plaintext of the next chunk, less than size bytes
	out     []byte // a sealed chunk
	sum     [sha256.Size]byte
	size    int
	index   uint64
	started bool // the header is written
	closed  bool
	err     error // sticky: once a write failed, the stream is broken
}

func (e *encrypter) Write(p []byte) (int, error) {
	if e.closed && e.err == nil {
		return 0, errors.New("seal: write to a closed stream")
	}
	n := 0
	for len(p) > 0 && e.err == nil {
		if len(e.buf) == 0 && len(p) >= e.size {
			// A whole chunk in p: seal it from there, without a copy.
			if e.seal(p[:e.size], false); e.err == nil {
				n, p = n+e.size, p[e.size:]
			}
			continue
		}
		m := copy(e.buf[len(e.buf):e.size], p)
		e.buf = e.buf[:len(e.buf)+m]
		n, p = n+m, p[m:]
		// A full chunk is sealed at once: it is not the last, which is always short.
		if len(e.buf) == e.size {
			e.seal(e.buf, false)
			e.buf = e.buf[:0]
		}
	}
	return n, e.err
}

// Close writes the last chunk, short or empty; it does not close dst.
func (e *encrypter) Close() error {
	if !e.closed && e.err == nil {
		e.seal(e.buf, true)
	}
	e.closed = true
	return e.err
}

// seal writes the header if it is not yet written, then plain as the next chunk.
func (e *encrypter) seal(plain []byte, last bool) {
	if !e.started {
		e.started = true
		if _, err := e.dst.Write(e.ad[:headerSize]); err != nil {
			e.err = err
			return
		}
	}
	setChunk(e.ad, e.index, last)
	e.mac.Reset()
	e.mac.Write(e.ad)
	e.mac.Write(plain)
	nonce := e.mac.Sum(e.sum[:0])[:nonceSize]
	e.out = e.k.stream.Seal(append(e.out[:0], nonce...), nonce, plain, e.ad)
	if _, err := e.dst.Write(e.out); err != nil {
		e.err = err
		return
	}
	copy(e.ad[adPrev:adLen], e.out[len(e.out)-tagSize:])
	e.index++
}

// DecryptStream returns a reader of the plaintext of src, a stream written by
// EncryptStream with the same aad. It yields only authenticated chunks: an altered,
// truncated, extended or moved stream fails with an error matching ErrAuth, after the
// chunks before the damage; a stream sealed with another key fails with a
// *WrongKeyError before any output. Errors reading src are returned as they are. It holds
// about one chunk in memory.
func (k *Key) DecryptStream(src io.Reader, aad []byte) io.Reader {
	return &decrypter{k: k, src: src, aad: aad}
}

type decrypter struct {
	k     *Key
	src   io.Reader
	aad   []byte
	ad    []byte // nil until the header is read
	frame []byte // a sealed chunk, decrypted in place
	plain []byte // what is left to return of the last opened chunk, in frame
	index uint64
	done  bool // the last chunk is opened
	err   error
}

func (d *decrypter) Read(p []byte) (int, error) {
	for len(d.plain) == 0 && !d.done && d.err == nil {
		d.err = d.next()
	}
	if len(d.plain) > 0 {
		n := copy(p, d.plain)
		d.plain = d.plain[n:]
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	return 0, io.EOF
}

// next reads the header when it is not yet read, then opens the next chunk into d.plain.
func (d *decrypter) next() error {
	if d.ad == nil {
		if err := d.readHeader(); err != nil {
			return err
		}
	}
	n, err := io.ReadFull(d.src, d.frame)
	last := false
	switch {
	case err == io.EOF:
		return fmt.Errorf("sealed stream: truncated after chunk %d: %w", d.index, ErrAuth)
	case err == io.ErrUnexpectedEOF:
		last = true // a short chunk is the last one
	case err != nil:
		return fmt.Errorf("sealed stream: read chunk %d: %w", d.index, err)
	}
	if n < nonceSize+tagSize {
		return fmt.Errorf("sealed stream: chunk %d is truncated: %w", d.index, ErrAuth)
	}
	setChunk(d.ad, d.index, last)
	sealed := d.frame[nonceSize:n]
	// Decryption in place may overwrite the tag, which the next chunk's additional data holds.
	var tag [tagSize]byte
	copy(tag[:], sealed[len(sealed)-tagSize:])
	plain, err := d.k.stream.Open(sealed[:0], d.frame[:nonceSize], sealed, d.ad)
	if err != nil {
		return fmt.Errorf("sealed stream: chunk %d: %w", d.index, ErrAuth)
	}
	copy(d.ad[adPrev:adLen], tag[:])
	d.plain, d.done = plain, last
	d.index++
	return nil
}

// readHeader reads and checks the header, and makes the buffers it sizes.
func (d *decrypter) readHeader() error {
	var h [headerSize]byte
	if _, err := io.ReadFull(d.src, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("sealed stream: the header is truncated: %w", ErrAuth)
		}
		return fmt.Errorf("sealed stream: read the header: %w", err)
	}
	rest, ok := bytes.CutPrefix(h[:], []byte(streamMagic))
	if !ok {
		return fmt.Errorf("sealed stream: not a sealed stream (no %s header): %w", streamMagic, ErrAuth)
	}
	if rest[0] != streamVersion {
		return fmt.Errorf("sealed stream: format version %d is not supported (only %d is): %w", rest[0], streamVersion, ErrAuth)
	}
	// The key id is checked before anything is decrypted, to name the key that is needed.
	id := hex.EncodeToString(rest[1 : 1+keyIDSize])
	if d.k == nil {
		return &WrongKeyError{Need: id}
	}
	if id != d.k.id {
		return &WrongKeyError{Need: id, Have: d.k.id, What: d.k.what}
	}
	size := binary.BigEndian.Uint32(rest[1+keyIDSize:])
	if size == 0 || size > ChunkSize {
		return fmt.Errorf("sealed stream: chunk size %d is out of range: %w", size, ErrAuth)
	}
	d.frame = make([]byte, nonceSize+int(size)+tagSize)
	d.ad = additionalData(h[:], d.aad)
	return nil
}
