package agent

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// A signal on the Exec stream of a PTY process reaches the terminal's
// foreground job: an interactive shell (which ignores SIGINT) running
// `sleep` sees the sleep interrupted, and keeps running.
func TestPTYSignalReachesForegroundJob(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	stream, _ := startStream(t, ctx, a, &agentv1.ExecStart{Argv: []string{"/bin/sh", "-i"}, Stdin: true, Pty: &agentv1.PtySize{Rows: 24, Cols: 80}})
	send := func(m *agentv1.ExecRequest) {
		t.Helper()
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: []byte("sleep 100\n")}})
	// Wait until the sleep runs in the terminal's foreground group.
	time.Sleep(300 * time.Millisecond)
	send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Signal{Signal: int32(unix.SIGINT)}})
	send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: []byte("echo rc=$?\n")}})
	collect(t, stream, "rc=130")
	send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Stdin{Stdin: []byte("exit 4\n")}})
	_, exit := collect(t, stream, "")
	if exit.ExitCode != 4 {
		t.Fatalf("shell exit %v, want 4 (the shell must survive the INT)", exit)
	}
}

// When a PTY process ends, what it left running in its terminal session
// (a background job holding the terminal) is killed; a keep_running PTY's
// session is left alone.
func TestPTYEndKillsSession(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	bgPid := func(keep bool) int {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, _ := startStream(t, sctx, a, &agentv1.ExecStart{
			// The job ignores SIGHUP: the hangup of the terminal does
			// not end it, only the sweep of the session does.
			Shell: "trap '' HUP; sleep 100 & echo bg=$!; exit 0", Pty: &agentv1.PtySize{Rows: 24, Cols: 80}, KeepRunning: keep,
		})
		out, exit := collect(t, stream, "")
		if exit.ExitCode != 0 {
			t.Fatalf("exit %v", exit)
		}
		i := strings.Index(out, "bg=")
		if i < 0 {
			t.Fatalf("no bg pid in %q", out)
		}
		pid, err := strconv.Atoi(strings.Fields(out[i+3:])[0])
		if err != nil {
			t.Fatalf("bg pid in %q: %v", out, err)
		}
		return pid
	}
	gone := func(pid int) func() (bool, string) {
		return func() (bool, string) { s := procState(pid); return s == "" || s == "Z", s }
	}
	pid := bgPid(false)
	waitFor(t, 5*time.Second, "the background job of an ended PTY to be killed", gone(pid))

	pid = bgPid(true)
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	time.Sleep(200 * time.Millisecond)
	if s := procState(pid); s == "" || s == "Z" {
		t.Fatalf("the background job of a keep_running PTY is %q, want it running", s)
	}
}
