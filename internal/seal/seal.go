// Package seal encrypts secret values at rest: AES-256-GCM under one 32-byte key, with a
// random nonce per value and additional data that binds each ciphertext to the record it
// belongs to, so that ciphertexts cannot be moved between records.
//
// A key is named by its id, a short hash of the key, which is stored next to every value
// it sealed: a value sealed with another key is reported by id, never decrypted to garbage.
//
// Keys also seal streams too large for memory, such as backups (stream.go):
// deterministically, in authenticated chunks.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// Hint says how to make and configure a key, for messages to operators.
const Hint = "start berth server with --secrets-key-file FILE (or BERTH_SECRETS_KEY) holding base64 of 32 random bytes, e.g. `head -c 32 /dev/urandom | base64 > FILE`"

// ErrNoKey means no key is configured.
var ErrNoKey = errors.New("no secrets key is configured: " + Hint)

// ErrAuth means a value did not decrypt: it was altered, or moved from another record.
var ErrAuth = errors.New("the stored value failed authentication: it was altered or does not belong to this record")

// WrongKeyError says a value was sealed with a key other than the configured one.
type WrongKeyError struct {
	Need string // the key id that sealed the value
	Have string // the configured key's id; "" when none is configured
	// What names the key's use when it is not the secrets key (""), e.g. "backup": the
	// message then names the server flag --<What>-key-file. See [Key.Named].
	What string
}

func (e *WrongKeyError) Error() string {
	if e.What != "" {
		if e.Have == "" {
			return fmt.Sprintf("this %[1]s is encrypted with %[1]s key id %[2]s, but no %[1]s key is configured: start berth server with --%[1]s-key-file holding the key with id %[2]s", e.What, e.Need)
		}
		return fmt.Sprintf("this %[1]s is encrypted with %[1]s key id %[2]s, but the configured %[1]s key has id %[3]s: start berth server with --%[1]s-key-file holding the key with id %[2]s", e.What, e.Need, e.Have)
	}
	if e.Have == "" {
		return fmt.Sprintf("secrets are encrypted with key id %s, but no secrets key is configured: %s", e.Need, Hint)
	}
	return fmt.Sprintf("secrets are encrypted with key id %s, but the configured key has id %s: configure the key with id %s (after `berth server rotate-key`, the new key)", e.Need, e.Have, e.Need)
}

// Is makes a WrongKeyError without a configured key match ErrNoKey.
func (e *WrongKeyError) Is(target error) bool { return target == ErrNoKey && e.Have == "" }

// Key is an AES-256-GCM key.
type Key struct {
	id   string
	aead cipher.AEAD
	// stream is the AES-256-GCM key of sealed streams and nonceKey the HMAC-SHA256 key
	// their nonces are derived with (stream.go): both are derived from the key, apart
	// from each other and from aead, so that the random nonces of Seal and the synthetic
	// ones of streams never meet under one GCM key.
	stream   cipher.AEAD
	nonceKey []byte
	what     string // see Named
}

// NewKey returns the key made of raw, which must be KeySize bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("a secrets key must be %d bytes, not %d", KeySize, len(raw))
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	streamKey, err := hkdf.Key(sha256.New, raw, nil, streamKeyInfo, KeySize)
	if err != nil {
		return nil, err
	}
	stream, err := newGCM(streamKey)
	if err != nil {
		return nil, err
	}
	nonceKey, err := hkdf.Key(sha256.New, raw, nil, nonceKeyInfo, sha256.Size)
	if err != nil {
		return nil, err
	}
	// A domain-separated hash: the id names the key without being usable as anything else.
	sum := sha256.Sum256(append([]byte("berth secrets key id\x00"), raw...))
	return &Key{id: hex.EncodeToString(sum[:6]), aead: aead, stream: stream, nonceKey: nonceKey}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseKey reads a key written as base64 (standard or URL alphabet, padded or not) of
// KeySize bytes; surrounding white space is ignored. Errors never quote the input.
func ParseKey(text []byte) (*Key, error) {
	s := strings.TrimSpace(string(text))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != KeySize {
				return nil, fmt.Errorf("the secrets key is %d bytes, want %d: generate one with `head -c 32 /dev/urandom | base64`", len(raw), KeySize)
			}
			return NewKey(raw)
		}
	}
	return nil, errors.New("the secrets key is not base64: generate one with `head -c 32 /dev/urandom | base64`")
}

// ID returns the key's id: 12 hex digits of a hash of the key.
func (k *Key) ID() string { return k.id }

// Named returns k for a use other than secrets, e.g. "backup": a *WrongKeyError from it
// then speaks of that key and of the server flag --<what>-key-file. A nil k stays nil,
// whose errors speak of the secrets key: check for a missing key before.
func (k *Key) Named(what string) *Key {
	if k == nil {
		return nil
	}
	named := *k
	named.what = what
	return &named
}

// Sealed is a value sealed with a key.
type Sealed struct {
	KeyID      string
	Nonce      []byte
	Ciphertext []byte // with the GCM tag
}

// Seal encrypts plaintext under k with a fresh random nonce; aad (not secret, not stored
// with the value) must be given again to Open.
func (k *Key) Seal(plaintext, aad []byte) (Sealed, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("seal: nonce: %w", err)
	}
	return Sealed{KeyID: k.id, Nonce: nonce, Ciphertext: k.aead.Seal(nil, nonce, plaintext, aad)}, nil
}

// Open decrypts s. It returns a *WrongKeyError when s was sealed with another key, and
// ErrAuth when the ciphertext, nonce or aad differ from what Seal was given.
func (k *Key) Open(s Sealed, aad []byte) ([]byte, error) {
	if k == nil {
		return nil, &WrongKeyError{Need: s.KeyID}
	}
	if s.KeyID != k.id {
		return nil, &WrongKeyError{Need: s.KeyID, Have: k.id, What: k.what}
	}
	if len(s.Nonce) != k.aead.NonceSize() {
		return nil, ErrAuth
	}
	out, err := k.aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Load returns the key in file when file is not "", or else the key written in text (the
// value of an environment variable); neither gives nil. Errors name the file, never its
// content.
func Load(file, text string) (*Key, error) {
	switch {
	case file != "" && text != "":
		return nil, errors.New("give the secrets key as a file or in the environment, not both")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("secrets key: %w", err)
		}
		k, err := ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("secrets key file %s: %w", file, err)
		}
		return k, nil
	case text != "":
		return ParseKey([]byte(text))
	}
	return nil, nil
}

// LoadOrCreate returns the key in file, creating the file with a new random key (mode
// 0600, written whole before it appears) when there is none; created says which. It is
// the default key of a server that was given none.
func LoadOrCreate(file string) (k *Key, created bool, err error) {
	k, err = Load(file, "")
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	raw := make([]byte, KeySize)
	rand.Read(raw) // never fails (crypto/rand since Go 1.24)
	tmp, err := os.CreateTemp(filepath.Dir(file), ".secrets-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("secrets key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		// A hard link fails if another process made the file meanwhile: then use that one.
		if err == nil {
			err = os.Link(tmp.Name(), file)
		}
		if errors.Is(err, fs.ErrExist) {
			k, err = Load(file, "")
			return k, false, err
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("secrets key %s: %w", file, err)
	}
	k, err = NewKey(raw)
	return k, true, err
}
