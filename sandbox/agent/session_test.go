package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// startStream starts st with Exec and returns the stream after `started`.
func startStream(t *testing.T, ctx context.Context, a *testAgent, st *agentv1.ExecStart) (agentv1.Agent_ExecClient, int32) {
	t.Helper()
	stream, err := a.Raw().Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Start{Start: st}}); err != nil {
		t.Fatal(err)
	}
	m, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if m.GetStarted() == nil {
		t.Fatalf("first message %v, want started", m)
	}
	return stream, m.GetStarted().Pid
}

type recvStream interface {
	Recv() (*agentv1.ExecResponse, error)
}

// collect reads output until the exit (or until want appears in the
// output, when want is not empty) and returns it.
func collect(t *testing.T, s recvStream, want string) (string, *agentv1.ExecExit) {
	t.Helper()
	var out strings.Builder
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("recv after %q: %v", out.String(), err)
		}
		out.Write(m.GetStdout())
		out.Write(m.GetStderr())
		out.Write(m.GetPty())
		if m.GetExit() != nil {
			return out.String(), m.GetExit()
		}
		if want != "" && strings.Contains(out.String(), want) {
			return out.String(), nil
		}
	}
}

func pidRef(pid int32) *agentv1.ProcessRef {
	return &agentv1.ProcessRef{Target: &agentv1.ProcessRef_Pid{Pid: pid}}
}

// A keep_running process survives its Exec stream, can be attached to (new
// output only), fed stdin by pid, and its stdin closed.
func TestKeepRunningAttachAndStdin(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	sctx, cancel := context.WithCancel(ctx)
	_, pid := startStream(t, sctx, a, &agentv1.ExecStart{
		Shell: "echo ready; while read l; do echo got:$l; done; echo eof", Stdin: true, KeepRunning: true, Tag: "reader",
	})
	cancel() // detach: the process must keep running
	time.Sleep(100 * time.Millisecond)
	procs, err := a.ListProcesses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range procs {
		if p.Pid == int(pid) && p.Running {
			found = true
		}
	}
	if !found {
		t.Fatalf("pid %d not running after its stream ended: %+v", pid, procs)
	}

	att, err := a.Raw().Attach(ctx, &agentv1.AttachRequest{Process: &agentv1.ProcessRef{Target: &agentv1.ProcessRef_Tag{Tag: "reader"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := att.Recv(); err != nil || m.GetStarted().GetPid() != pid {
		t.Fatalf("attach first message %v, %v; want started pid %d", m, err, pid)
	}
	if _, err := a.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: pidRef(pid), Data: []byte("one\n")}); err != nil {
		t.Fatal(err)
	}
	if out, _ := collect(t, att, "got:one\n"); strings.Contains(out, "ready") {
		t.Fatalf("attach saw output from before it attached: %q", out)
	}
	if _, err := a.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: pidRef(pid), Data: []byte("two\n"), Close: true}); err != nil {
		t.Fatal(err)
	}
	out, exit := collect(t, att, "")
	if out != "got:two\neof\n" || exit.ExitCode != 0 {
		t.Fatalf("after close: output %q exit %v", out, exit)
	}
	_, err = a.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: pidRef(pid), Data: []byte("x")})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("WriteStdin to an exited process: %v, want NotFound", err)
	}
}

// Without keep_running the stream's end still kills the process; stdin to
// a process started without stdin is refused; attaching is bounded.
func TestAttachLimitsAndRefusals(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	_, pid := startStream(t, ctx, a, &agentv1.ExecStart{Shell: "sleep 30", KeepRunning: true})
	defer a.Raw().Signal(ctx, &agentv1.SignalRequest{Target: &agentv1.SignalRequest_Pid{Pid: pid}, Signal: 9})
	_, err := a.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: pidRef(pid), Data: []byte("x")})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("WriteStdin without stdin: %v, want FailedPrecondition", err)
	}
	var streams []agentv1.Agent_AttachClient
	for i := 0; i <= maxAttach; i++ {
		s, err := a.Raw().Attach(ctx, &agentv1.AttachRequest{Process: pidRef(pid)})
		if err == nil {
			_, err = s.Recv()
		}
		if i < maxAttach && err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		if i == maxAttach && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("attach %d: %v, want ResourceExhausted", i, err)
		}
		streams = append(streams, s)
	}
	missing, err := a.Raw().Attach(ctx, &agentv1.AttachRequest{Process: pidRef(1 << 22)})
	if err == nil {
		_, err = missing.Recv()
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("attach to an unknown pid: %v, want NotFound", err)
	}
	_, err = a.Raw().Resize(ctx, &agentv1.ResizeRequest{Process: pidRef(pid), Size: &agentv1.PtySize{Rows: 1, Cols: 1}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("resize of a non-pty process: %v, want FailedPrecondition", err)
	}

	// Plain foreground: cancelling the stream kills it.
	sctx, cancel := context.WithCancel(ctx)
	_, fpid := startStream(t, sctx, a, &agentv1.ExecStart{Shell: "sleep 30"})
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs, err := a.ListProcesses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		running := false
		for _, p := range procs {
			running = running || (p.Pid == int(fpid) && p.Running)
		}
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running after its stream was cancelled", fpid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A PTY process sees a terminal of the requested size, resizable; input
// goes through the terminal.
func TestPTYStartResize(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	stream, pid := startStream(t, ctx, a, &agentv1.ExecStart{
		Shell:       "stty size; read x; stty size; tty -s && echo is-a-tty",
		Pty:         &agentv1.PtySize{Rows: 24, Cols: 80},
		KeepRunning: true,
	})
	collect(t, stream, "24 80")
	if _, err := a.Raw().Resize(ctx, &agentv1.ResizeRequest{Process: pidRef(pid), Size: &agentv1.PtySize{Rows: 50, Cols: 132}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Raw().WriteStdin(ctx, &agentv1.WriteStdinRequest{Process: pidRef(pid), Data: []byte("go\n")}); err != nil {
		t.Fatal(err)
	}
	out, exit := collect(t, stream, "")
	if !strings.Contains(out, "50 132") || !strings.Contains(out, "is-a-tty") || exit.ExitCode != 0 {
		t.Fatalf("after resize: output %q exit %v", out, exit)
	}
	_, err := a.Raw().Resize(ctx, &agentv1.ResizeRequest{Process: pidRef(pid), Size: &agentv1.PtySize{Rows: 50, Cols: 132}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("resize after exit: %v, want NotFound", err)
	}
	_, err = a.ExecCollect(ctx, ExecOptions{Shell: "true"})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := a.Raw().Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = bad.Send(&agentv1.ExecRequest{Msg: &agentv1.ExecRequest_Start{Start: &agentv1.ExecStart{Shell: "true", Pty: &agentv1.PtySize{}}}})
	if _, err := bad.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("pty 0x0: %v, want InvalidArgument", err)
	}
}
