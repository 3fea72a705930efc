package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// API keys look like "wk_" + 43 base64url characters (32 random bytes), or in
// E2B's form "e2b_" + 40 hex digits (20 random bytes) for clients that check
// the form. Both work on every route. Only their SHA-256 is stored, with the
// first characters kept for display.
const (
	apiKeyPrefix     = "wk_"
	e2bKeyPrefix     = "e2b_"
	apiKeyDisplayLen = 10
	minPasswordLen   = 10
)

// bcryptCost is the password hashing cost; tests lower it.
var bcryptCost = 11

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("api: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Key formats accepted by POST /v1/api-keys.
const (
	keyFormatWarren = "warren"
	keyFormatE2B    = "e2b"
)

// newAPIKey makes a key of format (keyFormatWarren or keyFormatE2B).
func newAPIKey(format string) (secret string, hash []byte, display string) {
	if format == keyFormatE2B {
		b := make([]byte, 20)
		if _, err := rand.Read(b); err != nil {
			panic("api: random source failed: " + err.Error())
		}
		secret = e2bKeyPrefix + hex.EncodeToString(b)
	} else {
		secret = apiKeyPrefix + randomToken(32)
	}
	return secret, hashSecret(secret), secret[:apiKeyDisplayLen]
}

// keyForm reports whether key has the form of a key this server makes
// (checked before any database lookup).
func keyForm(key string) bool {
	return len(key) <= 128 && (strings.HasPrefix(key, apiKeyPrefix) || strings.HasPrefix(key, e2bKeyPrefix))
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func hashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	return string(b), err
}

// checkPassword compares in constant time for a given hash.
func checkPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash is compared against when the user does not exist, so a login's timing
// does not reveal which emails are registered.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("not-a-real-password")
	return h
})

// NewPassword returns a random password for bootstrap users.
func NewPassword() string { return randomToken(15) }
