package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestCLIShell: `warren sandbox shell` and `exec -t` against a real node,
// piped and on a real terminal (raw mode: Ctrl-C goes to the sandbox;
// a window resize reaches the remote terminal), exiting with the remote
// exit code.
func TestCLIShell(t *testing.T) {
	n := nodetest.Start(t)
	e := newCLIEnv(t)
	e.env = append(e.env, "WARREN_URL="+n.URL, "WARREN_API_KEY="+n.APIKey)
	var sb sandbox
	e.jsonOut(&sb, "sandbox", "create", "--disk", "1024")
	t.Cleanup(func() { e.run("", nil, "sandbox", "kill", sb.ID) })

	t.Run("exec -t piped", func(t *testing.T) {
		r := e.run("", nil, "sandbox", "exec", "-t", sb.ID, "--", "stty size; exit 3")
		if r.code != 3 || !strings.Contains(r.stdout, "24 80") {
			t.Fatalf("exec -t: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = e.run("", nil, "sandbox", "exec", "-t", "--cwd", "/tmp", sb.ID, "--", "pwd")
		if r.code == 0 || !strings.Contains(r.stderr, "--cwd is not supported on a terminal") {
			t.Fatalf("exec -t --cwd: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("shell piped", func(t *testing.T) {
		r := e.run("echo hi-$((1+2))\nexit 4\n", nil, "sandbox", "shell", sb.ID)
		if r.code != 4 || !strings.Contains(r.stdout, "hi-3") {
			t.Fatalf("shell: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = e.run("", nil, "sandbox", "shell", "sb-00000000-0000-0000-0000-000000000000")
		if r.code == 0 || !strings.Contains(r.stderr, "not found") {
			t.Fatalf("shell of no sandbox: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("shell on a terminal", func(t *testing.T) {
		master, slave := openTestPTY(t, 30, 100)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, e.bin, "sandbox", "shell", sb.ID)
		cmd.Env = e.env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		out := &syncBuf{}
		go func() {
			b := make([]byte, 4096)
			for {
				n, err := master.Read(b)
				out.write(b[:n])
				if err != nil {
					return
				}
			}
		}()
		mark := out.len()
		write(t, master, "stty size\r")
		out.waitFor(t, mark, "30 100")
		// The kernel sends SIGWINCH to warren, which resizes the remote.
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			mark = out.len()
			write(t, master, "stty size\r")
			if out.waitQuiet(mark, "40 120", time.Second) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the resize did not reach the sandbox: %q", out.String())
			}
		}
		// Raw mode: ^C is a byte for the sandbox, not a signal for warren.
		write(t, master, "sleep 100\r")
		time.Sleep(500 * time.Millisecond)
		mark = out.len()
		write(t, master, "\x03")
		write(t, master, "echo rc=$?\r")
		out.waitFor(t, mark, "rc=130")
		write(t, master, "exit 5\r")
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 5 {
			t.Fatalf("warren shell: %v, want exit 5; output %q", err, out.String())
		}
	})
}

// openTestPTY opens a pseudo-terminal of rows x cols.
func openTestPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), uintptr(unix.TIOCGPTPEER), uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		t.Fatal(errno)
	}
	master, slave = os.NewFile(uintptr(m), "ptmx"), os.NewFile(s, "pts")
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// syncBuf is output collected by one goroutine and read by the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) write(p []byte) { s.mu.Lock(); s.b.Write(p); s.mu.Unlock() }
func (s *syncBuf) len() int       { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (s *syncBuf) waitQuiet(mark int, want string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.String()[mark:], want) {
			return true
		}
	}
	return false
}

func (s *syncBuf) waitFor(t *testing.T, mark int, want string) {
	t.Helper()
	if !s.waitQuiet(mark, want, 15*time.Second) {
		t.Fatalf("terminal output has no %q: %q", want, s.String()[mark:])
	}
}
