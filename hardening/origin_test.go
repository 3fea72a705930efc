package hardening_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
)

// TestPortOrigin: the host form <port>-<id>.localhost gives a sandbox's
// port an origin of its own. A preview page served there tries to act as
// the admin who opens it (read /v1/me with their cookie, plant a cookie,
// widen a service worker); a tenant reuses its own sandbox's signed URL and
// access token on another tenant's sandbox and on another port.
func TestPortOrigin(t *testing.T) {
	n, admin := startNode(t)
	victim := admin.create(t, nil)
	evil := newTeam(t, admin, "origin-evil")
	attacker := admin.withKey(evil.key)
	own := attacker.create(t, nil)

	// The preview page: sets a cookie, asks for a whole-origin service
	// worker scope and fetches /v1/me with credentials.
	cgi := "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\nSet-Cookie: warren_session=planted; Path=/\\r\\nSet-Cookie2: w=1\\r\\nService-Worker-Allowed: /\\r\\n\\r\\n<script>fetch(\"/v1/me\",{credentials:\"include\"})</script>\\n'\n"
	for _, sb := range []struct {
		c  *client
		id string
	}{{admin, victim}, {attacker, own}} {
		sb.c.mustSh(t, sb.id, "mkdir -p /www/cgi-bin && echo index > /www/index.html")
		sb.c.upload(t, sb.id, "/www/cgi-bin/page", []byte(cgi), "0755")
		sb.c.mustSh(t, sb.id, "(busybox httpd -f -p 8080 -h /www >/dev/null 2>&1 &); (busybox httpd -f -p 8081 -h /www >/dev/null 2>&1 &); sleep 0.3")
	}
	hostOf := func(port int, sb string) string { return fmt.Sprintf("%d-%s.localhost", port, sb) }
	get := func(host, path string, headers ...string) reply {
		t.Helper()
		req, err := http.NewRequest("GET", n.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return reply{status: res.StatusCode, header: res.Header, body: b}
	}
	sign := func(c *client, sb string, port int) string {
		t.Helper()
		r := c.do(t, "POST", fmt.Sprintf("/v1/sandboxes/%s/ports/%d/url", sb, port), map[string]any{"ttl_sec": 300})
		var v struct{ URL string }
		r.decode(t, &v)
		u, err := url.Parse(v.URL)
		if r.status != 201 || err != nil {
			t.Fatalf("signing a URL: %s", r)
		}
		return u.RawQuery
	}
	victimQ := sign(admin, victim, 8080)
	page := "/cgi-bin/page?" + victimQ
	var r reply
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r = get(hostOf(8080, victim), page); r.status == 200 || time.Now().After(deadline) {
			break
		}
	}
	// Positive control: the signed URL opens the preview page.
	if r.status != 200 || !strings.Contains(string(r.body), "<script>") {
		t.Fatalf("the preview page on its own origin (control): %s", r)
	}
	attack(t, "origin", "host-form page sets a cookie", len(r.header.Values("Set-Cookie"))+len(r.header.Values("Set-Cookie2")) == 0, r.header)
	attack(t, "origin", "host-form page widens a service worker scope", r.header.Get("Service-Worker-Allowed") == "", r.header)

	// The page's fetch("/v1/me") goes to its own origin, the sandbox host,
	// carrying whatever cookie the browser holds there: at worst the
	// admin's session (a host-only cookie of the API's host is never sent
	// to it, but assume it were). Control: the cookie is good on the API.
	s := login(t, admin, n.Bootstrap.Email, n.Bootstrap.Password)
	if me := admin.withKey("").do(t, "GET", "/v1/me", nil, "Cookie", s.cookie); me.status != 200 || !strings.Contains(string(me.body), "csrf") {
		t.Fatalf("/v1/me by the admin's cookie on the API (control): %s", me)
	}
	me := get(hostOf(8080, victim), "/v1/me", "Cookie", s.cookie)
	attack(t, "origin", "page on the sandbox host reads /v1/me with the admin's cookie", me.status == 401 &&
		strings.Contains(string(me.body), "cookies never authenticate") && !strings.Contains(string(me.body), "csrf"), me)
	// Even with the page's own signed query the request is the sandbox's,
	// never the API's (busybox httpd answers 404 for /v1/me).
	me = get(hostOf(8080, victim), "/v1/me?"+victimQ, "Cookie", s.cookie)
	attack(t, "origin", "page on the sandbox host reaches the API's /v1/me", me.status == 404 && !strings.Contains(string(me.body), "csrf") &&
		!strings.Contains(string(me.body), `"error"`), me)
	// The API answers no CORS grant to the sandbox's origin.
	cors := admin.withKey("").do(t, "GET", "/v1/me", nil, "Cookie", s.cookie, "Origin", "http://"+hostOf(8080, victim))
	attack(t, "origin", "sandbox origin reads /v1/me cross-origin", cors.header.Get("Access-Control-Allow-Origin") == "" &&
		cors.header.Get("Access-Control-Allow-Credentials") == "", cors.header)
	// A subdomain of the sandbox domain that names no sandbox is not the UI.
	ui := get("www.localhost", "/", "Cookie", s.cookie)
	attack(t, "origin", "the UI served on a sandbox-domain name", ui.status == 400 && !strings.Contains(string(ui.body), "<html"), ui)

	// The attacker's own credentials work on its own sandbox (controls)...
	ownQ := sign(attacker, own, 8080)
	if r := get(hostOf(8080, own), "/?"+ownQ); r.status != 200 || string(r.body) != "index\n" {
		t.Fatalf("the attacker's signed URL on its own sandbox (control): %s", r)
	}
	// The attacker's access token: the node mints it for its sandbox.
	ownID, err := id.ParseSandboxID(own)
	if err != nil {
		t.Fatal(err)
	}
	tok := n.Signer().AccessToken(ownID)
	if r := get(hostOf(8081, own), "/", "X-Access-Token", tok); r.status != 200 || string(r.body) != "index\n" {
		t.Fatalf("the attacker's access token on its own sandbox (control): %s", r)
	}
	// ...and on nothing else.
	r = get(hostOf(8080, victim), "/?"+ownQ)
	attack(t, "origin", "signed URL of sandbox B used on sandbox A", r.status == 401 && r.clean4xx(), r)
	r = get(hostOf(8081, own), "/?"+ownQ)
	attack(t, "origin", "signed URL for port 8080 used on port 8081", r.status == 401 && r.clean4xx(), r)
	q, _ := url.ParseQuery(ownQ)
	q.Set("warren_expires", fmt.Sprint(time.Now().Add(30*24*time.Hour).Unix()))
	r = get(hostOf(8080, own), "/?"+q.Encode())
	attack(t, "origin", "signed URL with its expiry pushed out", r.status == 401 && r.clean4xx(), r)
	r = get(hostOf(8080, victim), "/", "X-Access-Token", tok)
	attack(t, "origin", "access token of sandbox B used on sandbox A", r.status == 401 && r.clean4xx(), r)
	r = get(hostOf(8080, victim), "/", "e2b-traffic-access-token", tok)
	attack(t, "origin", "access token of sandbox B as E2B's traffic token on A", r.status == 401 && r.clean4xx(), r)
	r = get(hostOf(8080, victim), "/", "Authorization", "Bearer "+evil.key)
	attack(t, "origin", "another team's API key on the host form", r.status == 404 && r.clean4xx(), r)
	r = get(hostOf(8080, victim), "/", "Cookie", evil.sess.cookie)
	attack(t, "origin", "cookie-only request on the host form", r.status == 401 && r.clean4xx(), r)
	r = attacker.do(t, "POST", "/v1/sandboxes/"+victim+"/ports/8080/url", map[string]any{"ttl_sec": 60})
	attack(t, "origin", "signing a URL for another team's sandbox", r.status == 404 && r.clean4xx(), r)
}
