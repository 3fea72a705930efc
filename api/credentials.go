package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// API keys look like "wk_" + 43 base64url characters (32 random bytes). Only their
// SHA-256 is stored, with the first characters kept for display.
const (
	apiKeyPrefix     = "wk_"
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

func newAPIKey() (secret string, hash []byte, display string) {
	secret = apiKeyPrefix + randomToken(32)
	return secret, hashSecret(secret), secret[:apiKeyDisplayLen]
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
