package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warrenhq/warren/builder"
)

// FuzzDecode feeds arbitrary bodies to decode for every JSON request type
// (selected by the first byte): it must never panic, and every refusal is a
// client error (400 or 413) with a message; accepted bodies re-encode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"template":"base","disk_size_mb":1024}`, `{"cmd":"echo hi","args":["a"],"env":{"A":"b"}}`,
		`{"email":"a@b.c","password":"x"}`, `{"name":"t"}`, `{"timeout_sec":60}`, `{"path":"/tmp"}`,
		`{"name":"b","recipe":["true"],"healthcheck":{"cmd":"true"}}`, `{`, `[]`, `null`, `{"a":1}{}`,
		"{\"cmd\":\"\x00\"}", `{"metadata":{"k\u0000":"v"}}`, `{"disk_size_mb":1e400}`, `{"team_id":"team-x"}`,
	} {
		for k := range byte(len(requestTypes)) {
			f.Add(k, s)
		}
	}
	f.Fuzz(func(t *testing.T, kind byte, body string) {
		v := requestTypes[int(kind)%len(requestTypes)]()
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 1<<20)
		err := decode(req, v)
		if err == nil {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("accepted %q but cannot encode it: %v", body, err)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("decode %q: %T %v is not an *Error", body, err, err)
		}
		if (e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge) || e.Message == "" || e.Code == "" {
			t.Fatalf("decode %q: %+v", body, e)
		}
	})
}

// requestTypes are the JSON request bodies of the routes.
var requestTypes = []func() any{
	func() any { return &createSandboxRequest{} }, func() any { return &execRequest{} },
	func() any { return &loginRequest{} }, func() any { return &createUserRequest{} },
	func() any { return &createTeamRequest{} }, func() any { return &createAPIKeyRequest{} },
	func() any { return &timeoutRequest{} }, func() any { return &snapshotRequest{} },
	func() any { return &mkdirRequest{} }, func() any { return &builder.Request{} },
}
