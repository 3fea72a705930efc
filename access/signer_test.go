package access_test

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
)

func newSigner(t testing.TB, fill byte) *access.Signer {
	t.Helper()
	s, err := access.New(bytes.Repeat([]byte{fill}, access.MinSecretBytes))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRefusesShortSecrets(t *testing.T) {
	for _, n := range []int{0, 1, access.MinSecretBytes - 1} {
		if _, err := access.New(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("a %d-byte secret: %v", n, err)
		}
	}
}

func TestAccessToken(t *testing.T) {
	s := newSigner(t, 1)
	a, b := id.NewSandboxID(), id.NewSandboxID()
	tok := s.AccessToken(a)
	if !strings.HasPrefix(tok, access.TokenPrefix) || tok != s.AccessToken(a) {
		t.Fatalf("token %q: not stable or unprefixed", tok)
	}
	if !s.CheckAccessToken(a, tok) {
		t.Fatal("a sandbox's own token refused")
	}
	// Another node with the same secret agrees; one with another does not.
	if !newSigner(t, 1).CheckAccessToken(a, tok) || newSigner(t, 2).CheckAccessToken(a, tok) {
		t.Fatal("tokens must depend on the shared secret only")
	}
	sig := s.SignPortURL(a, 8000, time.Now().Add(time.Hour))
	q, _ := url.ParseQuery(sig)
	for _, bad := range []string{"", tok + "x", tok[:len(tok)-1], strings.TrimPrefix(tok, access.TokenPrefix),
		"wk_" + strings.TrimPrefix(tok, access.TokenPrefix), strings.ToUpper(tok), s.AccessToken(b),
		access.TokenPrefix + q.Get(access.SignatureParam)} {
		if s.CheckAccessToken(a, bad) {
			t.Errorf("token %q accepted for %s", bad, a)
		}
	}
}

func TestPortURL(t *testing.T) {
	s := newSigner(t, 1)
	a, b := id.NewSandboxID(), id.NewSandboxID()
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Hour)
	q, err := url.ParseQuery(s.SignPortURL(a, 8000, exp))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckPortURL(a, 8000, q, now); err != nil {
		t.Fatalf("a fresh signature: %v", err)
	}
	if err := newSigner(t, 1).CheckPortURL(a, 8000, q, now); err != nil {
		t.Fatalf("another node with the same secret: %v", err)
	}
	if err := s.CheckPortURL(a, 8000, q, exp); !errors.Is(err, access.ErrExpired) {
		t.Fatalf("at the expiry: %v, want expired", err)
	}
	if err := s.CheckPortURL(a, 8000, url.Values{"x": {"1"}}, now); !errors.Is(err, access.ErrNoSignature) {
		t.Fatalf("no parameters: %v", err)
	}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range q {
			c[kk] = append([]string(nil), vv...)
		}
		c.Set(k, v)
		return c
	}
	sig := q.Get(access.SignatureParam)
	flipped := []byte(sig)
	flipped[3] ^= 1
	cases := map[string]struct {
		sb   id.SandboxID
		port int
		q    url.Values
	}{
		"another sandbox":       {b, 8000, q},
		"another port":          {a, 8001, q},
		"a later expiry":        {a, 8000, with(access.ExpiresParam, "1900000000")},
		"a padded expiry":       {a, 8000, with(access.ExpiresParam, "0"+q.Get(access.ExpiresParam))},
		"a tampered signature":  {a, 8000, with(access.SignatureParam, string(flipped))},
		"a short signature":     {a, 8000, with(access.SignatureParam, sig[:10])},
		"no expiry":             {a, 8000, url.Values{access.SignatureParam: {sig}}},
		"no signature":          {a, 8000, url.Values{access.ExpiresParam: q[access.ExpiresParam]}},
		"repeated signature":    {a, 8000, url.Values{access.ExpiresParam: q[access.ExpiresParam], access.SignatureParam: {sig, sig}}},
		"another secret's mint": {a, 8000, mustQuery(t, newSigner(t, 2).SignPortURL(a, 8000, exp))},
	}
	for name, c := range cases {
		if err := s.CheckPortURL(c.sb, c.port, c.q, now); !errors.Is(err, access.ErrBadSignature) {
			t.Errorf("%s: %v, want a bad signature", name, err)
		}
	}
	// An access token's MAC is not a URL signature (separate keys).
	tok := strings.TrimPrefix(s.AccessToken(a), access.TokenPrefix)
	if err := s.CheckPortURL(a, 8000, with(access.SignatureParam, tok), now); !errors.Is(err, access.ErrBadSignature) {
		t.Errorf("an access token as the signature: %v", err)
	}
	access.StripPortURL(q)
	if len(q) != 0 {
		t.Fatalf("left after stripping: %v", q)
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// FuzzCheck: no input makes the checkers panic or accept anything but what
// was minted.
func FuzzCheck(f *testing.F) {
	s := newSigner(f, 7)
	sb := id.NewSandboxID()
	good := s.SignPortURL(sb, 8080, time.Unix(2_000_000_000, 0))
	gq, _ := url.ParseQuery(good)
	f.Add(s.AccessToken(sb), good, 8080)
	f.Add("wat_", "warren_expires=1&warren_signature=", 1)
	f.Add("", "warren_expires=99999999999999999999&warren_signature=%00", 65535)
	f.Fuzz(func(t *testing.T, tok, rawQuery string, port int) {
		if s.CheckAccessToken(sb, tok) && tok != s.AccessToken(sb) {
			t.Fatalf("accepted a token that was not minted: %q", tok)
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		err = s.CheckPortURL(sb, port, q, time.Unix(1_000_000_000, 0))
		minted := q.Get(access.ExpiresParam) == gq.Get(access.ExpiresParam) && q.Get(access.SignatureParam) == gq.Get(access.SignatureParam)
		if err == nil && (port != 8080 || !minted) {
			t.Fatalf("accepted %q for port %d", rawQuery, port)
		}
	})
}
