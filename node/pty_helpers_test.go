package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// term is a test client of a PTY WebSocket: output is collected, control
// messages from the server recorded, and the close status kept.
type term struct {
	t    testing.TB
	c    *websocket.Conn
	mu   sync.Mutex
	out  bytes.Buffer
	evs  []map[string]any
	done chan struct{}
	more chan struct{}        // a token after each output frame
	code websocket.StatusCode // close status seen by the reader (-1: none)
}

// ptyURL is the WebSocket URL of sandbox id's PTY with query q.
func (a *api) ptyURL(id, q string) string {
	return "ws" + strings.TrimPrefix(a.url, "http") + "/v1/sandboxes/" + id + "/pty?" + q
}

// openPTY dials the PTY of sandbox id with the client's key; it fails the
// test unless the upgrade succeeds.
func (a *api) openPTY(t testing.TB, id, q string) *term {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + a.key}}
	tm, res, err := a.dialPTY(t, id, q, h)
	if err != nil {
		t.Fatalf("dial pty of %s (%s): %v (%v)", id, q, err, res)
	}
	return tm
}

// dialPTY dials with the given headers and returns the refusal's answer
// when there is one.
func (a *api) dialPTY(t testing.TB, id, q string, h http.Header) (*term, *resp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, a.ptyURL(id, q), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if res != nil {
			var b bytes.Buffer
			if res.Body != nil {
				_, _ = b.ReadFrom(res.Body)
			}
			return nil, &resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}, err
		}
		return nil, nil, err
	}
	c.SetReadLimit(1 << 20)
	tm := &term{t: t, c: c, done: make(chan struct{}), more: make(chan struct{}, 1), code: -1}
	go tm.read()
	t.Cleanup(func() { _ = c.CloseNow() })
	return tm, nil, nil
}

func (tm *term) read() {
	defer close(tm.done)
	for {
		typ, b, err := tm.c.Read(context.Background())
		if err != nil {
			tm.mu.Lock()
			tm.code = websocket.CloseStatus(err)
			tm.mu.Unlock()
			return
		}
		tm.mu.Lock()
		if typ == websocket.MessageBinary {
			tm.out.Write(b)
			select {
			case tm.more <- struct{}{}:
			default:
			}
		} else {
			var ev map[string]any
			if err := json.Unmarshal(b, &ev); err != nil {
				ev = map[string]any{"type": "unparsable", "raw": string(b)}
			}
			tm.evs = append(tm.evs, ev)
		}
		tm.mu.Unlock()
	}
}

// send writes terminal input.
func (tm *term) send(s string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tm.c.Write(ctx, websocket.MessageBinary, []byte(s)); err != nil {
		tm.t.Fatalf("pty write %q: %v", s, err)
	}
}

// ctl sends a text frame (a control message, or junk).
func (tm *term) ctl(s string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tm.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		tm.t.Fatalf("pty control %q: %v", s, err)
	}
}

// mark is the output's length now: waitFor looks only after it.
func (tm *term) mark() int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.Len()
}

// waitFor waits until the output after mark contains want.
func (tm *term) waitFor(mark int, want string, d time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for {
		tm.mu.Lock()
		got := tm.out.String()[mark:]
		tm.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("pty output has no %q after %s; it is %q", want, d, got)
		}
		select {
		case <-tm.more:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// end waits for the socket to close and returns the last control message
// and the close status.
func (tm *term) end(d time.Duration) (map[string]any, websocket.StatusCode) {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(d):
		tm.t.Fatalf("pty did not end within %s; output %q", d, tm.out.String())
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if len(tm.evs) == 0 {
		return nil, tm.code
	}
	return tm.evs[len(tm.evs)-1], tm.code
}

// wantExit waits for an exit frame with code, then close 1000.
func (tm *term) wantExit(code int) {
	tm.t.Helper()
	ev, st := tm.end(20 * time.Second)
	if ev["type"] != "exit" || ev["code"] != float64(code) || st != websocket.StatusNormalClosure {
		tm.t.Fatalf("pty end: %v close %d, want exit %d close 1000", ev, st, code)
	}
}

// wantError waits for an error frame whose message holds want, then close
// status st.
func (tm *term) wantError(want string, st websocket.StatusCode) {
	tm.t.Helper()
	ev, got := tm.end(20 * time.Second)
	msg, _ := ev["message"].(string)
	if ev["type"] != "error" || !strings.Contains(msg, want) || got != st {
		tm.t.Fatalf("pty end: %v close %d, want an error with %q and close %d", ev, got, want, st)
	}
	tm.t.Logf("pty ended: %q, close %d", msg, got)
}

// procs lists the processes in sandbox id other than PID 1 and the exec
// that lists them (which uses shell builtins only, so it is one process).
func (a *api) procs(t testing.TB, id string) []string {
	t.Helper()
	out := a.sh(t, id, `echo $$; for f in /proc/[0-9]*/stat; do read l < $f 2>/dev/null && echo "$l"; done; true`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	self := lines[0]
	var ps []string
	for _, l := range lines[1:] {
		pid, _, _ := strings.Cut(l, " ")
		if pid == "1" || pid == self || pid == "" {
			continue
		}
		ps = append(ps, l)
	}
	return ps
}

// noLeftovers waits (bounded) until sandbox id runs nothing but its agent.
func (a *api) noLeftovers(t testing.TB, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := a.procs(t, id)
		if len(ps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left in %s:\n%s", id, strings.Join(ps, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitProc waits until a process whose command is comm runs in sandbox id.
func (a *api) waitProc(t testing.TB, id, comm string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, p := range a.procs(t, id) {
			if strings.Contains(p, fmt.Sprintf("(%s)", comm)) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s running in %s within 10s: %v", comm, id, a.procs(t, id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
