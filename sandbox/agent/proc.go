package agent

import (
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

const (
	// killGrace is how long a timed-out process group has between SIGTERM
	// and SIGKILL.
	killGrace = 500 * time.Millisecond
	// keepExited is how many exited background processes ListProcesses keeps.
	keepExited = 128
)

// launch is a validated, resolved process start.
type launch struct {
	path       string // executable
	argv       []string
	env        []string
	dir        string
	cred       *syscall.Credential
	files      []uintptr // stdin, stdout, stderr
	tag        string
	background bool
	timeout    time.Duration
	// Foreground processes only.
	keepRunning bool
	setsid      bool              // lead a new session with fd 0 as the controlling tty (PTY mode)
	sess        *session          // its stdio; spawn links it to the process
	reqEnv      map[string]string // as requested (ProcessInfo)
}

// process is one process the agent started. exit is set, under the table's
// lock, before done is closed.
type process struct {
	pid        int
	tag        string
	argv       []string
	started    time.Time
	background bool
	done       chan struct{}
	exit       *agentv1.ExecExit

	keepRunning bool
	sess        *session // nil for background processes
	dir         string
	reqEnv      map[string]string
}

// procTable tracks running processes and the last exited background ones.
type procTable struct {
	mu      sync.Mutex
	running map[int]*process
	exited  []*process // background only, oldest first
	closed  bool       // shutting down: no new processes
}

func newProcTable() *procTable {
	return &procTable{running: make(map[int]*process)}
}

func (t *procTable) byTag(tag string) *process {
	for _, p := range t.running {
		if p.tag == tag {
			return p
		}
	}
	return nil
}

// spawn starts l through the reaper and supervises it until it exits.
func (s *server) spawn(l *launch) (*process, error) {
	t := s.procs
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, status.Error(codes.Unavailable, "the agent is shutting down")
	}
	if l.tag != "" {
		if other := t.byTag(l.tag); other != nil {
			return nil, status.Errorf(codes.AlreadyExists, "tag %q is in use by running pid %d", l.tag, other.pid)
		}
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Credential: l.cred}
	if l.setsid {
		// A new session is also a new process group led by the process.
		sys = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: l.cred}
	}
	attr := &syscall.ProcAttr{Dir: l.dir, Env: l.env, Files: l.files, Sys: sys}
	pid, wait, err := s.reaper.start(func() (int, error) {
		return syscall.ForkExec(l.path, l.argv, attr)
	})
	if err != nil {
		return nil, statusErr("exec", l.path, err)
	}
	p := &process{
		pid:        pid,
		tag:        l.tag,
		argv:       l.argv,
		started:    time.Now(),
		background: l.background,
		done:       make(chan struct{}),

		keepRunning: l.keepRunning,
		sess:        l.sess,
		dir:         l.dir,
		reqEnv:      l.reqEnv,
	}
	if l.sess != nil {
		l.sess.p = p
	}
	t.running[pid] = p
	s.log.Debug("process started", "pid", pid, "tag", l.tag, "argv", l.argv, "background", l.background)
	go s.supervise(p, wait, l.timeout)
	return p, nil
}

// supervise waits for p, enforcing its timeout, and records its exit.
func (s *server) supervise(p *process, wait <-chan unix.WaitStatus, timeout time.Duration) {
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	var ws unix.WaitStatus
	timedOut := false
	select {
	case ws = <-wait:
	case <-expired:
		timedOut = true
		s.log.Info("process timed out", "pid", p.pid, "tag", p.tag, "timeout", timeout)
		_ = unix.Kill(-p.pid, unix.SIGTERM)
		grace := time.NewTimer(killGrace)
		exited := false
		select {
		case ws = <-wait:
			exited = true
		case <-grace.C:
		}
		grace.Stop()
		// Also the members that ignored SIGTERM or outlived the leader.
		_ = unix.Kill(-p.pid, unix.SIGKILL)
		if !exited {
			ws = <-wait
		}
	}
	exit := &agentv1.ExecExit{
		ExitCode: int32(exitCode(ws)),
		TimedOut: timedOut,
		Duration: durationpb.New(time.Since(p.started)),
	}
	if ws.Signaled() {
		exit.Signal = int32(ws.Signal())
	}
	t := s.procs
	t.mu.Lock()
	p.exit = exit
	delete(t.running, p.pid)
	if p.background || p.keepRunning {
		t.exited = append(t.exited, p)
		if len(t.exited) > keepExited {
			t.exited = t.exited[len(t.exited)-keepExited:]
		}
	}
	t.mu.Unlock()
	close(p.done)
	s.log.Debug("process exited", "pid", p.pid, "tag", p.tag, "exit_code", exit.ExitCode, "timed_out", timedOut)
}

// killGroup sends sig to p's process group unless p has already exited.
func (p *process) killGroup(sig unix.Signal) {
	select {
	case <-p.done:
	default:
		_ = unix.Kill(-p.pid, sig)
	}
}

func (p *process) info() *agentv1.ProcessInfo {
	return &agentv1.ProcessInfo{
		Pid:         int32(p.pid),
		Tag:         p.tag,
		Cmd:         p.argv,
		StartedAt:   timestamppb.New(p.started),
		Running:     p.exit == nil,
		Background:  p.background,
		Exit:        p.exit,
		Cwd:         p.dir,
		Env:         p.reqEnv,
		Pty:         p.sess != nil && p.sess.pty != nil,
		KeepRunning: p.keepRunning,
	}
}

func (s *server) listProcesses() []*agentv1.ProcessInfo {
	t := s.procs
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*agentv1.ProcessInfo, 0, len(t.running)+len(t.exited))
	for _, p := range t.running {
		out = append(out, p.info())
	}
	for _, p := range t.exited {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.AsTime().Before(out[j].StartedAt.AsTime()) })
	return out
}

// signalTarget resolves a Signal request's target to a pid. Untracked pids
// are allowed only when the agent is PID 1, where every process it can see
// belongs to the sandbox.
func (s *server) signalTarget(req *agentv1.SignalRequest) (int, error) {
	t := s.procs
	t.mu.Lock()
	defer t.mu.Unlock()
	switch target := req.Target.(type) {
	case *agentv1.SignalRequest_Tag:
		if target.Tag == "" {
			return 0, invalid("tag is empty")
		}
		if p := t.byTag(target.Tag); p != nil {
			return p.pid, nil
		}
		return 0, status.Errorf(codes.NotFound, "no running process with tag %q", target.Tag)
	case *agentv1.SignalRequest_Pid:
		pid := int(target.Pid)
		if pid <= 1 {
			return 0, invalid("pid %d is not a valid target", pid)
		}
		if _, ok := t.running[pid]; ok || s.pid1 {
			return pid, nil
		}
		return 0, status.Errorf(codes.NotFound, "pid %d is not a running process of this agent", pid)
	}
	return 0, invalid("pid or tag is required")
}

func validSignal(sig int32) (unix.Signal, error) {
	if sig < 1 || sig > 64 {
		return 0, invalid("signal %d is out of range 1..64", sig)
	}
	return unix.Signal(sig), nil
}

// stopAll ends every running process: SIGTERM to each group (as PID 1, to
// every process in the sandbox), then SIGKILL to what is left after grace.
// It returns once the agent's own processes have been reaped.
func (s *server) stopAll(grace time.Duration) {
	t := s.procs
	t.mu.Lock()
	t.closed = true
	procs := make([]*process, 0, len(t.running))
	for _, p := range t.running {
		procs = append(procs, p)
	}
	t.mu.Unlock()
	if s.pid1 {
		_ = unix.Kill(-1, unix.SIGTERM)
	}
	for _, p := range procs {
		p.killGroup(unix.SIGTERM)
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	expired := false
	for _, p := range procs {
		if expired {
			break
		}
		select {
		case <-p.done:
		case <-deadline.C:
			expired = true
		}
	}
	if s.pid1 {
		// Processes the agent did not start (daemons, orphans) get the
		// rest of the grace too; kill(-1, 0) fails once none is left.
		tick := time.NewTicker(10 * time.Millisecond)
		for !expired && unix.Kill(-1, 0) == nil {
			select {
			case <-tick.C:
			case <-deadline.C:
				expired = true
			}
		}
		tick.Stop()
		_ = unix.Kill(-1, unix.SIGKILL)
	}
	if expired {
		s.log.Warn("processes still running after the shutdown grace; killing them", "grace", grace)
	}
	for _, p := range procs {
		p.killGroup(unix.SIGKILL)
		<-p.done
	}
}

func (p *process) String() string { return fmt.Sprintf("pid %d (tag %q)", p.pid, p.tag) }
