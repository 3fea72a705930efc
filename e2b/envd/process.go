package envd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	processpb "github.com/warrenhq/warren/proto/e2b/process"
	"github.com/warrenhq/warren/proto/e2b/process/processpbconnect"
)

// processService implements process.Process over the agent's Exec, Attach,
// WriteStdin, Resize, ListProcesses and Signal.
type processService struct {
	processpbconnect.UnimplementedProcessHandler
	h *Handler
}

var _ processpbconnect.ProcessHandler = (*processService)(nil)

// bashPath is what commands.run asks for; templates without it (busybox)
// get shPath instead.
const (
	bashPath = "/bin/bash"
	shPath   = "/bin/sh"
)

func (s *processService) Start(ctx context.Context, req *connect.Request[processpb.StartRequest], out *connect.ServerStream[processpb.StartResponse]) error {
	c := callFrom(ctx)
	cfg := req.Msg.GetProcess()
	if cfg.GetCmd() == "" {
		return invalidArg("process.cmd is required")
	}
	st := &agentv1.ExecStart{
		Argv:        append([]string{cfg.GetCmd()}, cfg.GetArgs()...),
		Env:         cfg.GetEnvs(),
		Cwd:         cfg.GetCwd(),
		User:        c.user,
		Tag:         req.Msg.GetTag(),
		Stdin:       req.Msg.GetStdin(),
		KeepRunning: true,
	}
	if pty := req.Msg.Pty; pty != nil {
		sz := pty.GetSize()
		if sz == nil {
			return invalidArg("pty.size is required")
		}
		st.Pty = &agentv1.PtySize{Rows: sz.GetRows(), Cols: sz.GetCols()}
		st.Stdin = false
	}
	bash := st.Argv[0] == bashPath
	if bash && s.h.noBash.has(c.sb) {
		st.Argv[0] = shPath
	}
	stream, err := s.start(ctx, c.agent.Raw(), st)
	if err != nil && bash && st.Argv[0] == bashPath && status.Code(err) == codes.NotFound {
		s.h.log.DebugContext(ctx, "envd: no bash in the sandbox; using /bin/sh", "sandbox", c.sb)
		s.h.noBash.add(c.sb)
		st.Argv[0] = shPath
		stream, err = s.start(ctx, c.agent.Raw(), st)
	}
	if err != nil {
		return connectErr(ctx, s.h.log, err)
	}
	return s.forward(ctx, stream, stream.started, keepalive(req.Header()), func(ev *processpb.ProcessEvent) error {
		return out.Send(&processpb.StartResponse{Event: ev})
	})
}

// startedStream is an agent output stream whose first message (started)
// has been read.
type startedStream struct {
	recv    func() (*agentv1.ExecResponse, error)
	started *agentv1.ExecStarted
}

// start runs st and waits for `started`, so a failed start (no such
// executable, bad user) is an error of the call, not of the stream.
func (s *processService) start(ctx context.Context, a agentv1.AgentClient, st *agentv1.ExecStart) (*startedStream, error) {
	stream, err := a.Exec(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Start{Start: st}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	m, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if m.GetStarted() == nil {
		return nil, fmt.Errorf("agent answered %T before started", m.Msg)
	}
	return &startedStream{recv: stream.Recv, started: m.GetStarted()}, nil
}

func (s *processService) Connect(ctx context.Context, req *connect.Request[processpb.ConnectRequest], out *connect.ServerStream[processpb.ConnectResponse]) error {
	c := callFrom(ctx)
	ref, err := processRef(req.Msg.GetProcess())
	if err != nil {
		return err
	}
	att, err := c.agent.Raw().Attach(ctx, &agentv1.AttachRequest{Process: ref})
	if err != nil {
		return connectErr(ctx, s.h.log, err)
	}
	m, err := att.Recv()
	if err != nil {
		return connectErr(ctx, s.h.log, err)
	}
	stream := &startedStream{recv: att.Recv, started: m.GetStarted()}
	return s.forward(ctx, stream, stream.started, keepalive(req.Header()), func(ev *processpb.ProcessEvent) error {
		return out.Send(&processpb.ConnectResponse{Event: ev})
	})
}

// forward sends the start event, then the process's output and end as E2B
// events, with keepalive events every interval (0: none) while it is quiet.
func (s *processService) forward(ctx context.Context, stream *startedStream, started *agentv1.ExecStarted, interval time.Duration, send func(*processpb.ProcessEvent) error) error {
	if err := send(&processpb.ProcessEvent{Event: &processpb.ProcessEvent_Start{
		Start: &processpb.ProcessEvent_StartEvent{Pid: uint32(started.GetPid())},
	}}); err != nil {
		return err
	}
	msgs := pump(ctx, stream.recv)
	tick, stop := keepaliveTicks(interval)
	defer stop()
	for {
		var mm received[*agentv1.ExecResponse]
		select {
		case <-ctx.Done():
			return streamEnd(ctx, "; the process keeps running")
		case <-tick:
			if err := send(&processpb.ProcessEvent{Event: &processpb.ProcessEvent_Keepalive{Keepalive: &processpb.ProcessEvent_KeepAlive{}}}); err != nil {
				return err
			}
			continue
		case mm = <-msgs:
		}
		if mm.err == io.EOF {
			return connect.NewError(connect.CodeUnavailable, errors.New("the process stream ended without an exit"))
		}
		if mm.err != nil {
			return connectErr(ctx, s.h.log, mm.err)
		}
		ev, end := event(mm.m)
		if ev == nil {
			continue
		}
		if err := send(ev); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// event translates one agent output message; end is set for the exit.
func event(m *agentv1.ExecResponse) (ev *processpb.ProcessEvent, end bool) {
	data := func(d *processpb.ProcessEvent_DataEvent) *processpb.ProcessEvent {
		return &processpb.ProcessEvent{Event: &processpb.ProcessEvent_Data{Data: d}}
	}
	switch x := m.Msg.(type) {
	case *agentv1.ExecResponse_Stdout:
		return data(&processpb.ProcessEvent_DataEvent{Output: &processpb.ProcessEvent_DataEvent_Stdout{Stdout: x.Stdout}}), false
	case *agentv1.ExecResponse_Stderr:
		return data(&processpb.ProcessEvent_DataEvent{Output: &processpb.ProcessEvent_DataEvent_Stderr{Stderr: x.Stderr}}), false
	case *agentv1.ExecResponse_Pty:
		return data(&processpb.ProcessEvent_DataEvent{Output: &processpb.ProcessEvent_DataEvent_Pty{Pty: x.Pty}}), false
	case *agentv1.ExecResponse_Exit:
		return &processpb.ProcessEvent{Event: &processpb.ProcessEvent_End{End: endEvent(x.Exit)}}, true
	}
	return nil, false
}

// endEvent is the exit as envd reports it (Go's os.ProcessState): a
// process killed by a signal has exit code -1, exited false and status
// "signal: killed".
func endEvent(x *agentv1.ExecExit) *processpb.ProcessEvent_EndEvent {
	if x.GetSignal() != 0 {
		end := &processpb.ProcessEvent_EndEvent{ExitCode: -1, Status: "signal: " + syscall.Signal(x.GetSignal()).String()}
		if x.GetTimedOut() {
			msg := "the process timed out"
			end.Error = &msg
		}
		return end
	}
	return &processpb.ProcessEvent_EndEvent{ExitCode: x.GetExitCode(), Exited: true, Status: fmt.Sprintf("exit status %d", x.GetExitCode())}
}

func processRef(sel *processpb.ProcessSelector) (*agentv1.ProcessRef, error) {
	switch x := sel.GetSelector().(type) {
	case *processpb.ProcessSelector_Pid:
		if x.Pid == 0 || x.Pid > 1<<22 {
			return nil, invalidArg("process.pid %d is not a valid pid", x.Pid)
		}
		return &agentv1.ProcessRef{Target: &agentv1.ProcessRef_Pid{Pid: int32(x.Pid)}}, nil
	case *processpb.ProcessSelector_Tag:
		if x.Tag == "" {
			return nil, invalidArg("process.tag is empty")
		}
		return &agentv1.ProcessRef{Target: &agentv1.ProcessRef_Tag{Tag: x.Tag}}, nil
	}
	return nil, invalidArg("process (pid or tag) is required")
}

func (s *processService) List(ctx context.Context, _ *connect.Request[processpb.ListRequest]) (*connect.Response[processpb.ListResponse], error) {
	c := callFrom(ctx)
	r, err := c.agent.Raw().ListProcesses(ctx, &agentv1.ListProcessesRequest{})
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	out := &processpb.ListResponse{}
	for _, p := range r.GetProcesses() {
		if !p.GetRunning() || len(p.GetCmd()) == 0 {
			continue
		}
		info := &processpb.ProcessInfo{
			Pid:    uint32(p.GetPid()),
			Config: &processpb.ProcessConfig{Cmd: p.Cmd[0], Args: p.Cmd[1:], Envs: p.GetEnv()},
		}
		if cwd := p.GetCwd(); cwd != "" {
			info.Config.Cwd = &cwd
		}
		if tag := p.GetTag(); tag != "" {
			info.Tag = &tag
		}
		out.Processes = append(out.Processes, info)
	}
	return connect.NewResponse(out), nil
}

func (s *processService) SendInput(ctx context.Context, req *connect.Request[processpb.SendInputRequest]) (*connect.Response[processpb.SendInputResponse], error) {
	if err := s.write(ctx, req.Msg.GetProcess(), req.Msg.GetInput(), false); err != nil {
		return nil, err
	}
	return connect.NewResponse(&processpb.SendInputResponse{}), nil
}

// write sends input (stdin or pty bytes) to the selected process.
func (s *processService) write(ctx context.Context, sel *processpb.ProcessSelector, in *processpb.ProcessInput, closeIt bool) error {
	ref, err := processRef(sel)
	if err != nil {
		return err
	}
	var data []byte
	switch x := in.GetInput().(type) {
	case *processpb.ProcessInput_Stdin:
		data = x.Stdin
	case *processpb.ProcessInput_Pty:
		data = x.Pty
	default:
		if !closeIt {
			return invalidArg("input (stdin or pty) is required")
		}
	}
	_, err = callFrom(ctx).agent.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: ref, Data: data, Close: closeIt})
	return connectErr(ctx, s.h.log, err)
}

func (s *processService) StreamInput(ctx context.Context, in *connect.ClientStream[processpb.StreamInputRequest]) (*connect.Response[processpb.StreamInputResponse], error) {
	var sel *processpb.ProcessSelector
	for in.Receive() {
		switch ev := in.Msg().GetEvent().(type) {
		case *processpb.StreamInputRequest_Start:
			if sel != nil {
				return nil, invalidArg("a second start event")
			}
			if sel = ev.Start.GetProcess(); sel == nil {
				return nil, invalidArg("start.process is required")
			}
		case *processpb.StreamInputRequest_Data:
			if sel == nil {
				return nil, invalidArg("the first event must be start")
			}
			if err := s.write(ctx, sel, ev.Data.GetInput(), false); err != nil {
				return nil, err
			}
		case *processpb.StreamInputRequest_Keepalive:
		default:
			return nil, invalidArg("an event (start, data or keepalive) is required")
		}
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&processpb.StreamInputResponse{}), nil
}

func (s *processService) CloseStdin(ctx context.Context, req *connect.Request[processpb.CloseStdinRequest]) (*connect.Response[processpb.CloseStdinResponse], error) {
	if err := s.write(ctx, req.Msg.GetProcess(), nil, true); err != nil {
		return nil, err
	}
	return connect.NewResponse(&processpb.CloseStdinResponse{}), nil
}

func (s *processService) SendSignal(ctx context.Context, req *connect.Request[processpb.SendSignalRequest]) (*connect.Response[processpb.SendSignalResponse], error) {
	ref, err := processRef(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	var sig int32
	switch req.Msg.GetSignal() {
	case processpb.Signal_SIGNAL_SIGKILL:
		sig = int32(syscall.SIGKILL)
	case processpb.Signal_SIGNAL_SIGTERM:
		sig = int32(syscall.SIGTERM)
	default:
		return nil, invalidArg("signal %d: only SIGNAL_SIGTERM and SIGNAL_SIGKILL", req.Msg.GetSignal())
	}
	sr := &agentv1.SignalRequest{Signal: sig, Group: true}
	switch t := ref.Target.(type) {
	case *agentv1.ProcessRef_Pid:
		sr.Target = &agentv1.SignalRequest_Pid{Pid: t.Pid}
	case *agentv1.ProcessRef_Tag:
		sr.Target = &agentv1.SignalRequest_Tag{Tag: t.Tag}
	}
	if _, err := callFrom(ctx).agent.Raw().Signal(ctx, sr); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return connect.NewResponse(&processpb.SendSignalResponse{}), nil
}

func (s *processService) Update(ctx context.Context, req *connect.Request[processpb.UpdateRequest]) (*connect.Response[processpb.UpdateResponse], error) {
	ref, err := processRef(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	sz := req.Msg.GetPty().GetSize()
	if sz == nil {
		return nil, invalidArg("pty.size is required (only the terminal size can be updated)")
	}
	if _, err := callFrom(ctx).agent.Raw().Resize(ctx, &agentv1.ResizeRequest{Process: ref, Size: &agentv1.PtySize{Rows: sz.GetRows(), Cols: sz.GetCols()}}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return connect.NewResponse(&processpb.UpdateResponse{}), nil
}

// streamEnd is how a stream ends when its context does: quietly when the
// client left, DeadlineExceeded when the client's timeout (Connect-Timeout-Ms)
// passed.
func streamEnd(ctx context.Context, note string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the call's timeout passed"+note))
	}
	return nil
}

// sandboxSet remembers sandboxes for a while (bounded): here, those found
// without bash, so commands.run goes to /bin/sh at once.
type sandboxSet struct {
	mu sync.Mutex
	m  map[id.SandboxID]time.Time
}

const (
	sandboxSetTTL = 10 * time.Minute
	sandboxSetMax = 4096
)

func (s *sandboxSet) has(sb id.SandboxID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[sb]
	return ok && time.Since(t) < sandboxSetTTL
}

func (s *sandboxSet) add(sb id.SandboxID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[id.SandboxID]time.Time)
	}
	if len(s.m) >= sandboxSetMax {
		clear(s.m)
	}
	s.m[sb] = time.Now()
}
