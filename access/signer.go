package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/warrenhq/warren/id"
)

// MinSecretBytes is the shortest secret New accepts.
const MinSecretBytes = 32

// TokenPrefix starts every access token, so logs and secret scanners can
// tell one apart from an API key.
const TokenPrefix = "wat_"

// Signer mints and checks access tokens and signed port URLs. It is safe
// for concurrent use and holds only keys derived from the secret.
type Signer struct {
	tokenKey []byte // HMAC key for access tokens
	urlKey   []byte // HMAC key for port URL signatures
}

// New returns a Signer over secret, which must hold at least MinSecretBytes
// random bytes and be the same on every node.
func New(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("access: the secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	return &Signer{tokenKey: derive(secret, "warren access token v1"), urlKey: derive(secret, "warren port url v1")}, nil
}

// derive gives each kind of credential its own key, so a MAC of one kind is
// never valid as the other.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// mac is HMAC-SHA256 of the parts under key, each part ended by a NUL so
// that no two lists of parts give the same input.
func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// AccessToken returns the access token of sandbox sb that was never claimed
// from a warm pool (AccessTokenGen with generation 0).
func (s *Signer) AccessToken(sb id.SandboxID) string { return s.AccessTokenGen(sb, 0) }

// AccessTokenGen returns sandbox sb's access token at claim generation gen
// (its row's token_gen): the same on every node and for as long as the row
// keeps that generation. A warm pool's claim raises the generation, so the
// claimed sandbox answers a token that was never valid before.
func (s *Signer) AccessTokenGen(sb id.SandboxID, gen int32) string {
	return TokenPrefix + b64.EncodeToString(s.tokenMAC(sb, gen))
}

// tokenMAC is the MAC behind a token; generation 0 keeps the form tokens
// had before warm pools, so tokens already handed out stay valid.
func (s *Signer) tokenMAC(sb id.SandboxID, gen int32) []byte {
	if gen == 0 {
		return mac(s.tokenKey, sb.String())
	}
	return mac(s.tokenKey, sb.String(), "claim", strconv.Itoa(int(gen)))
}

// CheckAccessToken is CheckAccessTokenGen at generation 0.
func (s *Signer) CheckAccessToken(sb id.SandboxID, tok string) bool {
	return s.CheckAccessTokenGen(sb, 0, tok)
}

// CheckAccessTokenGen reports whether tok is sandbox sb's access token at
// generation gen. The comparison takes the same time wherever tok differs.
func (s *Signer) CheckAccessTokenGen(sb id.SandboxID, gen int32, tok string) bool {
	raw, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok || len(raw) != b64.EncodedLen(sha256.Size) {
		return false
	}
	got, err := b64.DecodeString(raw)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.tokenMAC(sb, gen))
}

// Errors of CheckPortURL.
var (
	ErrNoSignature  = errors.New("the URL carries no signature")
	ErrBadSignature = errors.New("the URL's signature is not valid for this sandbox and port")
	ErrExpired      = errors.New("the signed URL has expired")
)
