package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/db"
)

// countLines counts the lines of a file the sandbox writes, read from the host
// through the sandbox's rootfs mount (exec is refused while paused).
func countLines(t *testing.T, dataDir, sb, path string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "sandboxes", sb, "rootfs", path))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// TestSandboxLifecycle: pause and resume, TTL expiry and extension, and a
// destroy that leaves nothing on the host.
func TestSandboxLifecycle(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	prefix := hostPrefix(t, n.DataDir)

	t.Run("pause and resume", func(t *testing.T) {
		t.Parallel()
		sb := a.create(t, nil)
		a.sh(t, sb.ID, `sh -c 'while true; do date +%s%N >> /tmp/c; sleep 0.1; done' >/dev/null 2>&1 &`)
		time.Sleep(500 * time.Millisecond)
		if c := countLines(t, n.DataDir, sb.ID, "/tmp/c"); c < 2 {
			t.Fatalf("the counter is not counting: %d lines", c)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"paused"`) {
			t.Fatalf("pause: %s", r)
		}
		paused := countLines(t, n.DataDir, sb.ID, "/tmp/c")
		r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "echo hi"})
		if r.status != 409 || !strings.Contains(r.apiErr(t).Error.Message, "paused") {
			t.Fatalf("exec while paused: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 409 {
			t.Fatalf("pausing a paused sandbox: %s", r)
		}
		time.Sleep(time.Second)
		if c := countLines(t, n.DataDir, sb.ID, "/tmp/c"); c != paused {
			t.Fatalf("the counter moved from %d to %d while paused", paused, c)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"running"`) {
			t.Fatalf("resume: %s", r)
		}
		time.Sleep(500 * time.Millisecond)
		if c := countLines(t, n.DataDir, sb.ID, "/tmp/c"); c < paused+2 {
			t.Fatalf("the counter did not continue after resume: %d → %d", paused, c)
		}
		if out := a.sh(t, sb.ID, "echo hi"); out != "hi\n" {
			t.Fatalf("exec after resume: %q", out)
		}
	})

	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		short := a.create(t, map[string]any{"timeout_sec": 2})
		long := a.create(t, map[string]any{"timeout_sec": 2})
		if short.ExpiresAt == nil || long.ExpiresAt == nil {
			t.Fatalf("no expires_at: %+v %+v", short, long)
		}
		r := a.do(t, "POST", "/v1/sandboxes/"+long.ID+"/timeout", map[string]any{"timeout_sec": 60})
		var ext sandboxJSON
		r.decode(t, &ext)
		if r.status != 200 || ext.ExpiresAt == nil || ext.ExpiresAt.Sub(*long.ExpiresAt) < 50*time.Second {
			t.Fatalf("extending the timeout: %s", r)
		}
		objs := sandboxHostObjects(t, n.DataDir, prefix, short.ID)
		if !objs.complete() {
			t.Fatalf("a running sandbox's host objects are incomplete: %s", objs)
		}
		a.waitStatus(t, short.ID, "expired", 10*time.Second)
		marked := time.Since(*short.ExpiresAt)
		// The row turns expired first, then the teardown runs: wait for the
		// host objects to go, and measure the kill against the deadline.
		for !sandboxHostObjects(t, n.DataDir, prefix, short.ID).empty() || len(alive(objs.Procs)) > 0 {
			if time.Since(*short.ExpiresAt) > 10*time.Second {
				t.Fatalf("10 s after expiry the sandbox still holds %s, processes %v", sandboxHostObjects(t, n.DataDir, prefix, short.ID), alive(objs.Procs))
			}
			time.Sleep(20 * time.Millisecond)
		}
		gone := time.Since(*short.ExpiresAt)
		t.Logf("after the deadline: marked expired at +%s, everything freed at +%s", marked, gone)
		if gone > 2*time.Second {
			t.Fatalf("the sandbox was freed %s after its deadline", gone)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+short.ID+"/exec", map[string]any{"cmd": "true"}); r.status != 409 {
			t.Fatalf("exec in an expired sandbox: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+short.ID+"/timeout", map[string]any{"timeout_sec": 60}); r.status != 409 {
			t.Fatalf("extending an expired sandbox: %s", r)
		}
		// The extended one outlives its first deadline.
		time.Sleep(time.Until(long.ExpiresAt.Add(1500 * time.Millisecond)))
		if st := a.get(t, long.ID).Status; st != "running" {
			t.Fatalf("the extended sandbox is %s after its original deadline", st)
		}
		if out := a.sh(t, long.ID, "echo still"); out != "still\n" {
			t.Fatalf("exec in the extended sandbox: %q", out)
		}
	})

	t.Run("destroy", func(t *testing.T) {
		t.Parallel()
		sb := a.create(t, nil)
		a.sh(t, sb.ID, "sleep 600 >/dev/null 2>&1 & echo data > /home/user/f")
		objs := sandboxHostObjects(t, n.DataDir, prefix, sb.ID)
		if !objs.complete() || len(objs.Procs) < 2 {
			t.Fatalf("a running sandbox's host objects are incomplete: %s", objs)
		}
		s := time.Now()
		r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"status":"killed"`) {
			t.Fatalf("delete: %s", r)
		}
		t.Logf("destroy took %s", time.Since(s))
		if left := alive(objs.Procs); len(left) > 0 {
			t.Fatalf("processes of the destroyed sandbox remain: %v", left)
		}
		if h := sandboxHostObjects(t, n.DataDir, prefix, sb.ID); !h.empty() {
			t.Fatalf("the destroyed sandbox left %s", h)
		}
		if _, err := os.Stat(filepath.Join(n.DataDir, "sandboxes", sb.ID)); !os.IsNotExist(err) {
			t.Fatalf("the sandbox directory remains: %v", err)
		}
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 409 {
			t.Fatalf("deleting twice: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 409 {
			t.Fatalf("resuming a killed sandbox: %s", r)
		}
	})
}

// TestSandboxEndedElsewhere: a sandbox whose row another node ended (as the
// leader records a node's sandboxes lost when gossip declares it dead, during
// a partition) is torn down on its node by the reconcile loop, leaving
// nothing behind.
func TestSandboxEndedElsewhere(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sb := a.create(t, nil)
	u := n.ID.UUID()
	if _, err := n.Store().MarkNodeSandboxesLost(t.Context(), db.MarkNodeSandboxesLostParams{NodeID: &u, Error: "the node running this sandbox was lost"}); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 15*time.Second, "the lost sandbox torn down on its node", func() bool {
		_, err := os.Stat(filepath.Join(n.DataDir, "sandboxes", sb.ID))
		left, _ := filepath.Glob("/run/netns/*-" + sb.ID)
		return os.IsNotExist(err) && len(left) == 0
	})
	t.Logf("torn down %s after its row was recorded lost", took)
	if got := a.get(t, sb.ID); got.Status != "lost" {
		t.Fatalf("the row after the teardown: %+v", got)
	}
}
