package node_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestSandboxHostForm: a sandbox's port on its own origin,
// <port>-<id>.localhost, with each credential, through one node.
func TestSandboxHostForm(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sb := a.create(t, nil)
	checkHostForm(t, a, a, n.Signer(), sb.ID)
}

// TestSandboxHostFormCluster: the same through the node that does not run
// the sandbox; the signer of either node accepts what the other minted.
func TestSandboxHostFormCluster(t *testing.T) {
	t.Parallel()
	// The entry node is drained, so the sandbox runs on the other one and
	// every host-form request crosses the cluster.
	via, owner, a := ownerPair(t)
	sb := a.create(t, nil)
	if sb.NodeID != owner.ID.String() {
		t.Fatalf("sandbox %s on %s, want the owner %s", sb.ID, sb.NodeID, owner.ID)
	}
	t.Logf("sandbox %s runs on %s; host-form requests go through %s", sb.ID, owner.ID, via.ID)
	sid, _ := id.ParseSandboxID(sb.ID)
	if via.Signer().AccessToken(sid) != owner.Signer().AccessToken(sid) {
		t.Fatal("the nodes' signers differ: the cluster secret is not shared")
	}
	checkHostForm(t, &api{url: owner.URL, key: a.key}, &api{url: via.URL, key: a.key}, owner.Signer(), sb.ID)
}

// hostDo sends method path to the node at a.url with the Host header host
// (Node and glibc resolve no *.localhost subdomains here) and hdr pairs.
func hostDo(t *testing.T, a *api, method, host, path string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// checkHostForm serves files from busybox httpd on port 8000 of sb (set up
// through owner) and reads them on the host form through via.
func checkHostForm(t *testing.T, owner, via *api, signer *access.Signer, sb string) {
	sid, err := id.ParseSandboxID(sb)
	if err != nil {
		t.Fatal(err)
	}
	owner.sh(t, sb, "mkdir -p /www/v1 && echo index > /www/index.html && echo sandbox-me > /www/v1/me && (busybox httpd -f -p 8000 -h /www >/dev/null 2>&1 &)")
	host := "8000-" + sb + ".localhost"
	bearer := "Bearer " + via.key
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := hostDo(t, via, "GET", host, "/", "Authorization", bearer); r.status == 200 || time.Now().After(deadline) {
			break
		}
	}
	ok := func(what string, r resp, want string) {
		t.Helper()
		if r.status != 200 || string(r.body) != want {
			t.Fatalf("%s: %s, want 200 %q", what, r, want)
		}
		if csp := r.header.Get("Content-Security-Policy"); csp != "" {
			t.Errorf("%s: a host-form answer carries CSP %q (it is its own origin)", what, csp)
		}
	}
	refused := func(what string, r resp, status int, msg string) {
		t.Helper()
		if r.status != status || !strings.Contains(r.apiErr(t).Error.Message, msg) {
			t.Fatalf("%s: %s, want %d naming %q", what, r, status, msg)
		}
	}
	ok("API key (Bearer)", hostDo(t, via, "GET", host, "/", "Authorization", bearer), "index\n")
	ok("API key (X-API-Key)", hostDo(t, via, "GET", host+":1234", "/", "X-API-Key", via.key), "index\n")
	// An API route on a sandbox host is the sandbox's own path.
	ok("GET /v1/me on the sandbox host", hostDo(t, via, "GET", host, "/v1/me", "Authorization", bearer), "sandbox-me\n")
	ok("access token", hostDo(t, via, "GET", host, "/", "X-Access-Token", signer.AccessToken(sid)), "index\n")
	ok("E2B traffic token", hostDo(t, via, "GET", host, "/", "e2b-traffic-access-token", signer.AccessToken(sid)), "index\n")

	// A signed URL minted by the API opens the port with nothing else.
	r := via.do(t, "POST", "/v1/sandboxes/"+sb+"/ports/8000/url", map[string]any{"ttl_sec": 60})
	var signed struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.decode(t, &signed)
	u, err := url.Parse(signed.URL)
	_, viaPort, _ := net.SplitHostPort(strings.TrimPrefix(via.url, "http://"))
	if r.status != 201 || err != nil || u.Scheme != "http" || u.Host != host+":"+viaPort || time.Until(signed.ExpiresAt) > time.Minute {
		t.Fatalf("signing a URL: %s", r)
	}
	ok("signed URL", hostDo(t, via, "GET", u.Host, "/?"+u.RawQuery), "index\n")
	ok("signed URL, another path", hostDo(t, via, "GET", u.Host, "/v1/me?"+u.RawQuery), "sandbox-me\n")
	refused("signed URL for another port", hostDo(t, via, "GET", "8001-"+sb+".localhost", "/?"+u.RawQuery), 401, "signature is not valid")
	refused("expired signed URL", hostDo(t, via, "GET", host, "/?"+signer.SignPortURL(sid, 8000, time.Now().Add(-time.Second))), 401, "expired")
	q := u.Query()
	sig := []byte(q.Get(access.SignatureParam))
	sig[5] ^= 1
	q.Set(access.SignatureParam, string(sig))
	refused("tampered signed URL", hostDo(t, via, "GET", host, "/?"+q.Encode()), 401, "signature is not valid")
	refused("cookie only", hostDo(t, via, "GET", host, "/", "Cookie", "warren_session=whatever"), 401, "cookies never authenticate")
	refused("nothing", hostDo(t, via, "GET", host, "/"), 401, "needs an API key")
	refused("a bad port in the host", hostDo(t, via, "GET", "99999-"+sb+".localhost", "/v1/me", "Authorization", bearer), 400, "port")
	refused("a bad id in the host", hostDo(t, via, "GET", "8000-sb-1.localhost", "/v1/me", "Authorization", bearer), 400, "not a sandbox id")
	if r := hostDo(t, via, "GET", "9-"+sb+".localhost", "/", "Authorization", bearer); r.status != 502 {
		t.Fatalf("a closed port on the host form: %s", r)
	}

	// WebSocket upgrade on the host form, with the access token; the
	// sandbox sees none of the credentials nor the signature.
	script := "#!/bin/sh\n" +
		"while read -r line; do line=$(printf '%s' \"$line\" | tr -d '\\r'); echo \"$line\" >> /tmp/hostreq; [ -z \"$line\" ] && break; done\n" +
		"printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'\n" +
		"exec cat\n"
	if r := owner.do(t, "PUT", "/v1/sandboxes/"+sb+"/files?path=/hws.sh&mode=0755", script); r.status != 200 {
		t.Fatalf("upload: %s", r)
	}
	owner.sh(t, sb, "rm -f /tmp/hostreq; (nc -l -p 9003 -e /hws.sh >/dev/null 2>&1 &); sleep 0.2")
	c, err := net.Dial("tcp", strings.TrimPrefix(via.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	wsHost := "9003-" + sb + ".localhost"
	fmt.Fprintf(c, "GET /chat?room=1&%s HTTP/1.1\r\nHost: %s\r\nX-Access-Token: %s\r\nCookie: warren_session=x\r\n"+
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		signer.SignPortURL(sid, 9003, time.Now().Add(time.Minute)), wsHost, signer.AccessToken(sid))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("upgrade on the host form: %s %v", res.Status, res.Header)
	}
	fmt.Fprint(c, "ping over the host form\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping over the host form\n" {
		t.Fatalf("echo through the upgraded connection: %q %v", line, err)
	}
	head := owner.sh(t, sb, "cat /tmp/hostreq")
	low := strings.ToLower(head)
	if !strings.HasPrefix(head, "GET /chat?room=1 HTTP/1.1\n") || !strings.Contains(head, "Host: "+wsHost) ||
		strings.Contains(low, "x-access-token") || strings.Contains(low, "cookie") || strings.Contains(low, "warren_") {
		t.Fatalf("the request the sandbox saw:\n%s", head)
	}
}
