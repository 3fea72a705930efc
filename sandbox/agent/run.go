package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// maxMessage is the gRPC message size limit on both sides; data chunks are
// far smaller (ChunkSize), List responses are capped below it.
const maxMessage = 16 << 20

// Run serves the agent on cfg.ListenFD or cfg.SocketPath until ctx is cancelled, then stops
// every process it started (SIGTERM, SIGKILL after cfg.ShutdownGrace) and
// returns. As PID 1 it also reaps every orphan, sets PATH and HOME when
// they are unset, and on shutdown signals every process of the sandbox.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	pid1 := os.Getpid() == 1
	if pid1 {
		setInitEnv()
		reserveThreads(32)
	}
	rt, err := openRoot(cfg.Root)
	if err != nil {
		return err
	}
	defer rt.close()
	var ln net.Listener
	if cfg.ListenFD != 0 {
		ln, err = listenFD(cfg.ListenFD)
	} else {
		ln, err = listen(cfg.SocketPath)
	}
	if err != nil {
		return err
	}
	s := &server{
		log:     log,
		root:    rt,
		reaper:  newReaper(log, pid1),
		procs:   newProcTable(),
		watches: newWatchTable(),
		pid1:    pid1,
		started: time.Now(),
	}
	defer s.reaper.stop()
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage))
	agentv1.RegisterAgentServer(gs, s)
	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(ln) }()
	log.Info("agent serving", "socket", ln.Addr().String(), "root", cfg.Root, "pid1", pid1, "version", Version)

	var limited <-chan error // nil outside a sandbox: never ready
	if pid1 {
		gctx, stopGuard := context.WithCancel(ctx)
		defer stopGuard()
		limited = guardLimits(gctx, time.Second)
	}
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("agent: serve %s: %w", ln.Addr(), err)
	case err = <-limited:
	}
	log.Info("agent stopping", "grace", cfg.ShutdownGrace)
	// Processes first: cancelled Exec streams then end on their own.
	s.stopAll(cfg.ShutdownGrace)
	s.closeWatchers()
	log.Debug("processes stopped")
	stopGRPC(gs, time.Second)
	log.Debug("grpc stopped")
	if cfg.SocketPath != "" {
		_ = os.Remove(cfg.SocketPath)
	}
	return err
}

// stopGRPC stops gs gracefully, or hard after timeout.
func stopGRPC(gs *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		gs.Stop()
		<-done
	}
}

// listen creates the socket with mode 0600, replacing a stale socket but
// nothing else.
func listen(p string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("agent: socket directory of %s: %w", p, err)
	}
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("agent: socket path %s exists and is not a socket", p)
		}
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("agent: remove stale socket %s: %w", p, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agent: socket path %s: %w", p, err)
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", p, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("agent: chmod socket %s: %w", p, err)
	}
	return ln, nil
}

// listenFD listens on the inherited socket fd, which must be a bound unix
// stream socket, and returns it as a listener; fd itself is closed (the
// listener holds a close-on-exec copy), so no process the agent starts
// inherits it.
func listenFD(fd int) (net.Listener, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("agent: listen fd %d: not a socket: %w", fd, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("agent: listen fd %d: %w", fd, err)
	}
	// An unbound socket reads as the abstract name "@"; abstract names are
	// not what a sandbox's agent is given either: the node binds a path.
	if ua, ok := sa.(*unix.SockaddrUnix); !ok || typ != unix.SOCK_STREAM || ua.Name == "" || ua.Name[0] == '@' {
		return nil, fmt.Errorf("agent: listen fd %d is not a unix stream socket bound to a path", fd)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return nil, fmt.Errorf("agent: listen on fd %d: %w", fd, err)
	}
	f := os.NewFile(uintptr(fd), "agent-socket")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("agent: listen fd %d: %w", fd, err)
	}
	return ln, nil
}

// setInitEnv gives PID 1 (started by the runtime with whatever environment
// the bundle set) a usable PATH and HOME, and a predictable umask.
func setInitEnv() {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", DefaultPath)
	}
	if os.Getenv("HOME") == "" {
		os.Setenv("HOME", "/root")
	}
	unix.Umask(0o022)
}

// reserveThreads makes the Go runtime start n OS threads now and keep them
// idle for later use. Threads count against the sandbox's pids limit, and the
// runtime aborts when it cannot create one it needs: without spares, a fork
// bomb that fills the limit would take the agent (PID 1, so the sandbox) down.
// Idle threads are kept by the runtime and cost no CPU.
func reserveThreads(n int) {
	var started sync.WaitGroup
	release := make(chan struct{})
	for range n {
		started.Add(1)
		go func() {
			runtime.LockOSThread() // a locked goroutine holds its own thread
			started.Done()
			<-release
			runtime.UnlockOSThread() // the thread goes idle, not away
		}()
	}
	started.Wait()
	close(release)
}
