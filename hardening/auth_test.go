package hardening_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// session is a logged-in user: cookie and CSRF token.
type session struct{ cookie, csrf string }

// login logs email in and returns the session; it fails t unless 200.
func login(t *testing.T, c *client, email, password string) session {
	t.Helper()
	r := c.withKey("").do(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": password})
	if r.status != 200 {
		t.Fatalf("login %s: %s", email, r)
	}
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	r.decode(t, &body)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "warren_session" {
			return session{cookie: ck.Name + "=" + ck.Value, csrf: body.CSRF}
		}
	}
	t.Fatalf("login %s: no session cookie", email)
	return session{}
}

// team is a second team with an owner, a session and a team API key.
type team struct {
	id, email, password string
	sess                session
	key, keyID          string
}

func newTeam(t *testing.T, admin *client, name string) team {
	t.Helper()
	r := admin.do(t, "POST", "/v1/admin/teams", map[string]any{"name": name})
	if r.status != 201 {
		t.Fatalf("create team: %s", r)
	}
	var tm struct{ ID string }
	r.decode(t, &tm)
	tt := team{id: tm.ID, email: name + "@example.com", password: "correct horse battery staple " + name}
	if r := admin.do(t, "POST", "/v1/admin/users", map[string]any{"email": tt.email, "password": tt.password, "team_id": tm.ID, "role": "owner"}); r.status != 201 {
		t.Fatalf("create user: %s", r)
	}
	tt.sess = login(t, admin, tt.email, tt.password)
	r = admin.withKey("").do(t, "POST", "/v1/api-keys", `{"name":"k"}`, "Cookie", tt.sess.cookie, "X-CSRF-Token", tt.sess.csrf)
	if r.status != 201 {
		t.Fatalf("create key: %s", r)
	}
	var k struct{ ID, Key string }
	r.decode(t, &k)
	tt.key, tt.keyID = k.Key, k.ID
	return tt
}

// sql runs a statement on the node's database (to age keys and sessions).
func sql(t *testing.T, n *nodetest.Node, stmt string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Store().Pool.Exec(ctx, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestAPIAbuseAuth: another team's IDs answer 404 without its data; expired,
// revoked and garbage keys and expired or ended sessions answer 401; cookie
// requests that change state need the CSRF header; login guessing is
// rate-limited.
func TestAPIAbuseAuth(t *testing.T) {
	n, admin := startNode(t)
	a, b := newTeam(t, admin, "team-a"), newTeam(t, admin, "team-b")
	ca, cb := admin.withKey(a.key), admin.withKey(b.key)
	sbA := ca.create(t, map[string]any{"metadata": map[string]string{"secret": "team-a-secret"}})
	ca.mustSh(t, sbA, "echo team-a-file > /tmp/a")
	r := ca.do(t, "POST", "/v1/sandboxes/"+sbA+"/snapshots", map[string]string{"name": "a-private"})
	if r.status != 201 {
		t.Fatalf("snapshot: %s", r)
	}
	var tplA struct{ ID string }
	r.decode(t, &tplA)
	if r := ca.do(t, "POST", "/v1/sandboxes/"+sbA+"/resume", nil); r.status != 200 && r.status != 409 {
		t.Fatalf("resume: %s", r)
	}
	ops := loadOpenAPI(t, admin)

	t.Run("wrong team", func(t *testing.T) {
		leaks := func(r reply) bool {
			return strings.Contains(string(r.body), "team-a-secret") || strings.Contains(string(r.body), "team-a-file") || strings.Contains(string(r.body), a.id)
		}
		for _, op := range ops {
			if !strings.HasPrefix(op.Path, "/v1/sandboxes/{id}") || op.Method == "HEAD" {
				continue
			}
			p := fill(op.Path, map[string]string{"sandboxes": sbA})
			if strings.Contains(op.Path, "/files") {
				p += "?path=/tmp/a"
			}
			body := any(nil)
			if bb, ok := baseBodies[op.Method+" /v1/sandboxes/{id}"+strings.TrimPrefix(op.Path, "/v1/sandboxes/{id}")]; ok {
				body = bb
			}
			r := cb.do(t, op.Method, p, body)
			badInput(t, "wrong team", op.Method+" "+op.Path, r.status == 404 && r.errShape() && !leaks(r), r)
		}
		for _, q := range []struct{ method, path string }{
			{"GET", "/v1/sandboxes"}, {"GET", "/v1/sandboxes?metadata=secret=team-a-secret"}, {"GET", "/v1/templates"},
			{"DELETE", "/v1/api-keys/" + a.keyID}, {"DELETE", "/v1/templates/" + tplA.ID},
		} {
			r := cb.do(t, q.method, q.path, nil)
			ok := !leaks(r) && !strings.Contains(string(r.body), tplA.ID) && !strings.Contains(string(r.body), sbA) && r.status < 500
			badInput(t, "wrong team", q.method+" "+q.path, ok, r)
		}
		r := cb.do(t, "POST", "/v1/sandboxes", map[string]any{"template": tplA.ID, "disk_size_mb": 1024})
		badInput(t, "wrong team", "create from another team's template", r.clean4xx(), r)
		r = cb.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "a-private", "disk_size_mb": 1024})
		badInput(t, "wrong team", "create from another team's template name", r.clean4xx(), r)
		for _, op := range ops {
			if strings.HasPrefix(op.Path, "/v1/admin/") && op.Method != "HEAD" {
				r := cb.do(t, op.Method, fill(op.Path, map[string]string{"users": "usr-00000000-0000-0000-0000-000000000001",
					"teams": a.id, "builds": "bld-00000000-0000-0000-0000-000000000001", "nodes": n.ID.String()}), nil)
				badInput(t, "not admin", op.Method+" "+op.Path, r.status == 403 && r.errShape(), r)
			}
		}
		// Team A's key still works: nothing above changed its sandbox.
		if out := ca.mustSh(t, sbA, "cat /tmp/a"); out != "team-a-file\n" {
			t.Fatalf("team A's sandbox after team B's attempts: %q", out)
		}
	})

	t.Run("keys and sessions", func(t *testing.T) {
		me := func(hdr ...string) reply { return admin.withKey("").do(t, "GET", "/v1/me", nil, hdr...) }
		mkKey := func() (string, string) {
			r := ca.do(t, "POST", "/v1/api-keys", map[string]any{"name": "short", "expires_in_days": 1})
			var k struct{ ID, Key string }
			r.decode(t, &k)
			return k.ID, k.Key
		}
		expID, expKey := mkKey()
		if r := me("Authorization", "Bearer "+expKey); r.status != 200 {
			t.Fatalf("control: a fresh key: %s", r)
		}
		sql(t, n, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", strings.TrimPrefix(expID, "key-"))
		revID, revKey := mkKey()
		if r := ca.do(t, "DELETE", "/v1/api-keys/"+revID, nil); r.status != 200 {
			t.Fatalf("revoke: %s", r)
		}
		sessExp := login(t, admin, a.email, a.password)
		sql(t, n, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE csrf_token = $1", sessExp.csrf)
		sessOut := login(t, admin, a.email, a.password)
		if r := admin.withKey("").do(t, "POST", "/v1/auth/logout", nil, "Cookie", sessOut.cookie, "X-CSRF-Token", sessOut.csrf); r.status != 204 {
			t.Fatalf("logout: %s", r)
		}
		cases := map[string][]string{
			"expired key":        {"Authorization", "Bearer " + expKey},
			"expired key header": {"X-API-Key", expKey},
			"revoked key":        {"Authorization", "Bearer " + revKey},
			"expired session":    {"Cookie", sessExp.cookie},
			"logged-out session": {"Cookie", sessOut.cookie},
			"garbage key":        {"Authorization", "Bearer wk_" + strings.Repeat("0", 40)},
			"key without prefix": {"Authorization", "Bearer " + strings.TrimPrefix(a.key, "wk_")},
			"truncated key":      {"Authorization", "Bearer " + a.key[:len(a.key)-1]},
			"basic scheme":       {"Authorization", "Basic " + a.key},
			"empty bearer":       {"Authorization", "Bearer "},
			"8 KiB key":          {"Authorization", "Bearer wk_" + strings.Repeat("x", 8000)},
			"garbage cookie":     {"Cookie", "warren_session=" + strings.Repeat("A", 43)},
			"no credentials":     {},
		}
		for name, hdr := range cases {
			r := me(hdr...)
			badInput(t, "auth", name, r.status == 401 && r.errShape(), r)
		}
		// A disabled team's key and a disabled user's session stop working.
		if r := admin.do(t, "POST", "/v1/admin/teams/"+b.id+"/disable", nil); r.status != 200 {
			t.Fatalf("disable team: %s", r)
		}
		r := me("Authorization", "Bearer "+b.key)
		badInput(t, "auth", "disabled team's key", r.status == 401 && r.errShape(), r)
		admin.do(t, "POST", "/v1/admin/teams/"+b.id+"/enable", nil)
	})

	t.Run("csrf", func(t *testing.T) {
		sess := login(t, admin, a.email, a.password)
		fake := map[string]string{"sandboxes": sbA, "users": "usr-00000000-0000-0000-0000-000000000001",
			"teams": "team-00000000-0000-0000-0000-000000000001", "api-keys": "key-00000000-0000-0000-0000-000000000001",
			"builds": "bld-00000000-0000-0000-0000-000000000001", "nodes": "node-00000000-0000-0000-0000-000000000001",
			"templates": "tpl-00000000-0000-0000-0000-000000000001"}
		for _, op := range ops {
			if op.Public || op.Method == "GET" || op.Method == "HEAD" || op.Method == "OPTIONS" {
				continue
			}
			p := fill(op.Path, fake)
			if strings.Contains(op.Path, "/files") {
				p += "?path=/tmp/csrf"
			}
			body := any(`{}`)
			if bb, ok := baseBodies[op.Method+" "+op.Path]; ok {
				body = bb
			}
			for name, hdr := range map[string][]string{
				"no token":    {"Cookie", sess.cookie},
				"wrong token": {"Cookie", sess.cookie, "X-CSRF-Token", "x" + sess.csrf},
			} {
				r := admin.withKey("").do(t, op.Method, p, body, hdr...)
				badInput(t, "csrf", op.Method+" "+op.Path+" "+name, r.status == 403 && r.errShape(), r)
			}
		}
		// Control: with the token the same session may act.
		r := admin.withKey("").do(t, "POST", "/v1/api-keys", `{"name":"with-csrf"}`, "Cookie", sess.cookie, "X-CSRF-Token", sess.csrf)
		if r.status != 201 {
			t.Fatalf("control: a cookie request with its CSRF token: %s", r)
		}
		if out := ca.mustSh(t, sbA, "cat /tmp/a"); out != "team-a-file\n" {
			t.Fatalf("team A's sandbox after the CSRF attempts: %q", out)
		}
	})

	// Last: it blocks logins from this address for the node's window.
	t.Run("login brute force", func(t *testing.T) {
		anon := admin.withKey("")
		limited := 0
		for i := range 15 {
			r := anon.do(t, "POST", "/v1/auth/login", map[string]string{"email": a.email, "password": "guess " + strings.Repeat("x", i)})
			if r.status == 429 {
				limited++
				if r.header.Get("Retry-After") == "" || !r.errShape() {
					t.Errorf("429 without Retry-After or error shape: %s", r)
				}
			} else if r.status != 401 {
				t.Errorf("wrong password: %s", r)
			}
		}
		r := anon.do(t, "POST", "/v1/auth/login", map[string]string{"email": a.email, "password": a.password})
		badInput(t, "auth", "login brute force rate-limited", limited >= 4 && r.status == 429, limited, r)
		// Another email from the same address is limited too (per address).
		r = anon.do(t, "POST", "/v1/auth/login", map[string]string{"email": b.email, "password": "guess"})
		badInput(t, "auth", "login brute force across emails", r.status == 429, r)
	})
}
