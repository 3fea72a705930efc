package envd

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
)

// post sends body to path as the SDK would and returns the answer.
func post(h http.Handler, path, ct, token string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set(HeaderSandboxID, id.NewSandboxID().String())
	if token != "" {
		req.Header.Set(HeaderAccessToken, token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func frame(flags byte, msg []byte) []byte {
	n := len(msg)
	return append([]byte{flags, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

func TestHandlerTranslatesAndRefuses(t *testing.T) {
	h := newTestHandler(t)
	start := frame(0, []byte(`{"process":{"cmd":"/bin/bash","args":["-l","-c","true"]}}`))
	rec := post(h, "/process.Process/Start", "application/connect+json", testToken, start)
	body := rec.Body.String()
	for _, want := range []string{`"start":{"pid":42}`, `"stdout":"b3V0"`, `"exitCode":2`, `"exited":true`, `"status":"exit status 2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("Start answer lacks %s: %q", want, body)
		}
	}
	rec = post(h, "/filesystem.Filesystem/Stat", "application/json", testToken, []byte(`{"path":"rel.txt"}`))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"path":"/home/user/rel.txt"`) || !strings.Contains(rec.Body.String(), `"owner":"user"`) {
		t.Errorf("Stat of a relative path: %d %s", rec.Code, rec.Body)
	}
	rec = post(h, "/filesystem.Filesystem/Stat", "application/json", testToken, []byte(`{"path":"/missing"}`))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Errorf("Stat of a missing path: %d %s", rec.Code, rec.Body)
	}
	for _, tok := range []string{"", "wrong"} {
		rec = post(h, "/filesystem.Filesystem/Stat", "application/json", tok, []byte(`{"path":"/"}`))
		if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"code":"unauthenticated"`) {
			t.Errorf("token %q: %d %s", tok, rec.Code, rec.Body)
		}
		rec = post(h, "/process.Process/Start", "application/connect+json", tok, start)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"code":"unauthenticated"`) || strings.Contains(rec.Body.String(), "pid") {
			t.Errorf("stream with token %q: %d %q", tok, rec.Code, rec.Body)
		}
	}
}

func TestCheckSignature(t *testing.T) {
	now := time.Unix(1000, 0)
	sign := func(raw string) string {
		s := sha256.Sum256([]byte(raw))
		return "v1_" + base64.RawStdEncoding.EncodeToString(s[:])
	}
	ok := sign("/f:read:user:tok:2000")
	if err := checkSignature("/f", "read", "user", "tok", ok, "2000", now); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	for name, tc := range map[string][5]string{
		"other op":   {"/f", "write", "user", ok, "2000"},
		"other path": {"/g", "read", "user", ok, "2000"},
		"expired":    {"/f", "read", "user", sign("/f:read:user:tok:999"), "999"},
		"bad exp":    {"/f", "read", "user", ok, "soon"},
	} {
		if err := checkSignature(tc[0], tc[1], tc[2], "tok", tc[3], tc[4], now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
