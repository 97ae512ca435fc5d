package pgadmin

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// passwordAlphabet needs no escaping in a postgres:// URL, a SQL literal or a shell; its
// 64 letters let the low six bits of a random byte pick one without bias.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const (
	passwordLen    = 32
	minPasswordLen = 16
	maxPasswordLen = 128
)

// NewPassword returns 32 random characters of A-Z, a-z, 0-9, '-' and '_' (192 bits).
func NewPassword() (string, error) {
	b := make([]byte, passwordLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new password: %w", err)
	}
	for i := range b {
		b[i] = passwordAlphabet[b[i]&63]
	}
	return string(b), nil
}

// checkPassword refuses what NewPassword would not make, without repeating it.
func checkPassword(p string) error {
	if len(p) < minPasswordLen || len(p) > maxPasswordLen {
		return fmt.Errorf("password has %d characters, want %d to %d (use NewPassword)", len(p), minPasswordLen, maxPasswordLen)
	}
	for i := 0; i < len(p); i++ {
		if strings.IndexByte(passwordAlphabet, p[i]) < 0 {
			return fmt.Errorf("password character %d is not one of A-Z a-z 0-9 - _ (use NewPassword)", i+1)
		}
	}
	return nil
}

// scramVerifier returns the SCRAM-SHA-256 verifier that PostgreSQL stores for password
// (RFC 5802 and 7677, in PostgreSQL's text form). Sending it instead of the password, as
// psql's \password does, keeps the password out of the server: PostgreSQL stores a
// verifier as given, while the statement text may land in its log (log_statement = 'ddl',
// or log_min_error_statement when the statement fails), pg_stat_statements and
// pg_stat_activity. SASLprep is the identity on checkPassword's ASCII alphabet.
func scramVerifier(password string) (string, error) {
	const iterations = 4096 // PostgreSQL's default scram_iterations
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("salt password: %w", err)
	}
	mac := func(msg string) []byte {
		m := hmac.New(sha256.New, salted)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	stored := sha256.Sum256(mac("Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac("Server Key"))), nil
}

// literal quotes s as a SQL string literal. s must hold no backslash, whose meaning
// depends on standard_conforming_strings, and no NUL byte, which PostgreSQL refuses: a
// SCRAM verifier's base64 has neither.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// scrub returns err, unless its message holds one of secrets: then an error with the
// secrets masked, which no longer wraps err, since unwrapping would bring them back.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg, leaked := err.Error(), false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg, leaked = strings.ReplaceAll(msg, s, "*****"), true
		}
	}
	if !leaked {
		return err
	}
	return errors.New(msg)
}
