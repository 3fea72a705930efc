package node_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestSandboxAPI: the ports proxy, snapshots, team isolation and request
// validation, through the REST API of one node.
func TestSandboxAPI(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sb := a.create(t, nil)

	t.Run("ports proxy", func(t *testing.T) { checkPortsProxy(t, a, sb.ID) })
	t.Run("ports proxy upgrade", func(t *testing.T) { checkPortsUpgrade(t, a, sb.ID) })
	t.Run("snapshot", func(t *testing.T) { checkSnapshot(t, a, sb.ID, n.DataDir) })

	t.Run("team isolation", func(t *testing.T) {
		keyB := a.teamKey(t, "teamb")
		base := "/v1/sandboxes/" + sb.ID
		for _, c := range []struct{ method, path, body string }{
			{"GET", base, ""},
			{"DELETE", base, ""},
			{"POST", base + "/pause", ""},
			{"POST", base + "/resume", ""},
			{"POST", base + "/timeout", `{"timeout_sec":10}`},
			{"POST", base + "/exec", `{"cmd":"echo hi"}`},
			{"POST", base + "/exec/stream", `{"cmd":"echo hi"}`},
			{"GET", base + "/files?path=/etc/passwd", ""},
			{"PUT", base + "/files?path=/tmp/x", "data"},
			{"DELETE", base + "/files?path=/etc/passwd", ""},
			{"GET", base + "/files/list?path=/", ""},
			{"GET", base + "/files/stat?path=/", ""},
			{"POST", base + "/files/mkdir", `{"path":"/tmp/d"}`},
			{"GET", base + "/ports/8080/", ""},
			{"POST", base + "/snapshots", `{"name":"stolen"}`},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			if r := a.do(t, c.method, c.path, body, keyB); r.status != 404 {
				t.Errorf("team B: %s %s: %s, want 404", c.method, c.path, r)
			}
		}
		r := a.do(t, "GET", "/v1/sandboxes", nil, keyB)
		if r.status != 200 || strings.Contains(string(r.body), sb.ID) {
			t.Fatalf("team B's list: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "snap-one"}, keyB); r.status != 400 {
			t.Fatalf("team B creating from team A's template: %s", r)
		}
		if st := a.get(t, sb.ID).Status; st != "running" {
			t.Fatalf("team A's sandbox is %s after team B's attempts", st)
		}
		if out := a.sh(t, sb.ID, "test -e /tmp/x || test -e /tmp/d || echo untouched"); out != "untouched\n" {
			t.Fatalf("team B changed team A's files: %q", out)
		}
	})

	t.Run("list", func(t *testing.T) {
		tagged := a.create(t, map[string]any{"metadata": map[string]string{"owner": "alice"}})
		ended := a.create(t, nil)
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+ended.ID, nil); r.status != 200 {
			t.Fatalf("delete: %s", r)
		}
		list := func(q string) string {
			r := a.do(t, "GET", "/v1/sandboxes"+q, nil)
			if r.status != 200 {
				t.Fatalf("list %s: %s", q, r)
			}
			return string(r.body)
		}
		if b := list("?metadata=owner=alice"); !strings.Contains(b, tagged.ID) || strings.Contains(b, sb.ID) {
			t.Fatalf("metadata filter: %s", b)
		}
		if b := list("?state=killed"); !strings.Contains(b, ended.ID) || strings.Contains(b, tagged.ID) {
			t.Fatalf("state filter: %s", b)
		}
		first := list("?limit=1")
		var page struct {
			Items      []sandboxJSON `json:"items"`
			NextCursor string        `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(first), &page); err != nil || len(page.Items) != 1 || page.NextCursor == "" {
			t.Fatalf("first page: %s", first)
		}
		seen := page.Items[0].ID
		if b := list("?limit=1&cursor=" + page.NextCursor); strings.Contains(b, seen) || !strings.Contains(b, `"id":"sb-`) {
			t.Fatalf("second page repeats %s or is empty: %s", seen, b)
		}
		if r := a.do(t, "GET", "/v1/sandboxes?state=bogus", nil); r.status != 400 || r.apiErr(t).Error.Field != "state" {
			t.Fatalf("bad state filter: %s", r)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct{ body, field, msg string }{
			{`{"template":"base","disk_size_mb":0}`, "disk_size_mb", "between 1024"},
			{`{"template":"base","disk_size_mb":-1}`, "disk_size_mb", "between 1024"},
			{`{"template":"base","disk_size_mb":1000000000}`, "disk_size_mb", "between 1024"},
			{`{"template":"base","disk_size_mb":"x"}`, "disk_size_mb", "number"},
			{`{"template":"base","disk_size_mb":1.5}`, "disk_size_mb", ""},
			{`{"template":"no-such-template"}`, "template", "no-such-template"},
			{`{"template":"tpl-00000000-0000-0000-0000-000000000001"}`, "template", "no template"},
			{`{}`, "template", "required"},
			{`{"template":"base","bogus":1}`, "bogus", "unknown field"},
			{`{"template":"base","memory_mb":1}`, "memory_mb", "between"},
			{`{"template":"base","vcpus":0}`, "vcpus", "between"},
			{`{"template":"base","timeout_sec":0}`, "timeout_sec", "between"},
			{`{"template":"base","env":{"A=B":"x"}}`, "env", ""},
		} {
			r := a.do(t, "POST", "/v1/sandboxes", c.body)
			if r.status != 400 {
				t.Errorf("create %s: %s, want 400", c.body, r)
				continue
			}
			e := r.apiErr(t)
			if e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.msg) || !strings.Contains(e.Error.Message, c.field) {
				t.Errorf("create %s: %s, want field %q and a message with %q", c.body, r, c.field, c.msg)
			}
		}
		for _, c := range []struct{ path, body, field string }{
			{"/exec", `{"cmd":""}`, "cmd"},
			{"/exec", `{"cmd":"true","timeout_sec":-1}`, "timeout_sec"},
			{"/exec", `{"cmd":"true","colour":1}`, "colour"},
			{"/timeout", `{"timeout_sec":0}`, "timeout_sec"},
			{"/files/mkdir", `{"path":"rel"}`, "path"},
		} {
			r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+c.path, c.body)
			if r.status != 400 || r.apiErr(t).Error.Field != c.field {
				t.Errorf("POST %s %s: %s, want 400 naming %s", c.path, c.body, r, c.field)
			}
		}
		for _, p := range []string{"/v1/sandboxes/nope", "/v1/sandboxes/sb-00000000-0000-0000-0000-000000000001"} {
			r := a.do(t, "GET", p, nil)
			if want := map[bool]int{true: 400, false: 404}[strings.HasSuffix(p, "nope")]; r.status != want {
				t.Errorf("GET %s: %s, want %d", p, r, want)
			}
		}
		// No failed create left a sandbox behind.
		r := a.do(t, "GET", "/v1/sandboxes?state=creating,failed", nil)
		if r.status != 200 || strings.Contains(string(r.body), `"id"`) {
			t.Fatalf("failed creates left rows: %s", r)
		}
		if ents, _ := os.ReadDir(filepath.Join(n.DataDir, "sandboxes")); len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if !strings.Contains(fmt.Sprint(names), sb.ID) {
				t.Fatalf("sandbox dirs: %v", names)
			}
		}
	})
}

// checkPortsProxy serves files from busybox httpd on port 8080 of sandbox sb
// and reads them through a's ports proxy; closed and bad ports get clear
// answers.
func checkPortsProxy(t *testing.T, a *api, sb string) {
	a.sh(t, sb, "mkdir -p /www/sub /www/cgi-bin && echo index > /www/index.html && echo deep > /www/sub/f.txt && (busybox httpd -f -p 8080 -h /www >/dev/null 2>&1 &)")
	// httpd was started in the background: give it a moment to listen.
	for deadline := time.Now().Add(5 * time.Second); ; {
		r := a.do(t, "GET", "/v1/sandboxes/"+sb+"/ports/8080/", nil)
		if r.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for path, want := range map[string]string{"/ports/8080/": "index\n", "/ports/8080/sub/f.txt": "deep\n"} {
		r := a.do(t, "GET", "/v1/sandboxes/"+sb+path, nil)
		if r.status != 200 || string(r.body) != want {
			t.Fatalf("GET %s: %s, want %q", path, r, want)
		}
	}
	// A CGI script tries to set a cookie and widen a service worker's scope
	// on the API's origin: both headers are dropped and the content is
	// sandboxed (CSP sandbox, an opaque origin).
	cgi := "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nSet-Cookie: warren_session=planted; Path=/\\r\\nSet-Cookie2: x=1\\r\\nService-Worker-Allowed: /\\r\\nX-Kept: yes\\r\\n\\r\\ncgi\\n'\n"
	if r := a.do(t, "PUT", "/v1/sandboxes/"+sb+"/files?path=/www/cgi-bin/c&mode=0755", cgi); r.status != 200 {
		t.Fatalf("upload cgi: %s", r)
	}
	r := a.do(t, "GET", "/v1/sandboxes/"+sb+"/ports/8080/cgi-bin/c", nil)
	if r.status != 200 || string(r.body) != "cgi\n" || r.header.Get("X-Kept") != "yes" {
		t.Fatalf("cgi through the proxy (control): %s %v", r, r.header)
	}
	for _, h := range []string{"Set-Cookie", "Set-Cookie2", "Service-Worker-Allowed"} {
		if v := r.header.Values(h); len(v) > 0 {
			t.Errorf("proxied response kept %s: %q", h, v)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); csp != "sandbox" {
		t.Errorf("proxied response CSP %q, want sandbox", csp)
	}
	if r := a.do(t, "GET", "/v1/sandboxes/"+sb+"/ports/8080/", nil, "wrong"); r.status != 401 {
		t.Fatalf("the proxy without credentials: %s", r)
	}
	r = a.do(t, "GET", "/v1/sandboxes/"+sb+"/ports/9/", nil)
	if r.status != 502 || !strings.Contains(r.apiErr(t).Error.Message, "port 9") {
		t.Fatalf("a closed port: %s", r)
	}
	if r := a.do(t, "GET", "/v1/sandboxes/"+sb+"/ports/70000/", nil); r.status != 400 || r.apiErr(t).Error.Field != "port" {
		t.Fatalf("port 70000: %s", r)
	}

}

// checkPortsUpgrade upgrades a connection through a's ports proxy to a tiny
// server in sandbox sb and echoes over it.
func checkPortsUpgrade(t *testing.T, a *api, sb string) {
	// A minimal upgrade server: log the request head, answer 101, echo.
	script := "#!/bin/sh\n" +
		"while read -r line; do line=$(printf '%s' \"$line\" | tr -d '\\r'); echo \"$line\" >> /tmp/req; [ -z \"$line\" ] && break; done\n" +
		"printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'\n" +
		"exec cat\n"
	if r := a.do(t, "PUT", "/v1/sandboxes/"+sb+"/files?path=/ws.sh&mode=0755", script); r.status != 200 {
		t.Fatalf("upload: %s", r)
	}
	a.sh(t, sb, "(nc -l -p 9002 -e /ws.sh >/dev/null 2>&1 &); sleep 0.2")
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /v1/sandboxes/%s/ports/9002/chat?x=1 HTTP/1.1\r\nHost: warren\r\nAuthorization: Bearer %s\r\n"+
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", sb, a.key)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("upgrade through the proxy: %s %v", res.Status, res.Header)
	}
	fmt.Fprint(c, "ping over the tunnel\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "ping over the tunnel\n" {
		t.Fatalf("echo through the upgraded connection: %q %v", line, err)
	}
	head := a.sh(t, sb, "cat /tmp/req")
	if !strings.HasPrefix(head, "GET /chat?x=1 HTTP/1.1\n") || strings.Contains(strings.ToLower(head), "authorization") || !strings.Contains(head, "X-Forwarded-For") {
		t.Fatalf("the request the sandbox saw:\n%s", head)
	}

}

// checkSnapshot snapshots sandbox sb through a (its image must land in the
// pool under ownerDataDir), starts sandboxes from the snapshot and checks
// the name rules.
func checkSnapshot(t *testing.T, a *api, sb, ownerDataDir string) {
	a.sh(t, sb, "echo before-snapshot > /home/user/marker")
	r := a.do(t, "POST", "/v1/sandboxes/"+sb+"/snapshots", map[string]any{"name": "snap-one"})
	if r.status != 201 {
		t.Fatalf("snapshot: %s", r)
	}
	var tpl struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Type      string `json:"type"`
		SizeBytes int64  `json:"size_bytes"`
	}
	r.decode(t, &tpl)
	fi, err := os.Stat(filepath.Join(ownerDataDir, "pool", "images", tpl.ID+".img"))
	if err != nil {
		t.Fatalf("the snapshot's image: %v", err)
	}
	t.Logf("snapshot %s: size_bytes %d, image file %d bytes", tpl.ID, tpl.SizeBytes, fi.Size())
	if tpl.Name != "snap-one" || tpl.Type != "snapshot" || tpl.SizeBytes <= 0 || tpl.SizeBytes != fi.Size() {
		t.Fatalf("snapshot template %+v; the stored image is %d bytes", tpl, fi.Size())
	}
	if st := a.get(t, sb).Status; st != "running" {
		t.Fatalf("the source sandbox is %s after the snapshot", st)
	}
	if out := a.sh(t, sb, "echo after > /home/user/later && cat /home/user/marker"); out != "before-snapshot\n" {
		t.Fatalf("the source sandbox after the snapshot: %q", out)
	}
	for _, ref := range []string{"snap-one", tpl.ID} {
		child := a.create(t, map[string]any{"template": ref})
		if out := a.sh(t, child.ID, "cat /home/user/marker; ls /home/user"); out != "before-snapshot\nmarker\n" {
			t.Fatalf("a sandbox from template %s sees %q", ref, out)
		}
	}
	if r := a.do(t, "POST", "/v1/sandboxes/"+sb+"/snapshots", map[string]any{"name": "snap-one"}); r.status != 409 {
		t.Fatalf("a second snapshot with the same name: %s", r)
	}
	if r := a.do(t, "POST", "/v1/sandboxes/"+sb+"/snapshots", map[string]any{"name": "Bad Name"}); r.status != 400 || r.apiErr(t).Error.Field != "name" {
		t.Fatalf("a bad snapshot name: %s", r)
	}

}
