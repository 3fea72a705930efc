package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const pid1FDEnv = "WARREN_AGENT_TEST_PID1_FD"

// TestDialPeerRefusesAnotherProcess: DialPeer uses a connection only when
// the socket's peer is the process it expects. An agent served by this test
// process (pid os.Getpid()) is refused when the caller expects another pid
// or uid, and the refusal is reported; expecting this process, it answers.
func TestDialPeerRefusesAnotherProcess(t *testing.T) {
	a := startAgent(t)
	self := Peer{Pid: os.Getpid(), UID: os.Geteuid()}
	for _, want := range []Peer{{Pid: 1, UID: self.UID}, {Pid: self.Pid, UID: self.UID + 100000}} {
		refusals := make(chan error, 16)
		c, err := DialPeer(testCtx(t), a.socket, want, func(err error) {
			select {
			case refusals <- err:
			default:
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.Health(ctx)
		cancel()
		c.Close()
		if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("health over a socket whose peer is not %+v: %v, want refused", want, err)
		}
		select {
		case err := <-refusals:
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Got != self || pe.Want != want {
				t.Fatalf("refusal %v, want a PeerError naming %+v", err, self)
			}
		default:
			t.Fatalf("expecting %+v, no refusal was reported", want)
		}
	}
	// Control: the right peer is used.
	c, err := DialPeer(testCtx(t), a.socket, self, func(err error) { t.Errorf("refused the right peer: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitHealthy(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := DialPeer(testCtx(t), a.socket, Peer{}, nil); err == nil {
		t.Fatal("DialPeer with no peer pid: no error")
	}
}

// TestListenFDRejectsNonSockets: --listen-fd takes only a bound unix stream
// socket.
func TestListenFDRejectsNonSockets(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := listenFD(int(f.Fd())); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("a regular file: %v", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := listenFD(fd); err == nil || !strings.Contains(err.Error(), "not a unix stream socket bound to a path") {
		t.Fatalf("an unbound socket: %v", err)
	}
}

// TestPID1ListenFD starts the agent as PID 1 the way a sandbox does: this
// test (the node) binds the socket and hands it over as fd 3; the agent
// listens on it itself, so the peer of every connection is the agent's
// process, and the processes it starts do not inherit the socket.
func TestPID1ListenFD(t *testing.T) {
	requireRoot(t)
	sockPath := filepath.Join(t.TempDir(), "agent.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sockPath}); err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(fd), sockPath)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pid1FDEnv+"=3", pid1RootEnv+"="+t.TempDir(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	cmd.ExtraFiles = []*os.File{sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sock.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	c, err := DialPeer(testCtx(t), sockPath, Peer{Pid: cmd.Process.Pid, UID: 0}, func(err error) { t.Errorf("refused: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitHealthy(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(testCtx(t)); err != nil || h.Pid != 1 {
		t.Fatalf("health: %+v %v, want the agent as PID 1", h, err)
	}
	// A child's descriptors: its stdio pipes, no socket.
	res, err := c.ExecCollect(testCtx(t), ExecOptions{Shell: "ls -l /proc/self/fd/"})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("ls fds: %+v %v", res, err)
	}
	if strings.Contains(string(res.Stdout), "socket:") {
		t.Fatalf("a child inherited a socket:\n%s", res.Stdout)
	}
}

// TestPID1StopsWhenLimited: an agent whose descriptor limit is lowered from
// outside (prlimit, as sandbox root can do to PID 1) stops, with an error,
// instead of staying up unable to serve.
func TestPID1StopsWhenLimited(t *testing.T) {
	_, cmd := startPID1Agent(t)
	lim := unix.Rlimit{Cur: 64, Max: 64}
	if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("agent exit after prlimit: %v, want exit status 1", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent still runs 5 s after its descriptor limit was lowered")
	}
}
