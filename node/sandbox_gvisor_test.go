package node_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestSandboxGVisor: a node whose default runtime is gVisor runs sandboxes
// on gVisor's kernel with the agent reachable (exec, files, a port), pauses
// and resumes them, and a kill leaves nothing on the host. runsc must be
// installed (scripts/deps builds it); without it the node fails to start.
func TestSandboxGVisor(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, func(c *node.Config) { c.Runtime = "gvisor" })
	a := newAPI(n)
	prefix := hostPrefix(t, n.DataDir)
	sb := a.create(t, nil)

	if out := a.sh(t, sb.ID, "uname -r"); !strings.Contains(out, "gvisor") {
		t.Fatalf("uname -r in a gVisor sandbox = %q", out)
	}
	if out := a.sh(t, sb.ID, "echo $((6*7))"); out != "42\n" {
		t.Fatalf("exec: %q", out)
	}
	// Files: upload, read back through the API and from a process inside.
	if r := a.do(t, "PUT", "/v1/sandboxes/"+sb.ID+"/files?path=/tmp/up.txt", "hello gvisor"); r.status/100 != 2 {
		t.Fatalf("upload: %s", r)
	}
	if out := a.sh(t, sb.ID, "cat /tmp/up.txt"); out != "hello gvisor" {
		t.Fatalf("the uploaded file inside: %q", out)
	}
	a.sh(t, sb.ID, "echo made-inside > /tmp/down.txt")
	if r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/files?path=/tmp/down.txt", nil); r.status != 200 || string(r.body) != "made-inside\n" {
		t.Fatalf("download: %s", r)
	}
	// A port: busybox httpd inside, through the ports proxy (netstack over
	// the sandbox's netns).
	a.sh(t, sb.ID, "mkdir -p /www && echo index > /www/index.html && (busybox httpd -f -p 8080 -h /www >/dev/null 2>&1 &)")
	var r resp
	for deadline := time.Now().Add(5 * time.Second); ; {
		r = a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/ports/8080/", nil)
		if r.status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.status != http.StatusOK || string(r.body) != "index\n" {
		t.Fatalf("port 8080: %s", r)
	}
	// Pause and resume.
	if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"paused"`) {
		t.Fatalf("pause: %s", r)
	}
	if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "echo hi"}); r.status != 409 {
		t.Fatalf("exec while paused: %s", r)
	}
	if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"running"`) {
		t.Fatalf("resume: %s", r)
	}
	if out := a.sh(t, sb.ID, "echo back"); out != "back\n" {
		t.Fatalf("exec after resume: %q", out)
	}
	// Kill: no process, mount, loop device, netns, veth or cgroup is left.
	live := sandboxHostObjects(t, n.DataDir, prefix, sb.ID)
	if !live.complete() {
		t.Fatalf("a live gVisor sandbox's host objects are incomplete (the leak check would see nothing): %s", live)
	}
	if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status/100 != 2 {
		t.Fatalf("kill: %s", r)
	}
	if left := sandboxHostObjects(t, n.DataDir, prefix, sb.ID); !left.empty() {
		t.Fatalf("the killed gVisor sandbox left %s", left)
	}
}
