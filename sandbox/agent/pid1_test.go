package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	pid1SocketEnv = "WARREN_AGENT_TEST_PID1_SOCKET"
	pid1RootEnv   = "WARREN_AGENT_TEST_PID1_ROOT"
)

// startPID1Agent runs this test binary as `warren agent` in a new pid
// namespace, where it is PID 1.
func startPID1Agent(t *testing.T) (*Client, *exec.Cmd) {
	requireRoot(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a race-enabled binary otherwise sleeps 1 s at exit.
	cmd.Env = append(os.Environ(), pid1SocketEnv+"="+sock, pid1RootEnv+"="+t.TempDir(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent in a new pid namespace: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // not waited for by the test
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	c, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Pid != 1 {
		t.Fatalf("agent is not PID 1 in its namespace: %+v, %v", h, err)
	}
	return c, cmd
}

// nsProcesses lists the host pids and states of the processes in the pid
// namespace of hostPid, except hostPid itself.
func nsProcesses(t *testing.T, hostPid int) map[int]string {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", hostPid))
	if err != nil {
		t.Fatalf("pid namespace of %d: %v", hostPid, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == hostPid {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns == want {
			out[pid] = procState(pid)
		}
	}
	return out
}

func TestPID1ReapsOrphansAndKeepsStatuses(t *testing.T) {
	c, cmd := startPID1Agent(t)
	agentPid := cmd.Process.Pid
	ctx := testCtx(t)

	// Each shell leaves orphaned grandchildren (re-parented to the agent)
	// and exits 7; the agent must reap them without stealing the shells'
	// statuses.
	const shells = 6
	var wg sync.WaitGroup
	errs := make(chan error, shells)
	for i := range shells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.ExecCollect(ctx, ExecOptions{
				Shell: fmt.Sprintf(`(sleep 0.%d >/dev/null 2>&1 &); (sh -c "sleep 0.%d >/dev/null 2>&1 &" &); exit 7`, 5+i%3, 4+i%3),
			})
			if err == nil && res.ExitCode != 7 {
				err = fmt.Errorf("shell exit %d, want 7 (stderr %q)", res.ExitCode, res.Stderr)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The orphans are there now (they sleep at least 0.4 s)...
	if n := len(nsProcesses(t, agentPid)); n == 0 {
		t.Fatalf("expected orphaned sleeps in the sandbox's pid namespace, found none")
	}
	// ...and once they exit, nothing remains: no zombies.
	waitFor(t, 10*time.Second, "orphans to exit and be reaped", func() (bool, string) {
		procs := nsProcesses(t, agentPid)
		return len(procs) == 0, fmt.Sprint(procs)
	})
	// Statuses still flow after reaping orphans.
	res, err := c.ExecCollect(ctx, ExecOptions{Shell: "exit 3"})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("exit 3 after reaping: %+v, %v", res.ExecResult, err)
	}
}

func TestPID1ForwardsSIGTERM(t *testing.T) {
	c, cmd := startPID1Agent(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "got-term")
	_, err := c.Exec(ctx, ExecOptions{
		Shell:      fmt.Sprintf(`trap 'echo term > %s; exit 0' TERM; touch %s.ready; while :; do sleep 0.02; done`, marker, marker),
		Background: true,
		Tag:        "trapper",
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the trap to be installed", func() (bool, string) {
		_, err := os.Stat(marker + ".ready")
		return err == nil, fmt.Sprint(err)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v", err)
	}
	got, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(got)) != "term" {
		t.Fatalf("child did not get SIGTERM: %q, %v", got, err)
	}
}
