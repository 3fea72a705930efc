package hardening_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// e2bErr reports whether r is E2B's error body with status (the code the
// SDK reads) and a message, leaking none of the strings in secrets.
func e2bErr(r reply, status int, secrets ...string) bool {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if r.status != status || json.Unmarshal(r.body, &e) != nil || e.Code != status || e.Message == "" {
		return false
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(r.body), s) {
			return false
		}
	}
	return true
}

// TestE2BAbuse attacks the E2B control plane: another team's key on every
// sandbox route, a session cookie (no CSRF header) on E2B paths, revoked and
// garbage keys, and hostile bodies. Positive controls: the owner's own calls
// succeed, the cookie works on Warren's API, a fresh key works.
func TestE2BAbuse(t *testing.T) {
	n, admin := startNode(t)
	owner := admin.withKey("")
	ownerKey := []string{"X-API-KEY", n.Bootstrap.E2BAPIKey}
	other := newTeam(t, admin, "e2bintruder")
	otherKey := []string{"X-API-KEY", other.key}

	r := owner.do(t, "POST", "/v2/sandboxes", map[string]any{"templateID": "base", "timeout": 300, "metadata": map[string]string{"secret": "owner-metadata-xyz"}}, ownerKey...)
	var sb struct{ SandboxID, EnvdAccessToken string }
	r.decode(t, &sb)
	if r.status != 201 || sb.SandboxID == "" {
		t.Fatalf("owner create: %s", r)
	}
	defer owner.do(t, "DELETE", "/sandboxes/"+sb.SandboxID, nil, ownerKey...)
	path := "/sandboxes/" + sb.SandboxID
	endAt := func() time.Time {
		var v struct{ EndAt time.Time }
		owner.do(t, "GET", path, nil, ownerKey...).decode(t, &v)
		return v.EndAt
	}
	before := endAt()

	// Positive control: the owner's key reaches its sandbox on each route.
	if r := owner.do(t, "GET", path, nil, ownerKey...); r.status != 200 || !strings.Contains(string(r.body), sb.EnvdAccessToken) {
		t.Fatalf("control: the owner's get: %s", r)
	}
	for _, c := range []struct{ method, suffix string }{
		{"GET", ""}, {"DELETE", ""}, {"POST", "/timeout"}, {"POST", "/refreshes"}, {"POST", "/pause"},
		{"POST", "/connect"}, {"POST", "/resume"}, {"GET", "/metrics"},
	} {
		p := path + c.suffix
		var body any
		if c.method == "POST" {
			body = map[string]any{"timeout": 5}
			if c.suffix == "/refreshes" || c.suffix == "/pause" {
				body = nil
			}
		}
		r := owner.withKey("").do(t, c.method, p, body, otherKey...)
		attack(t, "e2b", "another team's key: "+c.method+" "+c.suffix, e2bErr(r, 404, sb.EnvdAccessToken, "owner-metadata-xyz"), r)
	}
	r = owner.do(t, "POST", "/v2"+path+"/connect", map[string]any{"timeout": 5}, otherKey...)
	attack(t, "e2b", "another team's key: v2 connect", e2bErr(r, 404, sb.EnvdAccessToken), r)
	r = owner.do(t, "GET", "/v2/sandboxes?metadata=secret%3Downer-metadata-xyz", nil, otherKey...)
	attack(t, "e2b", "another team's key: list by the owner's metadata", r.status == 200 && strings.TrimSpace(string(r.body)) == "[]", r)
	var state struct{ State string }
	owner.do(t, "GET", path, nil, ownerKey...).decode(t, &state)
	attack(t, "e2b", "another team's calls changed nothing", state.State == "running" && endAt().Equal(before), state, endAt(), before)

	// A session cookie is no credential on E2B paths (they take no CSRF
	// token); it still works on Warren's API (control).
	sess := []string{"Cookie", other.sess.cookie}
	if r := owner.do(t, "GET", "/v1/me", nil, sess...); r.status != 200 {
		t.Fatalf("control: the session on /v1/me: %s", r)
	}
	r = owner.do(t, "POST", "/v2/sandboxes", map[string]any{"templateID": "base"}, append(sess, "Content-Type", "application/json")...)
	attack(t, "e2b", "session cookie creates through the E2B API", e2bErr(r, 401), r)

	// Keys: garbage, another form, revoked.
	for _, k := range []string{"e2b_" + strings.Repeat("f", 40), "wk_" + strings.Repeat("A", 43), strings.Repeat("x", 5000), "e2b_\xff\xfe"} {
		r := owner.do(t, "GET", "/v2/sandboxes", nil, "X-API-KEY", k)
		attack(t, "e2b", "garbage key", e2bErr(r, 401), r)
	}
	r = admin.do(t, "POST", "/v1/api-keys", map[string]any{"name": "short-lived", "format": "e2b"})
	var k struct{ ID, Key string }
	r.decode(t, &k)
	if r := owner.do(t, "GET", "/v2/sandboxes", nil, "X-API-KEY", k.Key); r.status != 200 {
		t.Fatalf("control: a fresh e2b key: %s", r)
	}
	admin.do(t, "DELETE", "/v1/api-keys/"+k.ID, nil)
	r = owner.do(t, "GET", "/v2/sandboxes", nil, "X-API-KEY", k.Key)
	attack(t, "e2b", "revoked e2b key", e2bErr(r, 401), r)

	// Hostile bodies answer a clean 4xx and make nothing.
	for what, body := range map[string]string{
		"deep nesting":      `{"templateID":"base","metadata":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
		"NUL in templateID": `{"templateID":"ba\u0000se"}`,
		"many env vars":     `{"templateID":"base","envVars":{` + manyVars(5000) + `}}`,
		"huge timeout":      `{"templateID":"base","timeout":99999999999999999999}`,
	} {
		r := owner.do(t, "POST", "/v2/sandboxes", body, append(ownerKey, "Content-Type", "application/json")...)
		badInput(t, "e2b", what, r.status >= 400 && r.status < 500 && e2bErr(r, r.status), r)
	}
	var listed []struct{ SandboxID string }
	owner.do(t, "GET", "/v2/sandboxes", nil, ownerKey...).decode(t, &listed)
	badInput(t, "e2b", "hostile bodies left no sandbox", len(listed) == 1 && listed[0].SandboxID == sb.SandboxID, listed)
	for _, l := range listed {
		if l.SandboxID != sb.SandboxID {
			owner.do(t, "DELETE", "/sandboxes/"+l.SandboxID, nil, ownerKey...)
		}
	}
}

func manyVars(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"V` + strconv.Itoa(i) + `":"1"`)
	}
	return b.String()
}
