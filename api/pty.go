package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandboxes"
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
	// Another team's (or no) sandbox is a 404 first, whatever else is
	// wrong with the request, as on every sandbox route.
	sb, a, err := s.agentFor(r)
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
		if errors.Is(err, sandboxes.ErrNotFound) {
			return "the sandbox is gone", false
		}
		if err != nil {
			return "", true // not known: keep going
		}
		if row.Status != string(sandboxes.StatusRunning) {
			return "the sandbox is " + row.Status, false
		}
		return "", true
	})
	s.log.Info("pty session ended", "request_id", RequestID(r.Context()), "sandbox", sb, "pid", sess.pid, "close", code, "reason", reason)
}

// ptyStarts serialises, per sandbox, the check of the limit and the start
// on one node (sessions opened through other nodes are counted by the
// agent, with a window of one start between the count and the start).
var ptyStarts = keyedMutex{locks: map[id.SandboxID]*keyedLock{}}

type keyedMutex struct {
	mu    sync.Mutex
	locks map[id.SandboxID]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks sb's mutex and returns its unlock.
func (k *keyedMutex) lock(sb id.SandboxID) func() {
	k.mu.Lock()
	l := k.locks[sb]
	if l == nil {
		l = &keyedLock{}
		k.locks[sb] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, sb)
		}
		k.mu.Unlock()
	}
}

// ptyStartTimeout bounds the start (a frozen agent answers nothing).
const ptyStartTimeout = 30 * time.Second

// startPTY starts the session's process and waits for it to run. The
// process lives as long as ctx.
func (s *Server) startPTY(ctx context.Context, a *agent.Client, sb id.SandboxID, req ptyRequest) (*ptySession, error) {
	defer ptyStarts.lock(sb)()
	sctx0, cancel0 := context.WithTimeout(ctx, ptyStartTimeout)
	defer cancel0()
	procs, err := a.ListProcesses(sctx0)
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
		shell, err := loginShell(sctx0, a, req.user)
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
	// The start is bounded; the stream (the process's life) is not.
	timer := time.AfterFunc(ptyStartTimeout, scancel)
	m, err := stream.Recv()
	if !timer.Stop() && err != nil {
		return nil, fmt.Errorf("pty in %s: %w: the agent did not start the process within %s", sb, context.DeadlineExceeded, ptyStartTimeout)
	}
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
