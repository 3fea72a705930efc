package hardening_test

import (
	"strings"
	"testing"
	"time"
)

// TestWebOrigin: a preview page served from inside a sandbox tries to act on
// the API as the admin who opens it, and to plant a cookie; a disabled
// user's API key and a cookie-authenticated proxy request are tried.
func TestWebOrigin(t *testing.T) {
	_, admin := startNode(t)
	sb := admin.create(t, nil)
	// The "page": a CGI script that sets a session cookie on the API's
	// origin and asks for a service worker scope of the whole origin.
	cgi := "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\nSet-Cookie: warren_session=planted; Path=/\\r\\nSet-Cookie2: w=1\\r\\nService-Worker-Allowed: /\\r\\n\\r\\n<script>fetch(\"/v1/me\",{credentials:\"include\"})</script>\\n'\n"
	admin.mustSh(t, sb, "mkdir -p /www/cgi-bin")
	admin.upload(t, sb, "/www/cgi-bin/page", []byte(cgi), "0755")
	admin.mustSh(t, sb, "(busybox httpd -f -p 8080 -h /www >/dev/null 2>&1 &); sleep 0.3")
	page := "/v1/sandboxes/" + sb + "/ports/8080/cgi-bin/page"
	var r reply
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r = admin.do(t, "GET", page, nil)
		if r.status == 200 || time.Now().After(deadline) {
			break
		}
	}
	// Positive control: the page is reachable with an API key.
	if r.status != 200 || !strings.Contains(string(r.body), "<script>") {
		t.Fatalf("preview page through the proxy (control): %s", r)
	}
	attack(t, "origin", "preview page sets a cookie on the API origin", len(r.header.Values("Set-Cookie"))+len(r.header.Values("Set-Cookie2")) == 0, r.header)
	attack(t, "origin", "preview page widens a service worker scope", r.header.Get("Service-Worker-Allowed") == "", r.header)
	attack(t, "origin", "preview page runs on the API origin (CSP sandbox absent)", r.header.Get("Content-Security-Policy") == "sandbox", r.header)

	// The page's script fetches /v1/me with the admin's cookie. Its origin
	// is opaque ("null", from CSP sandbox): no CORS grant may come back.
	u := newTeam(t, admin, "webdis")
	sess := u.sess
	me := admin.withKey("").do(t, "GET", "/v1/me", nil, "Cookie", sess.cookie, "Origin", "null")
	if me.status != 200 || !strings.Contains(string(me.body), "csrf") {
		t.Fatalf("/v1/me by cookie (control): %s", me)
	}
	attack(t, "origin", "sandboxed page reads /v1/me cross-origin", me.header.Get("Access-Control-Allow-Origin") == "" && me.header.Get("Access-Control-Allow-Credentials") == "", me.header)

	// The browser sends the admin's cookie with a request the page makes to
	// the proxy: a cookie never authenticates the proxy.
	cr := admin.withKey("").do(t, "GET", page, nil, "Cookie", sess.cookie)
	attack(t, "origin", "cookie-authenticated port proxy request", cr.status == 403 && strings.Contains(string(cr.body), "API key"), cr)

	// A disabled user's API key.
	if r := admin.withKey(u.key).do(t, "GET", "/v1/me", nil); r.status != 200 {
		t.Fatalf("user's key before disabling (control): %s", r)
	}
	var users struct{ Items []struct{ ID, Email string } }
	admin.do(t, "GET", "/v1/admin/users", nil).decode(t, &users)
	var uid string
	for _, x := range users.Items {
		if x.Email == u.email {
			uid = x.ID
		}
	}
	if r := admin.do(t, "POST", "/v1/admin/users/"+uid+"/disable", nil); r.status != 200 {
		t.Fatalf("disable user %q: %s", uid, r)
	}
	dr := admin.withKey(u.key).do(t, "GET", "/v1/me", nil)
	attack(t, "auth", "disabled user's API key", dr.status == 401, dr)
}
