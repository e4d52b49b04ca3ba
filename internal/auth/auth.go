// Package auth holds the credentials of Roster's admins and scripts: argon2id password
// hashes in the PHC string format, random secrets for sessions, CSRF and API tokens, and
// the SHA-256 digests under which the store keeps those secrets.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. The defaults follow OWASP's password storage
// cheat sheet (19 MiB, 2 passes, 1 lane): a sign-in costs ~30 ms on one core.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultParams are used by HashPassword.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MinPasswordLength is the shortest password accepted for a new admin (NIST 800-63B).
const MinPasswordLength = 10

// MaxPasswordLength bounds the work a sign-in request can ask of argon2.
const MaxPasswordLength = 1024

// NewPasswordProblem says what is wrong with a new admin's password, in a sentence for
// the form or the command line, or "" when it is acceptable: at least MinPasswordLength
// characters, at most MaxPasswordLength bytes, and not only white space. The web's forms
// and `roster admin create` share it.
func NewPasswordProblem(p string) string {
	switch {
	case strings.TrimSpace(p) == "":
		return "The password is blank."
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLength)
	case len(p) > MaxPasswordLength:
		return "That password is too long."
	}
	return ""
}

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func HashPassword(password string) (string, error) {
	return hashWith(password, DefaultParams)
}

func hashWith(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// CheckPassword reports whether password matches the PHC-encoded argon2id hash, in time
// that does not depend on where the two differ.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformedHash
	}
	// Refuse absurd costs from a tampered row rather than allocate gigabytes.
	if p.Memory == 0 || p.Memory > 1<<21 || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return false, ErrMalformedHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 1024 {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when no admin has the email, so that an unknown email
// takes as long as a wrong password (no account enumeration by timing).
var dummyHash, _ = HashPassword("roster-dummy-password")

// CheckDummy spends the time of one password check.
func CheckDummy(password string) {
	_, _ = CheckPassword(dummyHash, password)
}

// NewSecret returns a random 256-bit secret, URL-safe base64 encoded, for session cookies,
// CSRF tokens and API tokens.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ crashes instead).
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenPrefix starts every API token, so that a leaked token is easy to recognise
// (secret scanners) and to tell from a session cookie.
const TokenPrefix = "rst_"

// NewAPIToken returns a new API token secret.
func NewAPIToken() string { return TokenPrefix + NewSecret() }

// Digest returns the hex SHA-256 of a secret: what the store keeps for session cookies
// and API tokens. A secret has 256 bits of entropy, so a fast hash is enough (unlike a
// password, it cannot be guessed from a dictionary).
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
