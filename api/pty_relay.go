package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	"github.com/warrenhq/warren/sandbox/agent"
)

// The relay of an open PTY session (see pty.go for the endpoint): the
// process's output to the socket, the socket's frames to the process, and
// the watch that ends the session when the client or the sandbox goes.

// ptySession is a running PTY process and its Exec stream.
type ptySession struct {
	a      *agent.Client
	stream agentv1.Agent_ExecClient
	pid    int32
	stop   context.CancelFunc // ends the Exec stream
	sendMu sync.Mutex
}

func (p *ptySession) send(m *agentv1.ExecRequest) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.stream.Send(m)
}

// ptyControl is a client control message.
type ptyControl struct {
	Type   string `json:"type"`
	Cols   int64  `json:"cols"`
	Rows   int64  `json:"rows"`
	Signal string `json:"signal"`
}

// ptyEvent is a server control message.
type ptyEvent struct {
	Type    string `json:"type"`
	Code    *int   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ptyEnd is how a session ended: the close code and the frame sent before.
type ptyEnd struct {
	code  websocket.StatusCode
	event *ptyEvent
}

func ptyError(code websocket.StatusCode, format string, args ...any) ptyEnd {
	return ptyEnd{code: code, event: &ptyEvent{Type: "error", Message: fmt.Sprintf(format, args...)}}
}

// serve relays the session until it ends, then ends the Exec stream (which
// kills whatever still runs) and closes c with the end's frame and code.
// live reports whether the sandbox still runs (and why not).
func (p *ptySession) serve(connCtx context.Context, c *websocket.Conn, live func(context.Context) (string, bool)) (websocket.StatusCode, string) {
	// Reads use connCtx: a Read whose context ends closes the connection
	// at once, and the session's end must still send its frame and close
	// handshake.
	ctx, cancel := context.WithCancel(connCtx)
	defer cancel()
	ends := make(chan ptyEnd, 4)
	end := func(e ptyEnd) {
		select {
		case ends <- e:
		default:
		}
	}
	go func() { end(p.output(ctx, connCtx, c, live)) }()
	go func() { end(p.input(ctx, connCtx, c)) }()
	go func() { end(p.watch(ctx, connCtx, c, live)) }()
	e := <-ends
	cancel()
	p.stop()
	if e.event != nil {
		b, _ := json.Marshal(e.event)
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Write(wctx, websocket.MessageText, b)
		wcancel()
	}
	if e.code == 0 { // the client went away
		_ = c.CloseNow()
		return e.code, "client disconnected"
	}
	reason := ""
	if e.event != nil && e.event.Type == "error" {
		reason = e.event.Message
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = c.Close(e.code, reason)
	return e.code, reason
}

// output copies the process's terminal output to c until it exits.
func (p *ptySession) output(ctx, connCtx context.Context, c *websocket.Conn, live func(context.Context) (string, bool)) ptyEnd {
	for {
		m, err := p.stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ptyEnd{}
			}
			// The agent went away: the sandbox was killed, paused or expired.
			gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			why, ok := live(gctx)
			gcancel()
			if ok {
				why = "the sandbox's agent ended the session"
			}
			return ptyError(websocket.StatusInternalError, "%s", why)
		}
		var out []byte
		switch x := m.Msg.(type) {
		case *agentv1.ExecResponse_Pty:
			out = x.Pty
		case *agentv1.ExecResponse_Stdout:
			out = x.Stdout
		case *agentv1.ExecResponse_Stderr:
			out = x.Stderr
		case *agentv1.ExecResponse_Exit:
			code := int(x.Exit.ExitCode)
			return ptyEnd{code: websocket.StatusNormalClosure, event: &ptyEvent{Type: "exit", Code: &code}}
		}
		if len(out) > 0 {
			if err := c.Write(connCtx, websocket.MessageBinary, out); err != nil {
				return ptyEnd{}
			}
		}
	}
}

// input relays the client's frames: bytes to the terminal, control
// messages to the agent.
func (p *ptySession) input(ctx, readCtx context.Context, c *websocket.Conn) ptyEnd {
	for {
		typ, b, err := c.Read(readCtx)
		if err != nil {
			// The client went away, or sent a frame past the read limit
			// (the library has then already closed with 1009).
			return ptyEnd{}
		}
		if typ == websocket.MessageBinary {
			if len(b) == 0 {
				continue
			}
			if err := p.send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: b}}); err != nil {
				// The stream ended: output reports why.
				<-ctx.Done()
				return ptyEnd{}
			}
			continue
		}
		if e, bad := p.control(ctx, b); bad {
			return e
		}
	}
}

// control applies one control message; bad is set when it was not one.
func (p *ptySession) control(ctx context.Context, b []byte) (ptyEnd, bool) {
	var kind struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &kind); err != nil {
		return ptyError(websocket.StatusPolicyViolation, "a text frame must be a JSON control message: %v", jsonReason(err)), true
	}
	if kind.Type != "resize" && kind.Type != "signal" {
		return ptyError(websocket.StatusPolicyViolation, "unknown control message type %q (want resize or signal)", kind.Type), true
	}
	var m ptyControl
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return ptyError(websocket.StatusPolicyViolation, "%s: %v", kind.Type, jsonReason(err)), true
	}
	switch m.Type {
	case "resize":
		if m.Cols < 1 || m.Cols > ptyMaxSide || m.Rows < 1 || m.Rows > ptyMaxSide {
			return ptyError(websocket.StatusPolicyViolation, "resize: cols and rows must be between 1 and %d, got %dx%d", ptyMaxSide, m.Cols, m.Rows), true
		}
		_, err := p.a.Raw().Resize(ctx, &agentv1.ResizeRequest{
			Process: &agentv1.ProcessRef{Target: &agentv1.ProcessRef_Pid{Pid: p.pid}},
			Size:    &agentv1.PtySize{Cols: uint32(m.Cols), Rows: uint32(m.Rows)},
		})
		if status.Code(err) == codes.InvalidArgument {
			return ptyError(websocket.StatusPolicyViolation, "resize: %s", status.Convert(err).Message()), true
		}
		// Other errors: the process is ending; output reports how.
	case "signal":
		sig, ok := ptySignals[m.Signal]
		if !ok {
			return ptyError(websocket.StatusPolicyViolation, "signal: %q is not one of INT, TERM, KILL, HUP, QUIT", m.Signal), true
		}
		_ = p.send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Signal{Signal: int32(sig)}})
	}
	return ptyEnd{}, false
}

func jsonReason(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// watch pings the client and polls the sandbox's status: a client that
// stops answering, or a sandbox that stops running, ends the session.
func (p *ptySession) watch(ctx, connCtx context.Context, c *websocket.Conn, live func(context.Context) (string, bool)) ptyEnd {
	poll := time.NewTicker(ptyStatusPoll)
	defer poll.Stop()
	ping := time.NewTicker(ptyPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return ptyEnd{}
		case <-poll.C:
			if why, ok := live(ctx); !ok && ctx.Err() == nil {
				return ptyError(websocket.StatusInternalError, "%s", why)
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(connCtx, ptyPingTimeout)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				return ptyEnd{}
			}
		}
	}
}
