package seal_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/seal"
)

func newKey(t *testing.T) (*seal.Key, string) {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	k, err := seal.ParseKey([]byte(text + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k, text
}

func TestSealOpen(t *testing.T) {
	k, _ := newKey(t)
	other, _ := newKey(t)
	if len(k.ID()) != 12 || k.ID() == other.ID() {
		t.Fatalf("key ids %q %q", k.ID(), other.ID())
	}
	plain := []byte("canary-value")
	aad := []byte("secret/app/shop/web/API_KEY#1")
	s, err := k.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != k.ID() || bytes.Contains(s.Ciphertext, plain) {
		t.Fatalf("sealed %+v", s)
	}
	again, _ := k.Seal(plain, aad)
	if bytes.Equal(again.Nonce, s.Nonce) || bytes.Equal(again.Ciphertext, s.Ciphertext) {
		t.Error("two seals of one value share a nonce or ciphertext")
	}
	got, err := k.Open(s, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	// Another record's aad, a flipped bit, another key, no key: errors, never garbage.
	if _, err := k.Open(s, []byte("secret/app/shop/web/OTHER#1")); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("Open with another aad: %v", err)
	}
	bad := s
	bad.Ciphertext = bytes.Clone(s.Ciphertext)
	bad.Ciphertext[0] ^= 1
	if _, err := k.Open(bad, aad); !errors.Is(err, seal.ErrAuth) {
		t.Errorf("Open of a flipped bit: %v", err)
	}
	var wrong *seal.WrongKeyError
	if _, err := other.Open(s, aad); !errors.As(err, &wrong) || wrong.Need != k.ID() || wrong.Have != other.ID() ||
		!strings.Contains(err.Error(), k.ID()) {
		t.Errorf("Open with another key: %v", err)
	}
	var none *seal.Key
	if _, err := none.Open(s, aad); !errors.Is(err, seal.ErrNoKey) || !strings.Contains(err.Error(), k.ID()) {
		t.Errorf("Open without a key: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	k, text := newKey(t)
	for _, form := range []string{text, strings.TrimRight(text, "="), "  " + text + "\r\n",
		strings.NewReplacer("+", "-", "/", "_").Replace(text)} {
		got, err := seal.ParseKey([]byte(form))
		if err != nil || got.ID() != k.ID() {
			t.Errorf("ParseKey(%q) = %v, %v", form, got, err)
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		_, err := seal.ParseKey([]byte(bad))
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseKey error quotes its input: %v", err)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.key")
	k, created, err := seal.LoadOrCreate(file)
	if err != nil || !created || k == nil {
		t.Fatalf("first LoadOrCreate: %v, created %v", err, created)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want 0600", err, fi.Mode())
	}
	again, created, err := seal.LoadOrCreate(file)
	if err != nil || created || again.ID() != k.ID() {
		t.Errorf("second LoadOrCreate: %v, created %v, id %s want %s", err, created, again.ID(), k.ID())
	}
	sealed, err := k.Seal([]byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := again.Open(sealed, nil); err != nil || string(v) != "v" {
		t.Errorf("the loaded key does not open what the created one sealed: %q, %v", v, err)
	}
	if _, _, err := seal.LoadOrCreate(filepath.Join(t.TempDir(), "missing-dir", "secrets.key")); err == nil {
		t.Error("LoadOrCreate in a missing directory succeeded")
	}
}
