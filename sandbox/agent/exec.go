package agent

import (
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

const (
	// outputChunk is the largest stdout/stderr chunk per message.
	outputChunk = 64 << 10
	// outputDrain is how long output may still arrive after a foreground
	// process exits (from children that kept its stdout/stderr open) before
	// the stream reports the exit anyway.
	outputDrain = 500 * time.Millisecond
	// stdinQueue is how many stdin chunks may wait for the process to read.
	stdinQueue = 8
)

// Exec implements agentv1.AgentServer.
func (s *server) Exec(stream agentv1.Agent_ExecServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	st := first.GetStart()
	if st == nil {
		return invalid("the first Exec message must be start")
	}
	l, err := s.prepare(st)
	if err != nil {
		return err
	}
	if st.Background {
		return s.execBackground(stream, l)
	}
	return s.execForeground(stream, l, st)
}

func (s *server) execBackground(stream agentv1.Agent_ExecServer, l *launch) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return statusErr("open", os.DevNull, err)
	}
	defer null.Close()
	fd := null.Fd()
	l.files = []uintptr{fd, fd, fd}
	p, err := s.spawn(l)
	if err != nil {
		return err
	}
	return stream.Send(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Started{
		Started: &agentv1.ExecStarted{Pid: int32(p.pid), Tag: p.tag},
	}})
}

// stdio holds the agent's ends of a foreground process's pipes.
type stdio struct {
	stdin          *os.File // nil when stdin is /dev/null
	stdout, stderr *os.File
}

func (st *stdio) close() {
	for _, f := range []*os.File{st.stdin, st.stdout, st.stderr} {
		if f != nil {
			f.Close()
		}
	}
}

// openStdio creates the pipes and returns the agent's ends plus the child's
// fds, which the caller closes after the fork. Fd() puts the child's ends in
// blocking mode; the agent's ends stay in the poller.
func openStdio(wantStdin bool) (*stdio, []*os.File, error) {
	var ours stdio
	var theirs []*os.File
	fail := func(err error) (*stdio, []*os.File, error) {
		ours.close()
		for _, f := range theirs {
			f.Close()
		}
		return nil, nil, statusErr("create", "pipes", err)
	}
	if wantStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		ours.stdin, theirs = w, append(theirs, r)
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return fail(err)
		}
		theirs = append(theirs, null)
	}
	for _, dst := range []**os.File{&ours.stdout, &ours.stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		*dst, theirs = r, append(theirs, w)
	}
	return &ours, theirs, nil
}

// startSession opens the process's stdio (pipes, or a terminal), spawns it
// and starts its session. The returned listener is the caller's, added
// before any output exists.
func (s *server) startSession(l *launch, st *agentv1.ExecStart) (*session, *listener, error) {
	ss := &session{listeners: make(map[*listener]bool)}
	var outputs []*os.File
	var wraps []func([]byte) *agentv1.ExecResponse
	if st.Pty != nil {
		master, slave, err := openPTY(st.Pty)
		if err != nil {
			return nil, nil, err
		}
		fd := slave.Fd()
		l.files, l.setsid = []uintptr{fd, fd, fd}, true
		l.sess = ss
		// Before spawn: a caller may find the process as soon as it runs.
		ss.pty = master
		ss.startStdin(master) // the writer closes the master at the end
		_, err = s.spawn(l)
		slave.Close()
		if err != nil {
			ss.closeStdin()
			return nil, nil, err
		}
		outputs = []*os.File{master}
		wraps = append(wraps, func(b []byte) *agentv1.ExecResponse {
			return &agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Pty{Pty: b}}
		})
	} else {
		pipes, child, err := openStdio(st.Stdin)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range child {
			l.files = append(l.files, f.Fd())
		}
		l.sess = ss
		if pipes.stdin != nil {
			ss.startStdin(pipes.stdin) // the writer closes it at the end
			pipes.stdin = nil
		}
		_, err = s.spawn(l)
		for _, f := range child {
			f.Close()
		}
		if err != nil {
			ss.closeStdin()
			pipes.close()
			return nil, nil, err
		}
		outputs = []*os.File{pipes.stdout, pipes.stderr}
		wraps = append(wraps, func(b []byte) *agentv1.ExecResponse {
			return &agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Stdout{Stdout: b}}
		}, func(b []byte) *agentv1.ExecResponse {
			return &agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Stderr{Stderr: b}}
		})
	}
	own, _ := ss.listen(false) // cannot fail: nothing has run yet
	go ss.run(outputs, wraps)
	return ss, own, nil
}

func (s *server) execForeground(stream agentv1.Agent_ExecServer, l *launch, st *agentv1.ExecStart) error {
	ss, own, err := s.startSession(l, st)
	if err != nil {
		return err
	}
	p := ss.p
	defer ss.unlisten(own)
	// A stream that ends before the process: kill it, unless it was
	// started to outlive the stream.
	abandon := func() {
		if !l.keepRunning {
			p.killGroup(unix.SIGKILL)
			<-p.done
		}
	}
	if err := stream.Send(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Started{
		Started: &agentv1.ExecStarted{Pid: int32(p.pid), Tag: p.tag},
	}}); err != nil {
		abandon()
		return err
	}
	go s.control(stream, ss, l.keepRunning)
	ctx := stream.Context()
	for {
		select {
		case m, ok := <-own.ch:
			if !ok {
				return nil
			}
			if err := stream.Send(m); err != nil {
				abandon()
				return err
			}
			if m.GetExit() != nil {
				return nil
			}
		case <-ctx.Done():
			s.log.Debug("exec stream ended before the process", "pid", p.pid, "keep_running", l.keepRunning, "err", ctx.Err())
			abandon()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// control reads the client's later Exec messages: stdin chunks, close_stdin
// and signals. It ends when the client half-closes (which closes a stdin
// pipe, unless the process was started with keep_running) or the stream ends.
func (s *server) control(stream agentv1.Agent_ExecServer, ss *session, keepRunning bool) {
	p := ss.p
	ctx := stream.Context()
	for {
		m, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !keepRunning && ss.pty == nil && ss.stdin != nil {
					_ = ss.eof(ctx)
				}
			} else {
				s.log.Debug("exec control stream ended", "pid", p.pid, "err", err)
			}
			return
		}
		switch msg := m.Msg.(type) {
		case *agentv1.ExecRequest_Stdin:
			// Not requested, closed or exited: dropped, as a pipe would.
			_ = ss.writeStdin(ctx, msg.Stdin)
		case *agentv1.ExecRequest_CloseStdin:
			_ = ss.eof(ctx)
		case *agentv1.ExecRequest_Signal:
			sig, err := validSignal(msg.Signal)
			if err != nil {
				s.log.Warn("exec: ignoring bad signal", "pid", p.pid, "signal", msg.Signal)
				continue
			}
			select {
			case <-p.done:
			default:
				_ = unix.Kill(ss.signalTarget(), sig)
			}
		case *agentv1.ExecRequest_Start:
			s.log.Warn("exec: ignoring a second start message", "pid", p.pid)
		}
	}
}
