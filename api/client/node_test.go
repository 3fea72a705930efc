package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func i64(v int64) *int64 { return &v }

// TestAgainstNode exercises the client against a real node: identity, errors
// as the server sends them, sandboxes with pagination, exec (collected and
// streamed), files, builds and nodes.
func TestAgainstNode(t *testing.T) {
	n := nodetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := client.New(n.URL, n.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(ctx)
	if err != nil || !me.Admin || me.APIKey == nil || me.Team.Name != "default" {
		t.Fatalf("me: %+v %v", me, err)
	}
	anon, _ := client.New(n.URL, "wk_nope")
	if _, err := anon.Me(ctx); !client.IsUnauthenticated(err) {
		t.Fatalf("a wrong key: %v", err)
	}
	_, err = c.GetSandbox(ctx, "sb-00000000-0000-0000-0000-000000000000")
	var e *client.Error
	if !errors.As(err, &e) || !client.IsNotFound(err) || e.RequestID == "" || e.Message != "sandbox not found" {
		t.Fatalf("unknown sandbox: %#v", err)
	}
	_, err = c.CreateSandbox(ctx, client.CreateSandbox{Template: "base", TimeoutSec: i64(-1)})
	if !errors.As(err, &e) || !client.IsInvalid(err) || e.Field != "timeout_sec" {
		t.Fatalf("bad timeout: %#v", err)
	}

	var ids []string
	for i := range 3 {
		sb, err := c.CreateSandbox(ctx, client.CreateSandbox{Template: "base", DiskSizeMB: i64(2048),
			Metadata: map[string]string{"suite": "client", "n": string(rune('a' + i))}})
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		ids = append(ids, sb.ID)
		t.Cleanup(func() { _, _ = c.KillSandbox(context.Background(), sb.ID) })
	}
	t.Run("pagination", func(t *testing.T) {
		page, err := c.ListSandboxes(ctx, client.ListSandboxesOptions{Metadata: map[string]string{"suite": "client"}, Limit: 2})
		if err != nil || len(page.Items) != 2 || page.NextCursor == "" {
			t.Fatalf("first page: %+v %v", page, err)
		}
		var seen []string
		for sb, err := range c.Sandboxes(ctx, client.ListSandboxesOptions{Metadata: map[string]string{"suite": "client"}, Limit: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, sb.ID)
		}
		// Newest first.
		if len(seen) != 3 || seen[0] != ids[2] || seen[1] != ids[1] || seen[2] != ids[0] {
			t.Fatalf("iterated %v, created %v", seen, ids)
		}
		one, err := c.ListSandboxes(ctx, client.ListSandboxesOptions{Metadata: map[string]string{"suite": "client", "n": "b"}})
		if err != nil || len(one.Items) != 1 || one.Items[0].ID != ids[1] || one.NextCursor != "" {
			t.Fatalf("metadata filter: %+v %v", one, err)
		}
	})
	sb := ids[0]
	t.Run("exec", func(t *testing.T) {
		res, err := c.Exec(ctx, sb, client.ExecRequest{Cmd: "echo $GREETING; echo oops >&2; exit 3", Env: map[string]string{"GREETING": "hi"}})
		if err != nil || res.Stdout != "hi\n" || res.Stderr != "oops\n" || res.ExitCode != 3 {
			t.Fatalf("exec: %+v %v", res, err)
		}
		var out, errb bytes.Buffer
		var exit client.ExecExit
		got, err := c.ExecStream(ctx, sb, client.ExecRequest{Cmd: "echo out; echo done >&2; exit 5"}, client.ExecHandlers{
			Stdout: func(b []byte) error { out.Write(b); return nil },
			Stderr: func(b []byte) error { errb.Write(b); return nil },
			Exit:   func(x client.ExecExit) { exit = x },
		})
		if err != nil || got.ExitCode != 5 || exit != got || out.String() != "out\n" || errb.String() != "done\n" {
			t.Fatalf("stream: %+v %v, stdout %q, stderr %q", got, err, out.String(), errb.String())
		}
		stop := errors.New("enough")
		_, err = c.ExecStream(ctx, sb, client.ExecRequest{Cmd: "yes"}, client.ExecHandlers{Stdout: func([]byte) error { return stop }})
		if !errors.Is(err, stop) {
			t.Fatalf("a handler's error should end the stream: %v", err)
		}
	})
	t.Run("exec stdin", func(t *testing.T) {
		// The stdin field reaches the command (bounded, so a lost stdin fails fast).
		res, err := c.Exec(ctx, sb, client.ExecRequest{Cmd: "cat", Stdin: "from stdin\n", TimeoutSec: 10})
		if err != nil || res.Stdout != "from stdin\n" || res.TimedOut {
			t.Fatalf("exec with stdin: %+v %v", res, err)
		}
		var out bytes.Buffer
		ex, err := c.ExecStream(ctx, sb, client.ExecRequest{Cmd: "cat", Stdin: "streamed\n", TimeoutSec: 10},
			client.ExecHandlers{Stdout: func(b []byte) error { out.Write(b); return nil }})
		if err != nil || out.String() != "streamed\n" || ex.TimedOut {
			t.Fatalf("exec stream with stdin: %+v %v, stdout %q", ex, err, out.String())
		}
	})
	t.Run("files", func(t *testing.T) {
		data := make([]byte, 1<<20+3)
		_, _ = rand.Read(data)
		var last, total int64
		fi, err := c.Upload(ctx, sb, "/tmp/f/data.bin", bytes.NewReader(data), client.UploadOptions{Size: int64(len(data)), Mode: 0o600,
			Progress: func(done, tot int64) { last, total = done, tot }})
		if err != nil || fi.Size != int64(len(data)) || fi.Mode != "0600" || fi.Type != "file" {
			t.Fatalf("upload: %+v %v", fi, err)
		}
		if last != int64(len(data)) || total != int64(len(data)) {
			t.Fatalf("upload progress ended at %d of %d", last, total)
		}
		// Unknown size streams chunked.
		if _, err := c.Upload(ctx, sb, "/tmp/f/small.txt", strings.NewReader("small"), client.UploadOptions{}); err != nil {
			t.Fatal(err)
		}
		var back bytes.Buffer
		var dl int64
		got, err := c.Download(ctx, sb, "/tmp/f/data.bin", &back, func(done, _ int64) { dl = done })
		if err != nil || got != int64(len(data)) || !bytes.Equal(back.Bytes(), data) || dl != got {
			t.Fatalf("download: %d bytes, progress %d, %v", got, dl, err)
		}
		if _, err := c.Mkdir(ctx, sb, "/tmp/f/sub/deeper"); err != nil {
			t.Fatal(err)
		}
		list, err := c.ListFiles(ctx, sb, "/tmp/f", 1)
		names := map[string]string{}
		for _, f := range list {
			names[f.Name] = f.Type
		}
		if err != nil || names["data.bin"] != "file" || names["small.txt"] != "file" || names["sub"] != "dir" {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := c.Remove(ctx, sb, "/tmp/f/sub", false); !client.IsConflict(err) && !client.IsInvalid(err) {
			t.Fatalf("removing a non-empty dir without recursive: %v", err)
		}
		if err := c.Remove(ctx, sb, "/tmp/f/sub", true); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Stat(ctx, sb, "/tmp/f/sub"); !client.IsNotFound(err) {
			t.Fatalf("stat after remove: %v", err)
		}
	})
	t.Run("lifecycle", func(t *testing.T) {
		if s, err := c.PauseSandbox(ctx, sb); err != nil || s.Status != client.StatusPaused {
			t.Fatalf("pause: %+v %v", s, err)
		}
		if _, err := c.PauseSandbox(ctx, sb); !client.IsConflict(err) {
			t.Fatalf("pausing twice: %v", err)
		}
		if s, err := c.ResumeSandbox(ctx, sb); err != nil || s.Status != client.StatusRunning {
			t.Fatalf("resume: %+v %v", s, err)
		}
		if s, err := c.SetSandboxTimeout(ctx, sb, 900); err != nil || s.ExpiresAt == nil || time.Until(*s.ExpiresAt) < 800*time.Second {
			t.Fatalf("timeout: %+v %v", s, err)
		}
		if s, err := c.KillSandbox(ctx, ids[2]); err != nil || s.Status != client.StatusKilled {
			t.Fatalf("kill: %+v %v", s, err)
		}
	})
	t.Run("templates and nodes", func(t *testing.T) {
		tpls, err := c.ListTemplates(ctx, "")
		if err != nil || len(tpls) == 0 || tpls[0].Name == "" {
			t.Fatalf("templates: %+v %v", tpls, err)
		}
		nodes, err := c.ListNodes(ctx)
		if err != nil || len(nodes.Nodes) != 1 || nodes.Nodes[0].ID != n.ID.String() {
			t.Fatalf("nodes: %+v %v", nodes, err)
		}
	})
}
