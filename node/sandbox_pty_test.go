package node_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestSandboxPTY: a terminal over the PTY WebSocket gets the size sent and
// changes it on resize, Ctrl-C and signal messages interrupt the job,
// exit codes arrive in the exit frame, sessions are independent, and every
// way a session ends (exit, disconnect, kill, pause, expiry, bad input)
// leaves no process in the sandbox.
func TestSandboxPTY(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sb := a.create(t, nil)

	t.Run("figures", func(t *testing.T) {
		start := time.Now()
		tm := a.openPTY(t, sb.ID, "")
		tm.waitFor(0, "#", 10*time.Second) // the prompt
		open := time.Since(start)
		var rtt []time.Duration
		for range 50 {
			m := tm.mark()
			s := time.Now()
			tm.send("x")
			tm.waitFor(m, "x", 10*time.Second) // the terminal's echo
			rtt = append(rtt, time.Since(s))
		}
		sort.Slice(rtt, func(i, j int) bool { return rtt[i] < rtt[j] })
		t.Logf("pty open → prompt %s; keystroke → echo over the WebSocket p50 %s, p90 %s, max %s (50 keys)", open, rtt[25], rtt[45], rtt[49])
		tm.send("\x15exit\r")
		tm.wantExit(0)
		a.noLeftovers(t, sb.ID)
	})

	t.Run("size, resize, exit code", func(t *testing.T) {
		tm := a.openPTY(t, sb.ID, "cols=100&rows=30")
		m := tm.mark()
		tm.send("stty size\r")
		tm.waitFor(m, "30 100", 10*time.Second)
		tm.ctl(`{"type":"resize","cols":120,"rows":40}`)
		m = tm.mark()
		tm.send("stty size; echo TERM=$TERM\r")
		tm.waitFor(m, "40 120", 10*time.Second)
		tm.waitFor(m, "TERM=xterm-256color", 10*time.Second)
		tm.send("exit 3\r")
		tm.wantExit(3)
		a.noLeftovers(t, sb.ID)
	})

	t.Run("ctrl-c and signals", func(t *testing.T) {
		tm := a.openPTY(t, sb.ID, "")
		tm.send("sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		m := tm.mark()
		tm.send("\x03")
		tm.send("echo rc=$?\r")
		tm.waitFor(m, "rc=130", 10*time.Second)
		// The signal message reaches the job in the foreground too.
		tm.send("sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		m = tm.mark()
		tm.ctl(`{"type":"signal","signal":"INT"}`)
		tm.send("echo rc=$?\r")
		tm.waitFor(m, "rc=130", 10*time.Second)
		tm.send("sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		tm.ctl(`{"type":"signal","signal":"KILL"}`)
		m = tm.mark()
		tm.send("echo rc=$?\r")
		tm.waitFor(m, "rc=137", 10*time.Second)
		tm.send("exit\r")
		tm.wantExit(0)
		a.noLeftovers(t, sb.ID)
	})

	t.Run("disconnect kills the session and its jobs", func(t *testing.T) {
		tm := a.openPTY(t, sb.ID, "")
		tm.send("sleep 201 & sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		_ = tm.c.CloseNow()
		a.noLeftovers(t, sb.ID)
	})

	t.Run("two sessions are independent", func(t *testing.T) {
		one := a.openPTY(t, sb.ID, "cols=80&rows=24")
		two := a.openPTY(t, sb.ID, "cols=50&rows=10")
		m1, m2 := one.mark(), two.mark()
		one.send("X=one; stty size\r")
		two.send("X=two; stty size\r")
		one.waitFor(m1, "24 80", 10*time.Second)
		two.waitFor(m2, "10 50", 10*time.Second)
		two.ctl(`{"type":"resize","cols":60,"rows":12}`)
		m1, m2 = one.mark(), two.mark()
		one.send("echo x=$X; stty size\r")
		two.send("echo x=$X; stty size\r")
		one.waitFor(m1, "x=one", 10*time.Second)
		one.waitFor(m1, "24 80", 10*time.Second)
		two.waitFor(m2, "x=two", 10*time.Second)
		two.waitFor(m2, "12 60", 10*time.Second)
		one.send("exit 4\r")
		one.wantExit(4)
		m2 = two.mark()
		two.send("echo still-here\r")
		two.waitFor(m2, "still-here\r\n", 10*time.Second)
		two.send("exit 5\r")
		two.wantExit(5)
		a.noLeftovers(t, sb.ID)
	})

	t.Run("a given command, through the Go client", func(t *testing.T) {
		c, err := client.New(n.URL, n.APIKey)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := c.OpenPTY(ctx, sb.ID, client.PTYOptions{Cols: 33, Rows: 7, Cmd: []string{"sh", "-c", "stty size; read x; echo got=$x; exit 7"}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Write([]byte("hello\r")); err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("read: %v (output %q)", err, out)
		}
		ex, ok := p.Exit()
		if !ok || ex.Code != 7 || !strings.Contains(string(out), "7 33") || !strings.Contains(string(out), "got=hello") {
			t.Fatalf("exit %+v %v, output %q", ex, ok, out)
		}
		// Refusals come back as API errors.
		_, err = c.OpenPTY(ctx, sb.ID, client.PTYOptions{Cols: 5000})
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "cols" {
			t.Fatalf("cols 5000: %v", err)
		}
		a.noLeftovers(t, sb.ID)
	})

	t.Run("bad input", func(t *testing.T) {
		other := a.teamKey(t, "ptyother")
		for _, c := range []struct {
			name, q string
			h       http.Header
			status  int
			field   string
			code    string
		}{
			{"cols zero", "cols=0", nil, 400, "cols", ""},
			{"rows not a number", "rows=ten", nil, 400, "rows", ""},
			{"rows too large", "rows=4097", nil, 400, "rows", ""},
			{"empty program", "cmd=", nil, 400, "cmd", ""},
			{"unknown user", "user=nobody-here", nil, 400, "", ""},
			{"another team's sandbox", "", http.Header{"Authorization": {"Bearer " + other}}, 404, "", "not_found"},
			{"no credentials", "", http.Header{}, 401, "", "unauthenticated"},
		} {
			h := c.h
			if h == nil {
				h = http.Header{"Authorization": {"Bearer " + a.key}}
			}
			_, r, err := a.dialPTY(t, sb.ID, c.q, h)
			if err == nil || r == nil || r.status != c.status {
				t.Fatalf("%s: %v %v, want %d", c.name, err, r, c.status)
			}
			e := r.apiErr(t)
			if e.Error.Field != c.field || (c.code != "" && e.Error.Code != c.code) {
				t.Fatalf("%s: %s", c.name, r)
			}
		}
		// A plain GET is told to upgrade.
		r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/pty", nil)
		if r.status != 400 || r.apiErr(t).Error.Code != "upgrade_required" || !strings.Contains(r.apiErr(t).Error.Message, "WebSocket") {
			t.Fatalf("plain GET: %s", r)
		}

		// On an open session: each bad frame ends it, and nothing is left.
		for _, c := range []struct {
			name  string
			frame func(tm *term)
			check func(tm *term)
		}{
			{"oversized frame", func(tm *term) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = tm.c.Write(ctx, websocket.MessageBinary, make([]byte, 64<<10+1))
			}, func(tm *term) {
				if _, st := tm.end(20 * time.Second); st != websocket.StatusMessageTooBig {
					t.Fatalf("oversized frame: close %d, want 1009", st)
				}
			}},
			{"unknown message type", func(tm *term) { tm.ctl(`{"type":"paste","data":"x"}`) },
				func(tm *term) { tm.wantError(`unknown control message type "paste"`, websocket.StatusPolicyViolation) }},
			{"not JSON", func(tm *term) { tm.ctl(`resize 10 10`) },
				func(tm *term) { tm.wantError("JSON control message", websocket.StatusPolicyViolation) }},
			{"bad resize", func(tm *term) { tm.ctl(`{"type":"resize","cols":0,"rows":10}`) },
				func(tm *term) {
					tm.wantError("cols and rows must be between 1 and 4096", websocket.StatusPolicyViolation)
				}},
			{"unknown signal", func(tm *term) { tm.ctl(`{"type":"signal","signal":"STOP"}`) },
				func(tm *term) { tm.wantError(`"STOP" is not one of`, websocket.StatusPolicyViolation) }},
		} {
			tm := a.openPTY(t, sb.ID, "")
			tm.send("sleep 100\r")
			a.waitProc(t, sb.ID, "sleep")
			c.frame(tm)
			c.check(tm)
			a.noLeftovers(t, sb.ID)
		}
	})

	t.Run("at most 8 sessions", func(t *testing.T) {
		var terms []*term
		for range 8 {
			terms = append(terms, a.openPTY(t, sb.ID, ""))
		}
		_, r, err := a.dialPTY(t, sb.ID, "", http.Header{"Authorization": {"Bearer " + a.key}})
		if err == nil || r == nil || r.status != 429 {
			t.Fatalf("9th session: %v %v, want 429", err, r)
		}
		for _, tm := range terms {
			tm.send("exit\r")
			tm.wantExit(0)
		}
		a.noLeftovers(t, sb.ID)
	})
}

// TestSandboxPTYEnds: a session ends with an error frame when its sandbox
// is killed, paused or expires, and leaves no process behind.
func TestSandboxPTYEnds(t *testing.T) {
	t.Parallel()
	a := newAPI(nodetest.Start(t))

	t.Run("kill", func(t *testing.T) {
		sb := a.create(t, nil)
		tm := a.openPTY(t, sb.ID, "")
		tm.send("sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 200 {
			t.Fatalf("kill: %s", r)
		}
		tm.wantError("the sandbox", websocket.StatusInternalError)
	})

	t.Run("pause", func(t *testing.T) {
		sb := a.create(t, nil)
		tm := a.openPTY(t, sb.ID, "")
		tm.send("sleep 100\r")
		a.waitProc(t, sb.ID, "sleep")
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 200 {
			t.Fatalf("pause: %s", r)
		}
		tm.wantError("the sandbox is paused", websocket.StatusInternalError)
		// A paused sandbox takes no new terminal.
		if _, r, err := a.dialPTY(t, sb.ID, "", http.Header{"Authorization": {"Bearer " + a.key}}); err == nil || r == nil || r.status != 409 {
			t.Fatalf("pty on a paused sandbox: %v %v, want 409", err, r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 200 {
			t.Fatalf("resume: %s", r)
		}
		a.noLeftovers(t, sb.ID)
	})

	t.Run("expiry", func(t *testing.T) {
		sb := a.create(t, map[string]any{"timeout_sec": 4})
		tm := a.openPTY(t, sb.ID, "")
		tm.send("sleep 100\r")
		start := time.Now()
		tm.wantError("the sandbox", websocket.StatusInternalError)
		t.Logf("session ended %s after opening, on a 4 s timeout", time.Since(start))
	})
}

// TestSandboxPTYAcrossNodes: a terminal opened through one node on a
// sandbox another node runs is relayed to the owner's agent: size, resize,
// Ctrl-C and the exit code all cross, and a disconnect leaves nothing.
func TestSandboxPTYAcrossNodes(t *testing.T) {
	t.Parallel()
	_, owner, a := ownerPair(t)
	sb := a.create(t, nil)
	if sb.NodeID != owner.ID.String() {
		t.Fatalf("sandbox on %s, want the owner %s", sb.NodeID, owner.ID)
	}
	tm := a.openPTY(t, sb.ID, "cols=91&rows=19")
	m := tm.mark()
	tm.send("stty size\r")
	tm.waitFor(m, "19 91", 10*time.Second)
	tm.ctl(`{"type":"resize","cols":92,"rows":21}`)
	m = tm.mark()
	tm.send("stty size\r")
	tm.waitFor(m, "21 92", 10*time.Second)
	tm.send("sleep 100\r")
	a.waitProc(t, sb.ID, "sleep")
	m = tm.mark()
	tm.send("\x03echo rc=$?\r")
	tm.waitFor(m, "rc=130", 10*time.Second)
	tm.send("exit 3\r")
	tm.wantExit(3)
	a.noLeftovers(t, sb.ID)

	tm = a.openPTY(t, sb.ID, "")
	tm.send("sleep 100\r")
	a.waitProc(t, sb.ID, "sleep")
	_ = tm.c.CloseNow()
	a.noLeftovers(t, sb.ID)
}
