package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestExecEcho(t *testing.T) {
	a := startAgent(t)
	res, err := a.ExecCollect(testCtx(t), ExecOptions{Argv: []string{"echo", "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "hi\n" || len(res.Stderr) != 0 || res.ExitCode != 0 || res.Pid <= 0 {
		t.Fatalf("echo hi: got %+v stdout %q stderr %q", res.ExecResult, res.Stdout, res.Stderr)
	}
}

func TestExecExitCodes(t *testing.T) {
	a := startAgent(t)
	for _, tc := range []struct {
		name     string
		opts     ExecOptions
		code     int
		signal   int
		timedOut bool
	}{
		{"zero", ExecOptions{Argv: []string{"true"}}, 0, 0, false},
		{"false", ExecOptions{Argv: []string{"false"}}, 1, 0, false},
		{"shell exit 42", ExecOptions{Shell: "exit 42"}, 42, 0, false},
		{"killed by SIGKILL", ExecOptions{Shell: "kill -9 $$"}, 137, 9, false},
		{"killed by SIGTERM", ExecOptions{Shell: "kill -TERM $$"}, 143, 15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := a.ExecCollect(testCtx(t), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.code || res.Signal != tc.signal || res.TimedOut != tc.timedOut {
				t.Fatalf("got exit %d signal %d timed_out %v, want %d %d %v", res.ExitCode, res.Signal, res.TimedOut, tc.code, tc.signal, tc.timedOut)
			}
		})
	}
}

func TestExecStderrSeparate(t *testing.T) {
	a := startAgent(t)
	res, err := a.ExecCollect(testCtx(t), ExecOptions{Shell: "echo out; echo err >&2; echo out2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out\nout2\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Fatalf("got stdout %q stderr %q exit %d", res.Stdout, res.Stderr, res.ExitCode)
	}
}

func TestExecStdin(t *testing.T) {
	a := startAgent(t)
	in := make([]byte, 3<<20+17) // several chunks each way
	rand.Read(in)
	var out bytes.Buffer
	res, err := a.Exec(testCtx(t), ExecOptions{Argv: []string{"cat"}, Stdin: bytes.NewReader(in)}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("cat: exit %d, %d bytes out for %d in (equal %v)", res.ExitCode, out.Len(), len(in), bytes.Equal(out.Bytes(), in))
	}
}

// A one-chunk stdin and its close can both arrive before the agent's stdin
// writer first runs; the close must still reach the process (it once did not:
// the writer ranged over a channel variable already set to nil).
func TestExecSmallStdin(t *testing.T) {
	a := startAgent(t)
	for i := range 40 {
		res, err := a.ExecCollect(testCtx(t), ExecOptions{Argv: []string{"cat"}, Stdin: strings.NewReader("hello\n"), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.TimedOut || string(res.Stdout) != "hello\n" {
			t.Fatalf("run %d: stdout %q timed out %v", i, res.Stdout, res.TimedOut)
		}
	}
}

func TestExecEnvAndCwd(t *testing.T) {
	a := startAgent(t)
	dir := t.TempDir()
	res, err := a.ExecCollect(testCtx(t), ExecOptions{
		Shell: `printf '%s|%s|' "$FOO" "$EMPTY"; pwd; echo "$PATH"`,
		Env:   map[string]string{"FOO": "bar baz", "EMPTY": ""},
		Cwd:   dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(res.Stdout), "\n")
	if len(lines) < 2 || lines[0] != "bar baz||"+dir || lines[1] == "" {
		t.Fatalf("got %q", res.Stdout)
	}
}

func TestExecUser(t *testing.T) {
	requireRoot(t)
	a := startAgent(t)
	writeFile(t, a.root+"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1234:Alice:/home/alice:/bin/sh\n")
	writeFile(t, a.root+"/etc/group", "root:x:0:\nalice:x:1234:\nstaff:x:5000:bob,alice\nother:x:6000:bob\n")
	for _, tc := range []struct{ user, want string }{
		{"alice", "1234 1234 1234 5000 /home/alice alice"},
		{"1234", "1234 1234 1234 5000 /home/alice alice"},
		{"4321", "4321 4321 4321 / 4321"},
		{"root", "0 0 0 /root root"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			res, err := a.ExecCollect(testCtx(t), ExecOptions{
				Shell: `echo $(id -u) $(id -g) $(id -G) $HOME $USER`, User: tc.user, Cwd: "/",
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(res.Stdout)); got != tc.want || res.ExitCode != 0 {
				t.Fatalf("user %s: got %q (stderr %q), want %q", tc.user, got, res.Stderr, tc.want)
			}
		})
	}
	_, err := a.ExecCollect(testCtx(t), ExecOptions{Argv: []string{"true"}, User: "nobody-here"})
	wantCode(t, err, codes.InvalidArgument, "nobody-here")
}

func TestExecInvalid(t *testing.T) {
	a := startAgent(t)
	for _, tc := range []struct {
		name     string
		opts     ExecOptions
		code     codes.Code
		mentions string
	}{
		{"nothing", ExecOptions{}, codes.InvalidArgument, "argv or shell"},
		{"both", ExecOptions{Argv: []string{"true"}, Shell: "true"}, codes.InvalidArgument, "not both"},
		{"missing executable", ExecOptions{Argv: []string{"no-such-command-xyz"}}, codes.NotFound, "no-such-command-xyz"},
		{"missing cwd", ExecOptions{Argv: []string{"true"}, Cwd: "/no/such/dir"}, codes.NotFound, "/no/such/dir"},
		{"bad env", ExecOptions{Argv: []string{"true"}, Env: map[string]string{"A=B": "c"}}, codes.InvalidArgument, "A=B"},
		{"background stdin", ExecOptions{Argv: []string{"cat"}, Background: true, Stdin: strings.NewReader("x")}, codes.InvalidArgument, "stdin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.ExecCollect(testCtx(t), tc.opts)
			wantCode(t, err, tc.code, tc.mentions)
		})
	}
}

func TestExecTimeoutKillsGroup(t *testing.T) {
	a := startAgent(t)
	timeout := 300 * time.Millisecond
	// The shell prints the pid of a background child, then waits on a
	// foreground one; the timeout must take down all three.
	res, err := a.ExecCollect(testCtx(t), ExecOptions{Shell: "sleep 100 & echo $!; sleep 100", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Signal == 0 {
		t.Fatalf("want a timed-out, signalled exit, got %+v", res.ExecResult)
	}
	// Killed rather than run to completion (generous bound: no timing test).
	if res.Duration > timeout+5*time.Second {
		t.Fatalf("process ran %v for a %v timeout", res.Duration, timeout)
	}
	t.Logf("timeout %v: exit reported after %v", timeout, res.Duration)
	child, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatalf("child pid: %v (stdout %q)", err, res.Stdout)
	}
	// The orphaned child is re-parented to the host's init, which reaps it
	// in its own time: gone or a zombie both mean it was killed.
	waitFor(t, 5*time.Second, "the background child to die", func() (bool, string) {
		s := procState(child)
		return s == "" || s == "Z", s
	})
}

func TestExecSignalOnStream(t *testing.T) {
	a := startAgent(t)
	sigs := make(chan syscall.Signal, 1)
	ready := &notifyWriter{want: "ready", ch: make(chan struct{})}
	go func() {
		<-ready.ch
		sigs <- syscall.SIGUSR1
	}()
	res, err := a.Exec(testCtx(t), ExecOptions{
		Shell:   `trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.02; done`,
		Signals: sigs,
	}, ready, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 5 || !strings.Contains(ready.String(), "got-usr1") {
		t.Fatalf("got exit %d, stdout %q", res.ExitCode, ready.String())
	}
}

// notifyWriter closes ch once the output contains want.
type notifyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	ch   chan struct{}
	once sync.Once
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestExecCancelKills(t *testing.T) {
	a := startAgent(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	pidc := make(chan int, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, ExecOptions{Argv: []string{"sleep", "100"}, Started: func(pid int) { pidc <- pid }}, nil, nil)
		errc <- err
	}()
	pid := <-pidc
	cancel()
	wantCode(t, <-errc, codes.Canceled)
	waitFor(t, 5*time.Second, "the cancelled process to be reaped", func() (bool, string) {
		return procState(pid) == "", procState(pid)
	})
}

func TestExecOutputCapped(t *testing.T) {
	a := startAgent(t)
	res, err := a.ExecCollect(testCtx(t), ExecOptions{Shell: "head -c 300000 /dev/zero; echo done >&2", OutputLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != 1000 || !res.StdoutTruncated || string(res.Stderr) != "done\n" || res.StderrTruncated || res.ExitCode != 0 {
		t.Fatalf("got %d stdout bytes (truncated %v), stderr %q (truncated %v), exit %d",
			len(res.Stdout), res.StdoutTruncated, res.Stderr, res.StderrTruncated, res.ExitCode)
	}
}

func TestExecOrphanHoldingStdout(t *testing.T) {
	a := startAgent(t)
	// The child keeps stdout open; the exit is still reported.
	res, err := a.ExecCollect(testCtx(t), ExecOptions{Shell: "sleep 30 & echo $!"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d, stdout %q: %v", res.ExitCode, res.Stdout, err)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
}

func TestBackgroundProcess(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	res, err := a.Exec(ctx, ExecOptions{Argv: []string{"sleep", "100"}, Background: true, Tag: "srv"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pid <= 0 || res.Tag != "srv" {
		t.Fatalf("background start: %+v", res)
	}
	procs, err := a.ListProcesses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0].Pid != res.Pid || procs[0].Tag != "srv" || !procs[0].Running || !procs[0].Background || procs[0].Cmd[0] != "sleep" {
		t.Fatalf("ListProcesses: %+v", procs)
	}
	_, err = a.Exec(ctx, ExecOptions{Argv: []string{"true"}, Background: true, Tag: "srv"}, nil, nil)
	wantCode(t, err, codes.AlreadyExists, "srv")

	if pid, err := a.Signal(ctx, Target{Tag: "srv"}, syscall.SIGTERM); err != nil || pid != res.Pid {
		t.Fatalf("signal srv: pid %d, %v", pid, err)
	}
	waitFor(t, 5*time.Second, "the background process to exit", func() (bool, string) {
		procs, err := a.ListProcesses(ctx)
		if err != nil || len(procs) != 1 {
			return false, err.Error()
		}
		p := procs[0]
		return !p.Running && p.Exit != nil && p.Exit.Signal == int(syscall.SIGTERM) && p.Exit.ExitCode == 143, ""
	})
	_, err = a.Signal(ctx, Target{Tag: "srv"}, syscall.SIGTERM)
	wantCode(t, err, codes.NotFound, "srv")
	_, err = a.Signal(ctx, Target{Pid: res.Pid}, syscall.SIGTERM)
	wantCode(t, err, codes.NotFound, strconv.Itoa(res.Pid))
	_, err = a.Signal(ctx, Target{Pid: res.Pid}, syscall.Signal(99))
	wantCode(t, err, codes.InvalidArgument, "99")
}

func TestBackgroundTimeout(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	res, err := a.Exec(ctx, ExecOptions{Shell: "sleep 100", Background: true, Timeout: 100 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the background process to time out", func() (bool, string) {
		procs, _ := a.ListProcesses(ctx)
		for _, p := range procs {
			if p.Pid == res.Pid && p.Exit != nil {
				return p.Exit.TimedOut, ""
			}
		}
		return false, ""
	})
}

// TestExecConcurrentStatuses: many short processes at once, each exit code
// reaches its own caller (no status is lost or crossed).
func TestExecConcurrentStatuses(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.ExecCollect(ctx, ExecOptions{Shell: "echo " + strconv.Itoa(i) + "; exit " + strconv.Itoa(i)})
			if err != nil || res.ExitCode != i || strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(i) {
				errs <- "exec " + strconv.Itoa(i) + ": " + strconv.Itoa(res.ExitCode) + " " + string(res.Stdout) + " " + errString(err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
