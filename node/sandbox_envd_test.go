package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/warrenhq/warren/node/nodetest"
	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
	processpb "github.com/warrenhq/warren/proto/e2b/process"
)

// TestEnvdProcess: E2B's process service against a real node and sandbox
// (busybox: commands.run's /bin/bash falls back to /bin/sh).
func TestEnvdProcess(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	sb := newAPI(n).create(t, nil)
	c := newEnvd(n, sb.ID, envdToken(t, n, sb.ID), "")

	t.Run("streaming output in order, stderr, non-zero exit", func(t *testing.T) {
		out := c.run(t, shCmd("for i in 1 2 3 4 5; do echo $i; sleep 0.05; done; echo oops >&2; exit 3"))
		if out.stdout != "1\n2\n3\n4\n5\n" || out.stderr != "oops\n" || out.pid == 0 {
			t.Fatalf("output %+v", out)
		}
		if len(out.order) < 5 || out.order[0] != "out:1\n" {
			t.Fatalf("stdout did not arrive live, chunk by chunk: %q", out.order)
		}
		if e := out.end; e.GetExitCode() != 3 || !e.GetExited() || e.GetStatus() != "exit status 3" {
			t.Fatalf("end %+v", e)
		}
	})
	t.Run("envs, cwd and users", func(t *testing.T) {
		cfg := shCmd("echo $FOO; pwd; id -u")
		cfg.Envs = map[string]string{"FOO": "bar baz"}
		cwd := "/tmp"
		cfg.Cwd = &cwd
		if out := c.run(t, cfg); out.stdout != "bar baz\n/tmp\n1000\n" || out.end.GetExitCode() != 0 {
			t.Fatalf("default user: %+v", out)
		}
		root := newEnvd(n, sb.ID, envdToken(t, n, sb.ID), "root")
		if out := root.run(t, shCmd("id -u; pwd")); out.stdout != "0\n/root\n" {
			t.Fatalf("root: %+v", out)
		}
		nobody := newEnvd(n, sb.ID, envdToken(t, n, sb.ID), "nosuchuser")
		s, err := nobody.proc.Start(context.Background(), connect.NewRequest(&processpb.StartRequest{Process: shCmd("true")}))
		if err == nil {
			for s.Receive() {
				t.Fatalf("unknown user: got event %v", s.Msg())
			}
			err = s.Err()
		}
		wantCode(t, "unknown user", err, connect.CodeInvalidArgument)
	})
	t.Run("background, list, connect, kill", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tag := "ticker"
		_, first := c.start(t, ctx, &processpb.StartRequest{
			Process: shCmd("i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done"), Tag: &tag,
		}, func(o *procOutput) bool { return contains(o.stdout, "tick1\n") })
		cancel() // disconnect, as a background command's handle does
		list, err := c.proc.List(context.Background(), connect.NewRequest(&processpb.ListRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		var found *processpb.ProcessInfo
		for _, p := range list.Msg.GetProcesses() {
			if p.GetPid() == first.pid {
				found = p
			}
		}
		if found == nil || found.GetTag() != tag || found.GetConfig().GetCmd() != "/bin/sh" || found.GetConfig().GetArgs()[0] != "-l" {
			t.Fatalf("list: %v, want pid %d with tag %q", list.Msg.GetProcesses(), first.pid, tag)
		}
		// Connect again: new output only, from the same process.
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		s, err := c.proc.Connect(cctx, connect.NewRequest(&processpb.ConnectRequest{Process: &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: first.pid}}}))
		if err != nil {
			t.Fatal(err)
		}
		again := readEvents(t, s, func() *processpb.ProcessEvent { return s.Msg().GetEvent() }, func(o *procOutput) bool {
			return strings.Count(o.stdout, "\n") >= 3
		})
		if again.pid != first.pid || strings.HasPrefix(again.stdout, "tick1\n") {
			t.Fatalf("connect: pid %d output %q (first pid %d)", again.pid, again.stdout, first.pid)
		}
		if _, err := c.proc.SendSignal(context.Background(), connect.NewRequest(&processpb.SendSignalRequest{
			Process: &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Tag{Tag: tag}}, Signal: processpb.Signal_SIGNAL_SIGKILL,
		})); err != nil {
			t.Fatal(err)
		}
		end := readEvents(t, s, func() *processpb.ProcessEvent { return s.Msg().GetEvent() }, nil).end
		if end.GetExited() || end.GetExitCode() != -1 || end.GetStatus() != "signal: killed" {
			t.Fatalf("end after SIGKILL: %+v", end)
		}
		_, err = c.proc.SendSignal(context.Background(), connect.NewRequest(&processpb.SendSignalRequest{
			Process: &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: first.pid}}, Signal: processpb.Signal_SIGNAL_SIGKILL,
		}))
		wantCode(t, "kill an exited process", err, connect.CodeNotFound)
	})
	t.Run("stdin: send input, close stdin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		yes := true
		s, err := c.proc.Start(ctx, connect.NewRequest(&processpb.StartRequest{Process: shCmd("echo ready; while read l; do echo got:$l; done; echo eof"), Stdin: &yes}))
		if err != nil {
			t.Fatal(err)
		}
		msg := func() *processpb.ProcessEvent { return s.Msg().GetEvent() }
		out := readEvents(t, s, msg, func(o *procOutput) bool { return contains(o.stdout, "ready\n") })
		sel := &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: out.pid}}
		if _, err := c.proc.SendInput(ctx, connect.NewRequest(&processpb.SendInputRequest{Process: sel, Input: &processpb.ProcessInput{Input: &processpb.ProcessInput_Stdin{Stdin: []byte("one\n")}}})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.proc.CloseStdin(ctx, connect.NewRequest(&processpb.CloseStdinRequest{Process: sel})); err != nil {
			t.Fatal(err)
		}
		rest := readEvents(t, s, msg, nil)
		if rest.stdout != "got:one\neof\n" || rest.end.GetExitCode() != 0 {
			t.Fatalf("after stdin: %+v", rest)
		}
	})
	t.Run("pty start and resize", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := c.proc.Start(ctx, connect.NewRequest(&processpb.StartRequest{
			Process: &processpb.ProcessConfig{Cmd: "/bin/sh", Args: []string{"-c", "stty size; read x; stty size"}},
			Pty:     &processpb.PTY{Size: &processpb.PTY_Size{Rows: 24, Cols: 80}},
		}))
		if err != nil {
			t.Fatal(err)
		}
		msg := func() *processpb.ProcessEvent { return s.Msg().GetEvent() }
		out := readEvents(t, s, msg, func(o *procOutput) bool { return contains(o.pty, "24 80") })
		sel := &processpb.ProcessSelector{Selector: &processpb.ProcessSelector_Pid{Pid: out.pid}}
		if _, err := c.proc.Update(ctx, connect.NewRequest(&processpb.UpdateRequest{Process: sel, Pty: &processpb.PTY{Size: &processpb.PTY_Size{Rows: 50, Cols: 132}}})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.proc.SendInput(ctx, connect.NewRequest(&processpb.SendInputRequest{Process: sel, Input: &processpb.ProcessInput{Input: &processpb.ProcessInput_Pty{Pty: []byte("go\n")}}})); err != nil {
			t.Fatal(err)
		}
		rest := readEvents(t, s, msg, nil)
		if !contains(rest.pty, "50 132") || rest.stdout != "" || rest.end.GetExitCode() != 0 {
			t.Fatalf("after resize: %+v", rest)
		}
	})
}

// TestEnvdFilesystem: E2B's filesystem service and /files against a real
// node and sandbox.
func TestEnvdFilesystem(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	sb := newAPI(n).create(t, nil)
	c := newEnvd(n, sb.ID, envdToken(t, n, sb.ID), "")
	ctx := context.Background()

	t.Run("make dir, list with depth, move, remove", func(t *testing.T) {
		r, err := c.fs.MakeDir(ctx, connect.NewRequest(&filesystempb.MakeDirRequest{Path: "/tmp/e/sub"}))
		if err != nil {
			t.Fatal(err)
		}
		if e := r.Msg.GetEntry(); e.GetType() != filesystempb.FileType_FILE_TYPE_DIRECTORY || e.GetOwner() != "user" || e.GetPermissions() != "drwxr-xr-x" {
			t.Fatalf("made %+v", e)
		}
		_, err = c.fs.MakeDir(ctx, connect.NewRequest(&filesystempb.MakeDirRequest{Path: "/tmp/e/sub"}))
		wantCode(t, "make an existing dir", err, connect.CodeAlreadyExists)
		c.upload(t, "", map[string][]byte{"/tmp/e/a.txt": []byte("A"), "/tmp/e/sub/b.txt": []byte("BB")})
		names := func(depth uint32) []string {
			r, err := c.fs.ListDir(ctx, connect.NewRequest(&filesystempb.ListDirRequest{Path: "/tmp/e", Depth: depth}))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range r.Msg.GetEntries() {
				out = append(out, e.GetPath())
			}
			return out
		}
		if got := strings.Join(names(1), ","); got != "/tmp/e/a.txt,/tmp/e/sub" {
			t.Fatalf("depth 1: %s", got)
		}
		if got := strings.Join(names(2), ","); got != "/tmp/e/a.txt,/tmp/e/sub,/tmp/e/sub/b.txt" {
			t.Fatalf("depth 2: %s", got)
		}
		mv, err := c.fs.Move(ctx, connect.NewRequest(&filesystempb.MoveRequest{Source: "/tmp/e/a.txt", Destination: "/tmp/e/sub/c.txt"}))
		if err != nil || mv.Msg.GetEntry().GetSize() != 1 || mv.Msg.GetEntry().GetPath() != "/tmp/e/sub/c.txt" {
			t.Fatalf("move: %v %v", mv, err)
		}
		if _, err := c.stat(t, "/tmp/e/a.txt"); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("stat after move: %v", err)
		}
		// Relative paths are the user's home.
		c.upload(t, "", map[string][]byte{"rel.txt": []byte("r")})
		if e, err := c.stat(t, "/home/user/rel.txt"); err != nil || e.GetOwner() != "user" || e.GetGroup() != "user" {
			t.Fatalf("relative upload: %+v %v", e, err)
		}
		if _, err := c.fs.Remove(ctx, connect.NewRequest(&filesystempb.RemoveRequest{Path: "/tmp/e"})); err != nil {
			t.Fatal(err)
		}
		_, err = c.stat(t, "/tmp/e")
		wantCode(t, "stat after remove", err, connect.CodeNotFound)
	})
	t.Run("watch dir event", func(t *testing.T) {
		if _, err := c.fs.MakeDir(ctx, connect.NewRequest(&filesystempb.MakeDirRequest{Path: "/tmp/w"})); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := c.fs.WatchDir(wctx, connect.NewRequest(&filesystempb.WatchDirRequest{Path: "/tmp/w", IncludeEntry: true}))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Receive() || s.Msg().GetStart() == nil {
			t.Fatalf("first watch event %v, %v", s.Msg(), s.Err())
		}
		c.upload(t, "", map[string][]byte{"/tmp/w/new.txt": []byte("x")})
		for s.Receive() {
			if ev := s.Msg().GetFilesystem(); ev.GetName() == "new.txt" && ev.GetType() == filesystempb.EventType_EVENT_TYPE_CREATE {
				return
			}
		}
		t.Fatalf("no create event for new.txt: %v", s.Err())
	})
	t.Run("upload and download 5 MiB binary", func(t *testing.T) {
		data := make([]byte, 5<<20)
		rand.Read(data)
		if got := c.upload(t, "", map[string][]byte{"/tmp/big.bin": data}); len(got) != 1 || got[0]["path"] != "/tmp/big.bin" || got[0]["type"] != "file" {
			t.Fatalf("upload answer %v", got)
		}
		if back := c.download(t, "/tmp/big.bin"); sha256.Sum256(back) != sha256.Sum256(data) {
			t.Fatalf("download: %d bytes, not what was uploaded", len(back))
		}
		// The octet-stream form (envd >= 0.5.7), as root.
		code, body := c.filesReq(t, "POST", url.Values{"path": {"/tmp/big2.bin"}, "username": {"root"}}, bytes.NewReader(data), "application/octet-stream")
		if code != 200 {
			t.Fatalf("octet-stream upload: %d %s", code, body)
		}
		if e, err := c.stat(t, "/tmp/big2.bin"); err != nil || e.GetSize() != 5<<20 || e.GetOwner() != "root" {
			t.Fatalf("stat %+v %v", e, err)
		}
		if code, body := c.filesReq(t, "GET", url.Values{"path": {"/tmp/nope"}}, nil, ""); code != 404 || !contains(string(body), `"code":404`) {
			t.Fatalf("download missing: %d %s", code, body)
		}
	})
}

// TestEnvdRefusals: bad tokens, another team's sandbox and malformed
// Connect frames get clear errors.
func TestEnvdRefusals(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sb := a.create(t, nil)
	other := (&api{url: n.URL, key: a.teamKey(t, "envdother")}).create(t, nil)
	ctx := context.Background()
	try := func(c *envdClient) error {
		_, err := c.fs.Stat(ctx, connect.NewRequest(&filesystempb.StatRequest{Path: "/"}))
		return err
	}
	wantCode(t, "bad token", try(newEnvd(n, sb.ID, "not-a-token", "")), connect.CodeUnauthenticated)
	wantCode(t, "no token", try(newEnvd(n, sb.ID, "", "")), connect.CodeUnauthenticated)
	// This sandbox's token on another team's sandbox.
	wantCode(t, "another team's sandbox", try(newEnvd(n, other.ID, envdToken(t, n, sb.ID), "")), connect.CodeUnauthenticated)
	wantCode(t, "bad sandbox id", try(newEnvd(n, "sb-nope", envdToken(t, n, sb.ID), "")), connect.CodeInvalidArgument)
	bad := newEnvd(n, other.ID, envdToken(t, n, sb.ID), "")
	s, err := bad.proc.Start(ctx, connect.NewRequest(&processpb.StartRequest{Process: shCmd("true")}))
	if err == nil {
		s.Receive()
		err = s.Err()
	}
	wantCode(t, "stream with another sandbox's token", err, connect.CodeUnauthenticated)
	if code, _ := bad.filesReq(t, "GET", url.Values{"path": {"/etc/passwd"}}, nil, ""); code != 401 {
		t.Fatalf("/files with another sandbox's token: %d", code)
	}
	good := newEnvd(n, sb.ID, envdToken(t, n, sb.ID), "")
	if err := try(good); err != nil {
		t.Fatalf("positive control: %v", err)
	}

	raw := func(path, ct string, body []byte) (int, string) {
		req, _ := http.NewRequest("POST", n.URL+path, bytes.NewReader(body))
		for k, v := range good.headers {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Connect-Protocol-Version", "1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	if code, body := raw("/filesystem.Filesystem/Stat", "application/json", []byte("{not json")); code != 400 || !contains(body, `"code":"invalid_argument"`) {
		t.Fatalf("malformed unary JSON: %d %s", code, body)
	}
	// A frame header announcing more bytes than follow.
	frame := append([]byte{0, 0, 0, 1, 0}, []byte(`{"process":{}}`)...)
	if code, body := raw("/process.Process/Start", "application/connect+json", frame); code != 200 || !contains(body, `"code":"invalid_argument"`) {
		t.Fatalf("truncated stream frame: %d %q", code, body)
	}
	if code, body := raw("/process.Process/Start", "application/connect+json", []byte{0, 0, 0, 0, 5, '{', '"', 'x', '"', '}'}); code != 200 || !contains(body, `"code":"invalid_argument"`) {
		t.Fatalf("bad stream message: %d %q", code, body)
	}
}
