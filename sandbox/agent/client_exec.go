package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// DefaultOutputLimit caps each of stdout and stderr in ExecCollect. The
// collected form exists for JSON answers (REST exec), which must stay small
// enough to hold in memory on the node and in the client: past the limit
// the head is kept, the rest is read and discarded (the process is not
// blocked or killed) and the Truncated flag is set. Use Exec with writers to
// stream unbounded output.
const DefaultOutputLimit = 10 << 20

// ExecOptions describes a process to run. Exactly one of Argv and Shell.
type ExecOptions struct {
	Argv  []string
	Shell string // run as /bin/sh -c Shell
	// Env adds to the base environment (the agent's, plus HOME, USER and
	// LOGNAME of User).
	Env  map[string]string
	Cwd  string // default: the user's home, or "/"
	User string // name or uid from the sandbox's /etc/passwd
	// Timeout kills the process group (SIGTERM, SIGKILL 500 ms later);
	// zero means none.
	Timeout time.Duration
	// Stdin, when set, is copied to the process; its EOF closes the
	// process's stdin. A Read that blocks past the process's exit leaks
	// only the goroutine reading it, until Read returns.
	Stdin io.Reader
	// Background returns once the process has started; it keeps running
	// with /dev/null as stdio.
	Background bool
	Tag        string
	// Signals, when set, are forwarded to the process while it runs.
	Signals <-chan syscall.Signal
	// Started, when set, is called with the pid once the process runs.
	Started func(pid int)
	// OutputLimit caps each stream in ExecCollect (0: DefaultOutputLimit,
	// negative: no cap).
	OutputLimit int
}

// ExecResult is how a process ended. For background processes only Pid and
// Tag are set.
type ExecResult struct {
	Pid      int
	Tag      string
	ExitCode int // the exit code, or 128+Signal
	Signal   int // the signal that killed it, 0 if it exited
	TimedOut bool
	Duration time.Duration
}

func (o *ExecOptions) start() *agentv1.ExecStart {
	st := &agentv1.ExecStart{
		Argv:       o.Argv,
		Shell:      o.Shell,
		Env:        o.Env,
		Cwd:        o.Cwd,
		User:       o.User,
		Background: o.Background,
		Tag:        o.Tag,
		Stdin:      o.Stdin != nil,
	}
	if o.Timeout > 0 {
		st.Timeout = durationpb.New(o.Timeout)
	}
	return st
}

// Exec runs a process, copying its stdout and stderr to the writers (nil
// discards) as it runs, and returns its exit. A non-zero exit code is not an
// error. Cancelling ctx kills the process group. A writer error ends the
// call with that error (and kills the process).
func (c *Client) Exec(ctx context.Context, opts ExecOptions, stdout, stderr io.Writer) (ExecResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	what := opts.Shell
	if what == "" && len(opts.Argv) > 0 {
		what = opts.Argv[0]
	}
	fail := func(err error) (ExecResult, error) {
		return ExecResult{}, fmt.Errorf("agent %s: exec %q: %w", c.socket, what, err)
	}
	stream, err := c.rpc.Exec(ctx)
	if err != nil {
		return fail(err)
	}
	if err := stream.Send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Start{Start: opts.start()}}); err != nil {
		if errors.Is(err, io.EOF) { // the server ended the stream: get why
			_, err = stream.Recv()
		}
		return fail(err)
	}
	var sendMu sync.Mutex
	send := func(m *agentv1.ExecRequest) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	stdinErr := make(chan error, 1)
	switch {
	case opts.Background:
	case opts.Stdin != nil:
		go func() { stdinErr <- feedStdin(opts.Stdin, send) }()
	case opts.Signals == nil:
		_ = stream.CloseSend()
	}
	if opts.Signals != nil && !opts.Background {
		go func() {
			for {
				select {
				case sig := <-opts.Signals:
					_ = send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Signal{Signal: int32(sig)}})
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var res ExecResult
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fail(errors.New("stream ended without an exit status"))
		}
		if err != nil {
			return fail(err)
		}
		switch msg := m.Msg.(type) {
		case *agentv1.ExecResponse_Started:
			res.Pid, res.Tag = int(msg.Started.Pid), msg.Started.Tag
			if opts.Started != nil {
				opts.Started(res.Pid)
			}
			if opts.Background {
				return res, nil
			}
		case *agentv1.ExecResponse_Stdout:
			if err := write(stdout, msg.Stdout); err != nil {
				return fail(fmt.Errorf("writing stdout: %w", err))
			}
		case *agentv1.ExecResponse_Stderr:
			if err := write(stderr, msg.Stderr); err != nil {
				return fail(fmt.Errorf("writing stderr: %w", err))
			}
		case *agentv1.ExecResponse_Exit:
			x := msg.Exit
			res.ExitCode, res.Signal, res.TimedOut = int(x.ExitCode), int(x.Signal), x.TimedOut
			res.Duration = x.Duration.AsDuration()
			select {
			case err := <-stdinErr:
				if err != nil {
					return res, fmt.Errorf("agent %s: exec %q: reading stdin: %w", c.socket, what, err)
				}
			default:
			}
			return res, nil
		}
	}
}

func feedStdin(r io.Reader, send func(*agentv1.ExecRequest) error) error {
	buf := make([]byte, ChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			if send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: chunk}}) != nil {
				return nil // the stream ended; Recv reports why
			}
		}
		if err != nil {
			_ = send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_CloseStdin{CloseStdin: true}})
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func write(w io.Writer, b []byte) error {
	if w == nil {
		return nil
	}
	_, err := w.Write(b)
	return err
}

// CollectResult is an ExecResult with the collected output.
type CollectResult struct {
	ExecResult
	Stdout, Stderr                   []byte
	StdoutTruncated, StderrTruncated bool
}

// ExecCollect runs a process and returns its output, each stream capped at
// opts.OutputLimit (see DefaultOutputLimit).
func (c *Client) ExecCollect(ctx context.Context, opts ExecOptions) (CollectResult, error) {
	limit := opts.OutputLimit
	if limit == 0 {
		limit = DefaultOutputLimit
	}
	stdout, stderr := &capBuffer{limit: limit}, &capBuffer{limit: limit}
	res, err := c.Exec(ctx, opts, stdout, stderr)
	return CollectResult{
		ExecResult:      res,
		Stdout:          stdout.buf,
		Stderr:          stderr.buf,
		StdoutTruncated: stdout.truncated,
		StderrTruncated: stderr.truncated,
	}, err
}

// capBuffer keeps the first limit bytes written to it (all when limit < 0)
// and never fails, so the output keeps flowing past the cap.
type capBuffer struct {
	limit     int
	buf       []byte
	truncated bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	room := len(p)
	if b.limit >= 0 {
		room = min(room, b.limit-len(b.buf))
	}
	if room < len(p) {
		b.truncated = true
	}
	b.buf = append(b.buf, p[:room]...)
	return len(p), nil
}
