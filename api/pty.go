package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/agent"
)

// PTY sessions: GET /v1/sandboxes/{id}/pty upgrades to a WebSocket that
// carries a terminal. Binary frames are terminal bytes both ways; text
// frames are JSON control messages (resize and signal from the client,
// exit and error from the server). The process runs on the owner node's
// agent as a foreground PTY Exec stream, so every way the stream ends
// (client gone, sandbox killed, paused or expired) ends the process.
const (
	// PTYMaxFrame bounds one client frame (binary input or a control
	// message); a larger one closes the socket with 1009.
	PTYMaxFrame = 64 << 10
	// PTYMaxPerSandbox is how many PTY sessions a sandbox may have at once.
	PTYMaxPerSandbox = 8
	// ptyTagPrefix marks the agent processes that are PTY sessions, so the
	// limit counts sessions opened through any node.
	ptyTagPrefix = "warren-pty-"
	ptyMaxSide   = 4096
	ptyMaxArgs   = 256
	// ptyPing is how often the server pings the client; a ping not
	// answered within ptyPingTimeout ends the session as a disconnect.
	ptyPing        = 30 * time.Second
	ptyPingTimeout = 15 * time.Second
	// ptyStatusPoll is how often the sandbox's status is read, so a pause
	// (which freezes the agent too) ends the session.
	ptyStatusPoll = 2 * time.Second
	ptyTerm       = "xterm-256color"
)

// ptySignals are the signals a client may send by name. They go to the
// terminal's foreground process group, as the terminal's own keys do.
var ptySignals = map[string]syscall.Signal{
	"INT": syscall.SIGINT, "TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL,
	"HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
}

func (s *Server) ptyRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/sandboxes/{id}/pty", access: team,
			summary: "Open a terminal (WebSocket upgrade): binary frames are terminal bytes both ways; text frames are JSON control messages " +
				`(client: {"type":"resize","cols":N,"rows":N}, {"type":"signal","signal":"INT|TERM|KILL|HUP|QUIT"}; ` +
				`server: {"type":"exit","code":N} then close 1000, {"type":"error","message":"..."} then close 1011 or 1008). ` +
				"Without cmd it runs the user's login shell. With a session cookie the Origin header must be the API's own.",
			status: http.StatusSwitchingProtocols,
			query: []param{
				{"cols", "terminal columns, 1..4096 (default 80)"},
				{"rows", "terminal rows, 1..4096 (default 24)"},
				{"cmd", "argv of the command, one cmd parameter per argument (default: the user's login shell)"},
				{"user", "user name or uid in the sandbox (default: the agent's user)"},
			},
			handler: s.pty},
	}
}

// ptyRequest is the query of a PTY request, validated.
type ptyRequest struct {
	cols, rows uint32
	argv       []string
	user       string
}

func parsePTYRequest(q url.Values) (ptyRequest, error) {
	req := ptyRequest{cols: 80, rows: 24, argv: q["cmd"], user: q.Get("user")}
	for _, f := range []struct {
		name string
		v    *uint32
	}{{"cols", &req.cols}, {"rows", &req.rows}} {
		raw := q.Get(f.name)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil || n < 1 || n > ptyMaxSide {
			return req, errInvalid(f.name, "must be a whole number between 1 and %d, got %q", ptyMaxSide, raw)
		}
		*f.v = uint32(n)
	}
	if len(req.argv) > ptyMaxArgs {
		return req, errInvalid("cmd", "at most %d arguments", ptyMaxArgs)
	}
	total := 0
	for i, a := range req.argv {
		total += len(a)
		if strings.ContainsRune(a, 0) {
			return req, errInvalid(fmtField("cmd", i, ""), "must not contain NUL")
		}
	}
	if len(req.argv) > 0 && req.argv[0] == "" {
		return req, errInvalid("cmd", "the first argument (the program) must not be empty")
	}
	if total > 64<<10 {
		return req, errInvalid("cmd", "at most 64 KiB in all")
	}
	if err := checkText("user", req.user, 0, 64, false); err != nil {
		return req, err
	}
	return req, nil
}

var errNeedUpgrade = &Error{Status: http.StatusBadRequest, Code: "upgrade_required",
	Message: "this endpoint needs a WebSocket upgrade (GET with Connection: Upgrade and Upgrade: websocket)"}

var errForeignOrigin = &Error{Status: http.StatusForbidden, Code: "permission_denied",
	Message: "a cookie-authenticated WebSocket must come from the API's own origin (Origin header)"}

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// sameOrigin reports whether r's Origin header names the API itself: the
// host the request was sent to, over https when the API is served over TLS
// (or says it is, with secure cookies).
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
	case "http":
		if r.TLS != nil || s.cfg.SecureCookies {
			return false
		}
	default:
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func (s *Server) pty(w http.ResponseWriter, r *http.Request) {
	req, err := parsePTYRequest(r.URL.Query())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !isWebSocket(r) {
		writeError(w, r, s.log, errNeedUpgrade)
		return
	}
	p := principalFrom(r.Context())
	if p.ByCookie && !s.sameOrigin(r) {
		writeError(w, r, s.log, errForeignOrigin)
		return
	}
	sb, a, err := s.agentFor(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sess, err := s.startPTY(ctx, a, sb, req)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The origin was checked above, for cookies; API keys are not sent
		// by browsers on their own.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.log.Debug("pty: websocket accept", "sandbox", sb, "err", err)
		return // Accept answered; cancel ends the process.
	}
	c.SetReadLimit(PTYMaxFrame)
	s.log.Info("pty session started", "request_id", RequestID(r.Context()), "sandbox", sb, "pid", sess.pid)
	code, reason := sess.serve(ctx, c, func(ctx context.Context) (string, bool) {
		row, err := s.sandboxes.Get(ctx, p.TeamID, sb)
		if errors.Is(err, sandbox.ErrNotFound) {
			return "the sandbox is gone", false
		}
		if err != nil {
			return "", true // not known: keep going
		}
		if row.Status != string(sandbox.StatusRunning) {
			return "the sandbox is " + row.Status, false
		}
		return "", true
	})
	s.log.Info("pty session ended", "request_id", RequestID(r.Context()), "sandbox", sb, "pid", sess.pid, "close", code, "reason", reason)
}

// ptyStarts serialises the check of the per-sandbox limit and the start on
// one node (sessions opened through other nodes are counted by the agent,
// with a window of one start between the count and the start).
var ptyStarts sync.Mutex

// startPTY starts the session's process and waits for it to run.
func (s *Server) startPTY(ctx context.Context, a *agent.Client, sb id.SandboxID, req ptyRequest) (*ptySession, error) {
	ptyStarts.Lock()
	defer ptyStarts.Unlock()
	procs, err := a.ListProcesses(ctx)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, p := range procs {
		if p.Running && strings.HasPrefix(p.Tag, ptyTagPrefix) {
			n++
		}
	}
	if n >= PTYMaxPerSandbox {
		return nil, &Error{Status: http.StatusTooManyRequests, Code: "resource_exhausted", RetryAfter: 1,
			Message: fmt.Sprintf("sandbox %s already has %d terminal sessions (the most at once)", sb, PTYMaxPerSandbox)}
	}
	argv := req.argv
	if len(argv) == 0 {
		shell, err := loginShell(ctx, a, req.user)
		if err != nil {
			return nil, err
		}
		argv = []string{shell, "-l"}
	}
	var tag [8]byte
	_, _ = rand.Read(tag[:])
	// The stream's context is the session's: cancelling it kills the
	// process group (and the agent then the rest of its terminal session).
	sctx, scancel := context.WithCancel(ctx)
	ok := false
	defer func() {
		if !ok {
			scancel()
		}
	}()
	stream, err := a.Raw().Exec(sctx)
	if err != nil {
		return nil, err
	}
	start := &agentv1.ExecStart{
		Argv: argv, User: req.user, Tag: ptyTagPrefix + hex.EncodeToString(tag[:]),
		Env:   map[string]string{"TERM": ptyTerm},
		Stdin: true, Pty: &agentv1.PtySize{Cols: req.cols, Rows: req.rows},
	}
	if err := stream.Send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Start{Start: start}}); err != nil {
		if errors.Is(err, io.EOF) {
			_, err = stream.Recv()
		}
		return nil, err
	}
	m, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	st := m.GetStarted()
	if st == nil {
		return nil, fmt.Errorf("pty in %s: the agent answered %T before started", sb, m.Msg)
	}
	ok = true
	return &ptySession{a: a, stream: stream, pid: st.Pid, stop: scancel}, nil
}

// loginShell is the login shell of user (a name or uid; empty: root, the
// agent's user) from the sandbox's /etc/passwd, or /bin/sh when it names
// none, or one that refuses logins.
func loginShell(ctx context.Context, a *agent.Client, user string) (string, error) {
	var buf bytes.Buffer
	if _, err := a.Download(ctx, "/etc/passwd", &capWriter{w: &buf, left: 1 << 20}); err != nil {
		var gs interface{ GRPCStatus() *status.Status }
		if errors.As(err, &gs) && gs.GRPCStatus().Code() == codes.NotFound {
			return "/bin/sh", nil
		}
		if errors.Is(err, errCapped) {
			return "/bin/sh", nil
		}
		return "", err
	}
	if user == "" {
		user = "0"
	}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || (f[0] != user && f[2] != user) {
			continue
		}
		sh := f[6]
		if !strings.HasPrefix(sh, "/") || strings.HasSuffix(sh, "/nologin") || strings.HasSuffix(sh, "/false") {
			break
		}
		return sh, nil
	}
	return "/bin/sh", nil
}

var errCapped = errors.New("file larger than the cap")

// capWriter fails once more than left bytes were written.
type capWriter struct {
	w    io.Writer
	left int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		return 0, errCapped
	}
	c.left -= len(p)
	return c.w.Write(p)
}

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

// serve relays the session until it ends, then closes c with the end's
// frame and code. live reports whether the sandbox still runs (and why
// not). Returning cancels the caller's context, which ends the Exec stream
// and so kills whatever still runs.
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
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// The library has already sent close 1009.
				return ptyEnd{}
			}
			return ptyEnd{}
		}
		if typ == websocket.MessageBinary {
			if len(b) == 0 {
				continue
			}
			if err := p.send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: b}}); err != nil {
				return ptyEnd{} // output sees why the stream ended
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
