package agent

import (
	"errors"
	"io"
	"os"
	"sync"
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
	return s.execForeground(stream, l, st.Stdin)
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

func (s *server) execForeground(stream agentv1.Agent_ExecServer, l *launch, wantStdin bool) error {
	pipes, child, err := openStdio(wantStdin)
	if err != nil {
		return err
	}
	defer pipes.close()
	for _, f := range child {
		l.files = append(l.files, f.Fd())
	}
	p, err := s.spawn(l)
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		return err
	}
	var sendMu sync.Mutex
	send := func(m *agentv1.ExecResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	if err := send(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Started{
		Started: &agentv1.ExecStarted{Pid: int32(p.pid), Tag: p.tag},
	}}); err != nil {
		p.killGroup(unix.SIGKILL)
		return err
	}

	var wg sync.WaitGroup
	sendErr := make(chan error, 2)
	pump := func(f *os.File, wrap func([]byte) *agentv1.ExecResponse) {
		defer wg.Done()
		for {
			buf := make([]byte, outputChunk)
			n, err := f.Read(buf)
			if n > 0 {
				if err := send(wrap(buf[:n])); err != nil {
					sendErr <- err
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(pipes.stdout, func(b []byte) *agentv1.ExecResponse {
		return &agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Stdout{Stdout: b}}
	})
	go pump(pipes.stderr, func(b []byte) *agentv1.ExecResponse {
		return &agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Stderr{Stderr: b}}
	})
	go s.control(stream, p, pipes.stdin)

	ctx := stream.Context()
	select {
	case <-p.done:
	case <-ctx.Done():
		s.log.Debug("exec stream ended before the process; killing it", "pid", p.pid, "err", ctx.Err())
		p.killGroup(unix.SIGKILL)
		<-p.done
		return status.FromContextError(ctx.Err()).Err()
	}
	// Children may still hold stdout/stderr open: bound the wait.
	drain := time.AfterFunc(outputDrain, func() {
		now := time.Now()
		pipes.stdout.SetReadDeadline(now)
		pipes.stderr.SetReadDeadline(now)
	})
	wg.Wait()
	drain.Stop()
	select {
	case err := <-sendErr:
		return err
	default:
	}
	return send(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Exit{Exit: p.exit}})
}

// control reads the client's later Exec messages: stdin chunks (written by a
// separate goroutine so signals are not held up by a process that does not
// read), close_stdin and signals. It ends when the client half-closes or
// the stream ends.
func (s *server) control(stream agentv1.Agent_ExecServer, p *process, stdin *os.File) {
	var queue chan []byte
	if stdin != nil {
		queue = make(chan []byte, stdinQueue)
		// The channel is passed in: closeStdin sets queue to nil, possibly
		// before this goroutine first runs, and ranging over nil blocks forever.
		go func(queue <-chan []byte) {
			broken := false
			for b := range queue {
				if broken {
					continue
				}
				if _, err := stdin.Write(b); err != nil {
					// EPIPE: the process closed its stdin; drop the rest.
					broken = true
				}
			}
			stdin.Close()
		}(queue)
	}
	closeStdin := func() {
		if queue != nil {
			close(queue)
			queue = nil
		}
	}
	defer closeStdin()
	ctx := stream.Context()
	for {
		m, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Debug("exec control stream ended", "pid", p.pid, "err", err)
			}
			return
		}
		switch msg := m.Msg.(type) {
		case *agentv1.ExecRequest_Stdin:
			if queue == nil {
				continue // stdin not requested or already closed
			}
			select {
			case queue <- msg.Stdin:
			case <-ctx.Done():
				return
			}
		case *agentv1.ExecRequest_CloseStdin:
			closeStdin()
		case *agentv1.ExecRequest_Signal:
			sig, err := validSignal(msg.Signal)
			if err != nil {
				s.log.Warn("exec: ignoring bad signal", "pid", p.pid, "signal", msg.Signal)
				continue
			}
			select {
			case <-p.done:
			default:
				_ = unix.Kill(p.pid, sig)
			}
		case *agentv1.ExecRequest_Start:
			s.log.Warn("exec: ignoring a second start message", "pid", p.pid)
		}
	}
}
