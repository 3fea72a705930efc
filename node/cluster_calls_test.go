package node_test

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// TestClusterSandboxCalls serves every call on a sandbox through a node that
// does not run it: the entry node sends them to the owner over node-to-node
// gRPC (the agent relayed, ports as a byte stream), and the answers are the
// ones a single node gives.
func TestClusterSandboxCalls(t *testing.T) {
	entry, owner, a := ownerPair(t)
	sb := a.create(t, map[string]any{"memory_mb": 128})
	if sb.NodeID != owner.ID.String() {
		t.Fatalf("placed on %s, want %s (node %s is drained)", sb.NodeID, owner.ID, entry.ID)
	}

	t.Run("exec", func(t *testing.T) {
		if out := a.sh(t, sb.ID, "echo hi; echo err >&2"); out != "hi\n" {
			t.Fatalf("exec: %q", out)
		}
		ex := a.exec(t, sb.ID, "exit 3", 10)
		if ex.ExitCode != 3 {
			t.Fatalf("exit code through the owner: %+v", ex)
		}
		r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "cat", "stdin": "piped through two nodes"})
		var got execResult
		r.decode(t, &got)
		if r.status != 200 || got.Stdout != "piped through two nodes" {
			t.Fatalf("stdin through the owner: %s", r)
		}
	})
	t.Run("exec stream", func(t *testing.T) { checkExecStream(t, a, sb.ID) })
	t.Run("files", func(t *testing.T) {
		payload := make([]byte, 3<<20+17)
		rand.Read(payload)
		if put := rawCall(t, a, "PUT", "/v1/sandboxes/"+sb.ID+"/files?path=/tmp/d/blob", payload); put.status != 200 {
			t.Fatalf("upload: %s", put)
		}
		get := rawCall(t, a, "GET", "/v1/sandboxes/"+sb.ID+"/files?path=/tmp/d/blob", nil)
		if get.status != 200 || !bytes.Equal(get.body, payload) {
			t.Fatalf("download: %d, %d bytes", get.status, len(get.body))
		}
		r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/files/list?path=/tmp/d", nil)
		if r.status != 200 || !strings.Contains(string(r.body), "blob") {
			t.Fatalf("list: %s", r)
		}
		// The agent's own answers pass through unchanged.
		if r := rawCall(t, a, "GET", "/v1/sandboxes/"+sb.ID+"/files?path=/no/such/file", nil); r.status != 404 {
			t.Fatalf("a missing file: %s", r)
		}
	})
	t.Run("ports proxy", func(t *testing.T) { checkPortsProxy(t, a, sb.ID) })
	t.Run("ports proxy upgrade", func(t *testing.T) { checkPortsUpgrade(t, a, sb.ID) })
	t.Run("pause and resume", func(t *testing.T) {
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 200 {
			t.Fatalf("pause: %s", r)
		}
		if st := a.get(t, sb.ID).Status; st != "paused" {
			t.Fatalf("after pause: %s", st)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "true"}); r.status != http.StatusConflict {
			t.Fatalf("exec on a paused sandbox: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != http.StatusConflict {
			t.Fatalf("pausing twice: %s", r)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 200 {
			t.Fatalf("resume: %s", r)
		}
		if out := a.sh(t, sb.ID, "echo back"); out != "back\n" {
			t.Fatalf("exec after resume: %q", out)
		}
	})
	t.Run("snapshot", func(t *testing.T) { checkSnapshot(t, a, sb.ID, owner.DataDir) })
	t.Run("kill", func(t *testing.T) {
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 200 {
			t.Fatalf("kill: %s", r)
		}
		if st := a.get(t, sb.ID).Status; st != "killed" {
			t.Fatalf("after kill: %s", st)
		}
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != http.StatusConflict {
			t.Fatalf("killing twice: %s", r)
		}
		// The owner tore it down: its network namespace is gone.
		if left, _ := filepath.Glob("/run/netns/*-" + sb.ID); len(left) > 0 {
			t.Fatalf("the killed sandbox's netns is still there: %v", left)
		}
	})
	t.Run("owner gone", func(t *testing.T) {
		sb := a.create(t, nil)
		owner.Kill()
		// Until the leader records it lost, calls answer 503 with a reason;
		// after, 409 for a sandbox that is lost.
		r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "true"})
		if r.status != http.StatusServiceUnavailable && r.status != http.StatusConflict {
			t.Fatalf("exec with the owner gone: %s", r)
		}
		if r.status == http.StatusServiceUnavailable && !strings.Contains(r.apiErr(t).Error.Message, "not reachable") {
			t.Fatalf("exec with the owner gone: %s", r)
		}
		a.waitStatus(t, sb.ID, "lost", 20*time.Second)
	})
}

// ownerPair starts a two-node cluster whose first node (a server, the entry)
// is drained, so every sandbox created through a (the entry's API) runs on
// the second (the owner).
func ownerPair(tb testing.TB) (entry, owner *nodetest.Node, a *api) {
	tb.Helper()
	db := storetest.NewDatabase(tb)
	key := cluster.GenerateKey()
	entry = nodetest.Start(tb, nodetest.WithDatabase(db), nodetest.WithCluster(key, true, 1))
	owner = nodetest.Start(tb, nodetest.WithDatabase(db), nodetest.WithCluster(key, false, 0, entry.GossipAddr()))
	a = &api{url: entry.URL, key: entry.APIKey}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var v nodesJSON
		a.do(tb, "GET", "/v1/admin/nodes", nil).decode(tb, &v)
		alive := 0
		for _, m := range v.Nodes {
			if m.Status == "alive" {
				alive++
			}
		}
		if alive == 2 && v.Leader != nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no 2 alive members with a leader within 30s: %+v", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := a.do(tb, "POST", "/v1/admin/nodes/"+entry.ID.String()+"/drain", nil); r.status != 200 {
		tb.Fatalf("drain: %s", r)
	}
	return entry, owner, a
}
