package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/agent"
)

func (s *Server) execRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v1/sandboxes/{id}/exec", access: team, summary: "Run a command and answer with its collected output (each stream capped at 10 MiB). cmd alone runs through /bin/sh -c; cmd with args runs directly.",
			req: execRequest{}, resp: execResponse{}, handler: s.exec},
		{method: "POST", pattern: "/v1/sandboxes/{id}/exec/stream", access: team, summary: "Run a command and stream its output as NDJSON over chunked HTTP: {type: stdout|stderr, data: base64} lines, then {type: exit, exit_code, duration_ms, timed_out}.",
			req: execRequest{}, rawResp: "application/x-ndjson", handler: s.execStream},
	}
}

const maxExecTimeout = 24 * 3600

type execRequest struct {
	Cmd        string            `json:"cmd"`
	Args       []string          `json:"args,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Cwd        string            `json:"cwd,omitempty"`
	User       string            `json:"user,omitempty"`
	TimeoutSec int64             `json:"timeout_sec,omitempty"` // default 300
	Stdin      string            `json:"stdin,omitempty"`
}

func (q *execRequest) validate() error {
	if err := checkText("cmd", q.Cmd, 1, 64<<10, true); err != nil {
		return err
	}
	if len(q.Args) > 4096 {
		return errInvalid("args", "at most 4096 arguments")
	}
	for i, a := range q.Args {
		if strings.ContainsRune(a, 0) {
			return errInvalid(fmtField("args", i, ""), "must not contain NUL")
		}
	}
	for k, v := range q.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return errInvalid("env", "names must be non-empty without '=' or NUL; values without NUL")
		}
	}
	if strings.ContainsRune(q.Cwd, 0) || len(q.Cwd) > 4096 {
		return errInvalid("cwd", "must be a path without NUL, at most 4096 bytes")
	}
	if err := checkText("user", q.User, 0, 64, false); err != nil {
		return err
	}
	if q.TimeoutSec != 0 {
		return checkRange("timeout_sec", q.TimeoutSec, 1, maxExecTimeout)
	}
	return nil
}

func (q *execRequest) options() agent.ExecOptions {
	o := agent.ExecOptions{Env: q.Env, Cwd: q.Cwd, User: q.User, Timeout: 300 * time.Second}
	if q.TimeoutSec > 0 {
		o.Timeout = time.Duration(q.TimeoutSec) * time.Second
	}
	if len(q.Args) > 0 {
		o.Argv = append([]string{q.Cmd}, q.Args...)
	} else {
		o.Shell = q.Cmd
	}
	if q.Stdin != "" {
		o.Stdin = strings.NewReader(q.Stdin)
	}
	return o
}

type execResponse struct {
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	ExitCode        int    `json:"exit_code"`
	DurationMS      int64  `json:"duration_ms"`
	TimedOut        bool   `json:"timed_out"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"`
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
}

// agentFor parses the path's sandbox ID and returns its agent.
func (s *Server) agentFor(r *http.Request) (id.SandboxID, *agent.Client, error) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		return sb, nil, err
	}
	a, err := s.sandboxes.Agent(r.Context(), principalFrom(r.Context()).TeamID, sb)
	return sb, a, mapDomain(err)
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	_, a, err := s.agentFor(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	res, err := a.ExecCollect(r.Context(), req.options())
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, execResponse{Stdout: string(res.Stdout), Stderr: string(res.Stderr), ExitCode: res.ExitCode,
		DurationMS: res.Duration.Milliseconds(), TimedOut: res.TimedOut, StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated})
}

// streamEvent is one NDJSON line of a streamed exec.
type streamEvent struct {
	Type       string `json:"type"` // stdout, stderr, exit, error
	Data       []byte `json:"data,omitempty"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	TimedOut   bool   `json:"timed_out,omitempty"`
	Message    string `json:"message,omitempty"`
}

// ndjson writes events, flushing each so output arrives as it is produced.
type ndjson struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	enc *json.Encoder
}

func (n *ndjson) send(ev streamEvent) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.enc.Encode(ev); err != nil {
		return err
	}
	return http.NewResponseController(n.w).Flush()
}

type streamWriter struct {
	out  *ndjson
	kind string
}

func (sw streamWriter) Write(p []byte) (int, error) {
	if err := sw.out.send(streamEvent{Type: sw.kind, Data: append([]byte(nil), p...)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *Server) execStream(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	_, a, err := s.agentFor(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	out := &ndjson{w: w, enc: json.NewEncoder(w)}
	res, err := a.Exec(r.Context(), req.options(), streamWriter{out, "stdout"}, streamWriter{out, "stderr"})
	if err != nil {
		msg := "the command could not be run"
		if e, ok := mapDomain(err).(*Error); ok {
			msg = e.Message
		} else {
			s.log.Error("exec stream", "request_id", RequestID(r.Context()), "err", err)
		}
		_ = out.send(streamEvent{Type: "error", Message: msg})
		return
	}
	code := res.ExitCode
	_ = out.send(streamEvent{Type: "exit", ExitCode: &code, DurationMS: res.Duration.Milliseconds(), TimedOut: res.TimedOut})
}
