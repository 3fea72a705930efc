package hardening_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPTYWalls: the terminal WebSocket is tried with another team's
// credentials, cross-site (a cookie with a foreign or a sandbox preview
// Origin), with oversized frames and with malformed control messages. Each
// attack has a control that succeeds, and no attempt leaves a process in
// the sandbox.
func TestPTYWalls(t *testing.T) {
	_, admin := startNode(t)
	sb := admin.create(t, nil)
	other := newTeam(t, admin, "ptywall")
	mine := newTeam(t, admin, "ptymine")
	own := admin.withKey(mine.key)
	sbMine := own.create(t, nil)
	u, _ := url.Parse(admin.url)
	apiOrigin := "http://" + u.Host

	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	cookie := func(s session, origin string) http.Header {
		h := http.Header{"Cookie": {s.cookie}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}

	// Controls: the owner's key, and the owner's cookie from the API's own
	// origin, get a working terminal.
	for what, h := range map[string]http.Header{"key": bearer(admin.key)} {
		ws, r := dialPTY(t, admin.url, sb, "", h)
		if ws == nil {
			t.Fatalf("pty by %s (control): %v", what, r)
		}
		if out := ws.run(t, "echo ctl-$((6*7))\r", "ctl-42"); !strings.Contains(out, "ctl-42") {
			t.Fatalf("pty control: %q", out)
		}
		ws.close()
	}
	ws, r := dialPTY(t, admin.url, sbMine, "", cookie(mine.sess, apiOrigin))
	if ws == nil {
		t.Fatalf("pty by cookie from the API origin (control): %v", r)
	}
	ws.run(t, "echo ctl-$((6*7))\r", "ctl-42")
	ws.close()
	// The team of a cookie session comes in the query on a WebSocket
	// (browsers send no X-Warren-Team there): the user's own team works
	// (control); a team the user is not in is refused, naming the parameter.
	ws, r = dialPTY(t, admin.url, sbMine, "team="+mine.id, cookie(mine.sess, apiOrigin))
	if ws == nil {
		t.Fatalf("pty by cookie with its own team in the query (control): %v", r)
	}
	ws.close()
	ws, r = dialPTY(t, admin.url, sbMine, "team="+other.id, cookie(mine.sess, apiOrigin))
	attack(t, "pty", "cookie names another team in the query", ws == nil && r != nil && r.status == 400 && strings.Contains(string(r.body), "team") && r.errShape(), r)
	if ws != nil {
		ws.close()
	}

	// Another team's sandbox: 404 before any upgrade, by key and by cookie.
	for what, h := range map[string]http.Header{
		"another team's sandbox by API key": bearer(other.key),
		"another team's sandbox by cookie":  cookie(other.sess, apiOrigin),
	} {
		ws, r := dialPTY(t, admin.url, sb, "", h)
		attack(t, "pty", what, ws == nil && r != nil && r.status == 404 && r.errShape(), r)
		if ws != nil {
			ws.close()
		}
	}
	// Cross-site WebSocket hijacking: the browser sends the cookie, the
	// page's origin is not the API's.
	previewHost := "8080-" + sbMine + ".localhost:" + u.Port()
	for what, origin := range map[string]string{
		"cookie with a foreign Origin":             "http://evil.example",
		"cookie with a sandbox preview Origin":     "http://" + previewHost,
		"cookie with Origin null (sandboxed page)": "null",
		"cookie with no Origin":                    "",
		"cookie with the API host on another port": "http://" + u.Hostname() + ":1",
	} {
		ws, r := dialPTY(t, admin.url, sbMine, "", cookie(mine.sess, origin))
		attack(t, "pty", what, ws == nil && r != nil && r.status == 403 && r.errShape(), r)
		if ws != nil {
			ws.close()
		}
	}

	// Frame size: 64 KiB is taken whole (control), more closes with 1009
	// and kills the session.
	raw := url.Values{"cmd": {"sh", "-c", "stty raw -echo; echo ready; head -c 65536 | wc -c; sleep 100"}}.Encode()
	ws, r = dialPTY(t, admin.url, sb, raw, bearer(admin.key))
	if ws == nil {
		t.Fatalf("pty: %v", r)
	}
	ws.waitFor(t, "ready")
	ws.write(t, websocket.MessageBinary, bytes.Repeat([]byte("a"), 64<<10))
	if out := ws.waitFor(t, "65536"); !strings.Contains(out, "65536") {
		t.Fatalf("a 64 KiB frame (control): %q", out[max(0, len(out)-300):])
	}
	ws.close()
	for what, frame := range map[string]struct {
		typ websocket.MessageType
		n   int
	}{
		"binary frame of 64 KiB + 1": {websocket.MessageBinary, 64<<10 + 1},
		"binary frame of 8 MiB":      {websocket.MessageBinary, 8 << 20},
		"text frame of 1 MiB":        {websocket.MessageText, 1 << 20},
	} {
		ws, r := dialPTY(t, admin.url, sb, "", bearer(admin.key))
		if ws == nil {
			t.Fatalf("pty: %v", r)
		}
		ws.run(t, "sleep 100\r", "")
		_ = ws.c.Write(context.Background(), frame.typ, bytes.Repeat([]byte("{"), frame.n))
		code := ws.closeCode(t)
		attack(t, "pty", "oversized "+what, code == websocket.StatusMessageTooBig && noneLeft(t, admin, sb), code)
	}

	// Malformed control messages: an error frame, close 1008, nothing left.
	for what, msg := range map[string]string{
		"unknown message type":  `{"type":"exec","cmd":"id"}`,
		"no type":               `{"cols":10,"rows":10}`,
		"not JSON":              `resize`,
		"resize to 0x0":         `{"type":"resize","cols":0,"rows":0}`,
		"resize to 70000 cols":  `{"type":"resize","cols":70000,"rows":10}`,
		"resize with a string":  `{"type":"resize","cols":"80","rows":24}`,
		"signal by number":      `{"type":"signal","signal":9}`,
		"signal STOP":           `{"type":"signal","signal":"STOP"}`,
		"extra field on signal": `{"type":"signal","signal":"INT","pid":1}`,
	} {
		ws, r := dialPTY(t, admin.url, sb, "", bearer(admin.key))
		if ws == nil {
			t.Fatalf("pty: %v", r)
		}
		ws.run(t, "sleep 100\r", "")
		ws.write(t, websocket.MessageText, []byte(msg))
		ev := ws.lastEvent(t)
		code := ws.closeCode(t)
		badInput(t, "pty", what, ev["type"] == "error" && ev["message"] != "" && code == websocket.StatusPolicyViolation && noneLeft(t, admin, sb), ev, code)
	}
	// Refused before the upgrade, as JSON errors.
	for what, q := range map[string]string{
		"cols=0": "cols=0", "rows=-1": "rows=-1", "cols=1e3": "cols=1e3", "rows=4097": "rows=4097",
		"cmd with NUL": "cmd=%00", "empty cmd": "cmd=", "user too long": "user=" + strings.Repeat("u", 65),
	} {
		ws, r := dialPTY(t, admin.url, sb, q, bearer(admin.key))
		badInput(t, "pty", "query "+what, ws == nil && r != nil && r.status == 400 && r.errShape(), r)
	}
	plain := admin.do(t, "GET", "/v1/sandboxes/"+sb+"/pty", nil)
	badInput(t, "pty", "plain GET without upgrade", plain.status == 400 && plain.errShape() && strings.Contains(string(plain.body), "upgrade_required"), plain)
	post := admin.do(t, "POST", "/v1/sandboxes/"+sb+"/pty", nil)
	badInput(t, "pty", "POST", post.clean4xx(), post)
}

// noneLeft waits (bounded) until sandbox sb runs nothing but its agent; the
// listing uses shell builtins only, so it is one process itself.
func noneLeft(t *testing.T, c *client, sb string) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := c.mustSh(t, sb, `echo $$; for f in /proc/[0-9]*/stat; do read l < $f 2>/dev/null && echo "$l"; done; true`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		left := 0
		for _, l := range lines[1:] {
			pid, _, _ := strings.Cut(l, " ")
			if pid != "1" && pid != lines[0] {
				left++
			}
		}
		if left == 0 {
			return true
		}
		if time.Now().After(deadline) {
			t.Logf("processes left in %s: %s", sb, out)
			return false
		}
	}
}

// ptyConn is a test PTY WebSocket: output and control messages collected
// by a reader goroutine.
type ptyConn struct {
	c    *websocket.Conn
	out  chan []byte
	evs  chan map[string]any
	done chan struct{}
	code websocket.StatusCode
	buf  bytes.Buffer
}

// dialPTY opens sandbox sb's PTY; on a refusal it returns the answer.
func dialPTY(t *testing.T, base, sb, q string, h http.Header) (*ptyConn, *reply) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/sandboxes/"+sb+"/pty?"+q, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if res == nil {
			t.Fatalf("dial pty: %v", err)
		}
		var b []byte
		if res.Body != nil {
			b, _ = io.ReadAll(res.Body)
		}
		return nil, &reply{status: res.StatusCode, header: res.Header, body: b}
	}
	c.SetReadLimit(16 << 20)
	p := &ptyConn{c: c, out: make(chan []byte, 1024), evs: make(chan map[string]any, 16), done: make(chan struct{}), code: -1}
	go func() {
		defer close(p.done)
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				p.code = websocket.CloseStatus(err)
				return
			}
			if typ == websocket.MessageBinary {
				p.out <- b
				continue
			}
			var ev map[string]any
			_ = json.Unmarshal(b, &ev)
			p.evs <- ev
		}
	}()
	t.Cleanup(func() { _ = c.CloseNow() })
	return p, nil
}

func (p *ptyConn) write(t *testing.T, typ websocket.MessageType, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.c.Write(ctx, typ, b); err != nil {
		t.Fatalf("pty write: %v", err)
	}
}

// waitFor collects output until it holds want (or 15 s pass).
func (p *ptyConn) waitFor(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for !strings.Contains(p.buf.String(), want) {
		select {
		case b := <-p.out:
			p.buf.Write(b)
		case <-timeout:
			return p.buf.String()
		}
	}
	return p.buf.String()
}

// run types input and waits for want in the output (a short settle when
// want is empty).
func (p *ptyConn) run(t *testing.T, input, want string) string {
	t.Helper()
	p.write(t, websocket.MessageBinary, []byte(input))
	if want == "" {
		time.Sleep(300 * time.Millisecond)
		return ""
	}
	return p.waitFor(t, want)
}

func (p *ptyConn) lastEvent(t *testing.T) map[string]any {
	t.Helper()
	select {
	case ev := <-p.evs:
		return ev
	case <-time.After(15 * time.Second):
		return nil
	}
}

func (p *ptyConn) closeCode(t *testing.T) websocket.StatusCode {
	t.Helper()
	go func() {
		for range p.out {
		}
	}()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Errorf("pty did not close within 15s")
	}
	return p.code
}

func (p *ptyConn) close() { _ = p.c.Close(websocket.StatusNormalClosure, "") }
