package hardening_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
)

// TestEnvdWalls: a tenant holding its own sandbox's envd access token (as
// E2B's create returns it) tries to use it on another tenant's sandbox:
// commands, file calls, /files, the host form, signed file URLs made from
// its token, reused for another path or past their expiry. Each attempt has
// its positive control on the attacker's own sandbox.
func TestEnvdWalls(t *testing.T) {
	n, admin := startNode(t)
	victim := admin.create(t, nil)
	admin.upload(t, victim, "/tmp/secret", []byte("victim-secret\n"), "0600")
	evil := newTeam(t, admin, "envd-evil")
	attacker := admin.withKey(evil.key)
	own := attacker.create(t, nil)
	attacker.upload(t, own, "/tmp/mine", []byte("mine\n"), "0644")
	token := func(sb string) string {
		sid, err := id.ParseSandboxID(sb)
		if err != nil {
			t.Fatal(err)
		}
		return n.Signer().AccessToken(sid)
	}
	tok := token(own)

	// send posts body to path with the envd headers for sandbox sb (or, with
	// host set, the sandbox only in the Host) and returns status and body.
	send := func(method, path, sb, host, ct string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, n.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		} else {
			req.Header.Set("E2b-Sandbox-Id", sb)
		}
		req.Header.Set("X-Access-Token", tok)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("root:")))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Connect-Protocol-Version", "1")
		}
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	frame := func(msg string) []byte {
		return append([]byte{0, 0, 0, byte(len(msg) >> 8), byte(len(msg))}, msg...)
	}
	start := frame(`{"process":{"cmd":"/bin/sh","args":["-c","cat /tmp/secret /tmp/mine"]}}`)
	stat := func(p string) []byte { return []byte(`{"path":"` + p + `"}`) }
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	type try struct {
		what            string
		method, path    string
		host, ct        string
		body            []byte
		ownOK, victimOK func(code int, body string) bool
	}
	refused := func(code int, body string) bool {
		return (code == 401 || strings.Contains(body, `"code":"unauthenticated"`)) && !strings.Contains(body, "victim-secret")
	}
	for _, tc := range []try{
		{what: "run a command (Process.Start)", method: "POST", path: "/process.Process/Start", ct: "application/connect+json", body: start,
			ownOK: func(c int, b string) bool { return c == 200 && strings.Contains(b, b64("mine\n")) }},
		{what: "stat a file (Filesystem.Stat)", method: "POST", path: "/filesystem.Filesystem/Stat", ct: "application/json", body: stat("/tmp/mine"),
			ownOK: func(c int, b string) bool { return c == 200 && strings.Contains(b, `"path":"/tmp/mine"`) }},
		{what: "list processes (Process.List)", method: "POST", path: "/process.Process/List", ct: "application/json", body: []byte(`{}`),
			ownOK: func(c int, b string) bool { return c == 200 }},
		{what: "download with /files", method: "GET", path: "/files?path=/tmp/secret",
			ownOK: func(c int, b string) bool { return c == 200 && b == "victim-secret\n" }},
		{what: "upload with /files", method: "POST", path: "/files?path=/tmp/planted", ct: "application/octet-stream", body: []byte("x"),
			ownOK: func(c int, b string) bool { return c == 200 }},
	} {
		for _, form := range []string{"header", "host"} {
			target := func(sb string) string {
				if form == "host" {
					return "49983-" + sb + ".localhost"
				}
				return ""
			}
			code, body := send(tc.method, tc.path, victim, target(victim), tc.ct, tc.body)
			attack(t, "envd", fmt.Sprintf("%s on another tenant's sandbox with my access token (%s form)", tc.what, form), refused(code, body), code, body)
			// Positive control: the same request on the attacker's sandbox.
			path := strings.Replace(tc.path, "/tmp/secret", "/tmp/mine", 1)
			code, body = send(tc.method, path, own, target(own), tc.ct, tc.body)
			ok := tc.ownOK(code, body)
			if strings.Contains(tc.path, "/tmp/secret") {
				ok = code == 200 && body == "mine\n"
			}
			if !ok {
				t.Fatalf("positive control %s (%s form) on my own sandbox: %d %q", tc.what, form, code, body)
			}
		}
	}

	// Signed /files URLs made from my token (the SDK's downloadUrl).
	sign := func(p, op string, exp int64) url.Values {
		raw := p + ":" + op + "::" + tok
		q := url.Values{"path": {p}}
		if exp != 0 {
			raw += ":" + strconv.FormatInt(exp, 10)
			q.Set("signature_expiration", strconv.FormatInt(exp, 10))
		}
		sum := sha256.Sum256([]byte(raw))
		q.Set("signature", "v1_"+base64.RawStdEncoding.EncodeToString(sum[:]))
		return q
	}
	signed := func(sb string, q url.Values) (int, string) {
		req, _ := http.NewRequest("GET", n.URL+"/files?"+q.Encode(), nil)
		req.Header.Set("E2b-Sandbox-Id", sb)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	later := time.Now().Add(time.Hour).Unix()
	if code, body := signed(own, sign("/tmp/mine", "read", later)); code != 200 || body != "mine\n" {
		t.Fatalf("positive control: my signed URL on my sandbox: %d %q", code, body)
	}
	code, body := signed(victim, sign("/tmp/secret", "read", later))
	attack(t, "envd", "signed file URL made from my token, on another tenant's sandbox", code == 401 && !strings.Contains(body, "victim"), code, body)
	q := sign("/tmp/mine", "read", later)
	q.Set("path", "/etc/shadow")
	code, body = signed(own, q)
	attack(t, "envd", "signed file URL reused for another path", code == 401, code, body)
	q = sign("/tmp/mine", "write", later)
	code, body = signed(own, q)
	attack(t, "envd", "signed upload URL used to download", code == 401, code, body)
	code, body = signed(own, sign("/tmp/mine", "read", time.Now().Add(-time.Minute).Unix()))
	attack(t, "envd", "expired signed file URL", code == 401, code, body)
}
