package node_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
	processpb "github.com/warrenhq/warren/proto/e2b/process"
)

// TestEnvdThroughOtherNode: envd calls sent to the node that does not run
// the sandbox reach its agent through the relay (Exec, Attach, WriteStdin,
// Resize, Watch and the watcher trio), and the host form
// 49983-<id>.localhost works there too.
func TestEnvdThroughOtherNode(t *testing.T) {
	t.Parallel()
	// The entry node is drained, so the sandbox runs on the other one and
	// every envd call crosses the cluster.
	via, owner, a := ownerPair(t)
	sb := a.create(t, nil)
	if sb.NodeID != owner.ID.String() {
		t.Fatalf("sandbox %s on %s, want the owner %s", sb.ID, sb.NodeID, owner.ID)
	}
	t.Logf("sandbox %s runs on %s; envd calls go through %s", sb.ID, sb.NodeID, via.ID)
	c := newEnvd(via, sb.ID, envdToken(t, via, sb.ID), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Start with stdin, detach, Connect again, then feed and close stdin.
	yes := true
	sctx, scancel := context.WithCancel(ctx)
	_, first := c.start(t, sctx, &processpb.StartRequest{Process: shCmd("echo ready; while read l; do echo got:$l; done; echo eof"), Stdin: &yes},
		func(o *procOutput) bool { return contains(o.stdout, "ready\n") })
	scancel()
	sel := &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: first.pid}}
	s, err := c.proc.Connect(ctx, connect.NewRequest(&processpb.ConnectRequest{Process: sel}))
	if err != nil {
		t.Fatal(err)
	}
	msg := func() *processpb.ProcessEvent { return s.Msg().GetEvent() }
	if !s.Receive() || msg().GetStart().GetPid() != first.pid {
		t.Fatalf("connect: %v %v", s.Msg(), s.Err())
	}
	if _, err := c.proc.SendInput(ctx, connect.NewRequest(&processpb.SendInputRequest{Process: sel, Input: &processpb.ProcessInput{Input: &processpb.ProcessInput_Stdin{Stdin: []byte("one\n")}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.proc.CloseStdin(ctx, connect.NewRequest(&processpb.CloseStdinRequest{Process: sel})); err != nil {
		t.Fatal(err)
	}
	if out := readEvents(t, s, msg, nil); out.stdout != "got:one\neof\n" || out.end.GetExitCode() != 0 {
		t.Fatalf("through the relay: %+v", out)
	}

	// PTY resize.
	p, err := c.proc.Start(ctx, connect.NewRequest(&processpb.StartRequest{
		Process: &processpb.ProcessConfig{Cmd: "/bin/sh", Args: []string{"-c", "stty size; read x; stty size"}},
		Pty:     &processpb.PTY{Size: &processpb.PTY_Size{Rows: 10, Cols: 20}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	pmsg := func() *processpb.ProcessEvent { return p.Msg().GetEvent() }
	po := readEvents(t, p, pmsg, func(o *procOutput) bool { return contains(o.pty, "10 20") })
	psel := &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: po.pid}}
	if _, err := c.proc.Update(ctx, connect.NewRequest(&processpb.UpdateRequest{Process: psel, Pty: &processpb.PTY{Size: &processpb.PTY_Size{Rows: 30, Cols: 40}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.proc.SendInput(ctx, connect.NewRequest(&processpb.SendInputRequest{Process: psel, Input: &processpb.ProcessInput{Input: &processpb.ProcessInput_Pty{Pty: []byte("\n")}}})); err != nil {
		t.Fatal(err)
	}
	if rest := readEvents(t, p, pmsg, nil); !contains(rest.pty, "30 40") {
		t.Fatalf("pty through the relay: %+v", rest)
	}

	// A streamed watch and the polled trio.
	if _, err := c.fs.MakeDir(ctx, connect.NewRequest(&filesystempb.MakeDirRequest{Path: "/tmp/cw"})); err != nil {
		t.Fatal(err)
	}
	w, err := c.fs.WatchDir(ctx, connect.NewRequest(&filesystempb.WatchDirRequest{Path: "/tmp/cw"}))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Receive() || w.Msg().GetStart() == nil {
		t.Fatalf("watch start: %v %v", w.Msg(), w.Err())
	}
	cw, err := c.fs.CreateWatcher(ctx, connect.NewRequest(&filesystempb.CreateWatcherRequest{Path: "/tmp/cw"}))
	if err != nil {
		t.Fatal(err)
	}
	c.upload(t, "", map[string][]byte{"/tmp/cw/f": []byte("x")})
	for w.Receive() && w.Msg().GetFilesystem().GetName() != "f" {
	}
	if w.Msg().GetFilesystem().GetName() != "f" {
		t.Fatalf("no watch event through the relay: %v", w.Err())
	}
	got := false
	for deadline := time.Now().Add(10 * time.Second); !got && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r, err := c.fs.GetWatcherEvents(ctx, connect.NewRequest(&filesystempb.GetWatcherEventsRequest{WatcherId: cw.Msg.GetWatcherId()}))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.Msg.GetEvents() {
			got = got || (ev.GetName() == "f" && ev.GetType() == filesystempb.EventType_EVENT_TYPE_CREATE)
		}
	}
	if !got {
		t.Fatal("no polled watcher event through the relay")
	}
	if _, err := c.fs.RemoveWatcher(ctx, connect.NewRequest(&filesystempb.RemoveWatcherRequest{WatcherId: cw.Msg.GetWatcherId()})); err != nil {
		t.Fatal(err)
	}

	// The host form: no E2B headers, the sandbox in the Host.
	req, _ := http.NewRequest("POST", via.URL+"/filesystem.Filesystem/Stat", bytes.NewReader([]byte(`{"path":"/tmp/cw/f"}`)))
	req.Host = "49983-" + sb.ID + ".localhost"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Access-Token", envdToken(t, via, sb.ID))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !contains(string(body), `"path":"/tmp/cw/f"`) {
		t.Fatalf("host form: %d %s", res.StatusCode, body)
	}
}
