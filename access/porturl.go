package access

import (
	"crypto/hmac"
	"net/url"
	"strconv"
	"time"

	"github.com/warrenhq/warren/id"
)

// The query parameters of a signed port URL.
const (
	ExpiresParam   = "warren_expires"   // Unix seconds after which the URL is refused
	SignatureParam = "warren_signature" // base64url HMAC over sandbox, port and expiry
)

// SignPortURL returns the query (encoded, without "?") that lets whoever
// holds it reach port of sandbox sb until expires. The signature covers the
// sandbox, the port and the expiry, not the path: the same query opens any
// path on that port.
func (s *Signer) SignPortURL(sb id.SandboxID, port int, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{}
	q.Set(ExpiresParam, exp)
	q.Set(SignatureParam, b64.EncodeToString(s.portMAC(sb, port, exp)))
	return q.Encode()
}

func (s *Signer) portMAC(sb id.SandboxID, port int, exp string) []byte {
	return mac(s.urlKey, sb.String(), strconv.Itoa(port), exp)
}

// CheckPortURL checks the signature parameters in query for port of sandbox
// sb at time now: ErrNoSignature when they are absent, ErrBadSignature when
// they are malformed, repeated or signed for anything else, ErrExpired when
// they were valid until before now. The signature is checked first, so an
// expiry nobody signed is never believed.
func (s *Signer) CheckPortURL(sb id.SandboxID, port int, query url.Values, now time.Time) error {
	exps, sigs := query[ExpiresParam], query[SignatureParam]
	if len(exps) == 0 && len(sigs) == 0 {
		return ErrNoSignature
	}
	if len(exps) != 1 || len(sigs) != 1 {
		return ErrBadSignature
	}
	exp, sig := exps[0], sigs[0]
	// The canonical decimal form only: what was signed is what is parsed.
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || strconv.FormatInt(unix, 10) != exp || len(sig) != b64.EncodedLen(32) {
		return ErrBadSignature
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.portMAC(sb, port, exp)) {
		return ErrBadSignature
	}
	if !now.Before(time.Unix(unix, 0)) {
		return ErrExpired
	}
	return nil
}

// StripPortURL removes the signature parameters from query, so they never
// reach the sandbox.
func StripPortURL(query url.Values) {
	query.Del(ExpiresParam)
	query.Del(SignatureParam)
}
