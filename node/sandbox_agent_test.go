package node_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/node/nodetest"
)

// initPid is the host pid of sandbox id's init (its agent), from the pid
// file runc wrote in its bundle.
func initPid(t testing.TB, dataDir, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "sandboxes", id, "bundle", "init.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// sandboxesRunning is the node's count of live sandboxes, as its capacity
// reports it.
func sandboxesRunning(t testing.TB, a *api) int {
	t.Helper()
	var v struct {
		Nodes []struct {
			Capacity struct {
				SandboxesRunning int `json:"sandboxes_running"`
			} `json:"capacity"`
		} `json:"nodes"`
	}
	r := a.do(t, "GET", "/v1/admin/nodes", nil)
	if err := json.Unmarshal(r.body, &v); err != nil || len(v.Nodes) != 1 {
		t.Fatalf("nodes view: %s %v", r, err)
	}
	return v.Nodes[0].Capacity.SandboxesRunning
}

// TestSandboxAgentLost: a sandbox whose agent dies — its init SIGKILLed from
// the host, or stopped from inside with kill -TERM 1 — is recorded failed with
// the reason within seconds, and nothing of it is left on the host: no
// process, cgroup, container, netns, veth, mount, loop device or directory
// (the root-only ctl dir with the agent's socket included). Its capacity is
// free again. A sandbox killed through the API is killed, not failed.
func TestSandboxAgentLost(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	prefix := hostPrefix(t, n.DataDir)
	fromHost := a.create(t, nil)
	fromInside := a.create(t, nil)
	deliberate := a.create(t, nil)
	bystander := a.create(t, nil)
	objs := map[string]hostObjects{}
	for _, sb := range []string{fromHost.ID, fromInside.ID, deliberate.ID} {
		o := sandboxHostObjects(t, n.DataDir, prefix, sb)
		if !o.complete() {
			t.Fatalf("sandbox %s: incomplete host objects %s", sb, o)
		}
		objs[sb] = o
		ctl, err := os.Stat(filepath.Join(n.DataDir, "sandboxes", sb, "ctl"))
		if err != nil || ctl.Mode().Perm() != 0o700 || ctl.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Fatalf("sandbox %s: ctl dir %v %v, want root's, 0700", sb, ctl, err)
		}
	}
	if got := sandboxesRunning(t, a); got != 4 {
		t.Fatalf("capacity counts %d sandboxes, want 4", got)
	}

	gone := func(sb string, took time.Duration) {
		t.Helper()
		if left := alive(objs[sb].Procs); len(left) > 0 {
			t.Errorf("sandbox %s: processes remain: %v", sb, left)
		}
		if h := sandboxHostObjects(t, n.DataDir, prefix, sb); !h.empty() {
			t.Errorf("sandbox %s: left %s", sb, h)
		}
		for _, p := range []string{filepath.Join(n.DataDir, "sandboxes", sb), filepath.Join(n.DataDir, "sandboxes", ".runc", sb)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("sandbox %s: %s remains (%v)", sb, p, err)
			}
		}
		if took > 0 {
			t.Logf("sandbox %s: failed and torn down %s after its agent died", sb, took)
		}
	}

	start := time.Now()
	if err := unix.Kill(initPid(t, n.DataDir, fromHost.ID), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := a.waitStatus(t, fromHost.ID, "failed", 5*time.Second)
	if !strings.Contains(got.Error, "agent exited") {
		t.Errorf("failed sandbox's reason: %q, want the agent's exit", got.Error)
	}
	gone(fromHost.ID, time.Since(start))

	start = time.Now()
	a.sh(t, fromInside.ID, "(sleep 0.2; kill -TERM 1) >/dev/null 2>&1 &")
	got = a.waitStatus(t, fromInside.ID, "failed", 10*time.Second)
	if !strings.Contains(got.Error, "agent exited") {
		t.Errorf("failed sandbox's reason: %q, want the agent's exit", got.Error)
	}
	gone(fromInside.ID, time.Since(start))
	if r := a.do(t, "POST", "/v1/sandboxes/"+fromInside.ID+"/exec", map[string]any{"cmd": "true"}); r.status != 409 {
		t.Errorf("exec in a failed sandbox: %s, want 409", r)
	}

	if r := a.do(t, "DELETE", "/v1/sandboxes/"+deliberate.ID, nil); r.status != 200 {
		t.Fatalf("kill: %s", r)
	}
	time.Sleep(1500 * time.Millisecond) // a watcher that misread the kill would have reported by now
	if got := a.get(t, deliberate.ID); got.Status != "killed" || got.Error != "" {
		t.Errorf("a sandbox killed through the API: %+v, want killed with no error", got)
	}
	gone(deliberate.ID, 0)

	if got := sandboxesRunning(t, a); got != 1 {
		t.Errorf("capacity counts %d sandboxes, want only the bystander", got)
	}
	if out := a.sh(t, bystander.ID, "echo fine"); out != "fine\n" {
		t.Errorf("the bystander: %q", out)
	}
	// The rootfs is nosuid,nodev on the host, and so inside.
	mounts, _ := os.ReadFile("/proc/mounts")
	found := false
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == filepath.Join(n.DataDir, "sandboxes", bystander.ID, "rootfs") {
			found = true
			if !strings.Contains(","+f[3]+",", ",nosuid,") || !strings.Contains(","+f[3]+",", ",nodev,") {
				t.Errorf("the rootfs mount on the host: %s, want nosuid,nodev", line)
			}
		}
	}
	if !found {
		t.Errorf("no rootfs mount of %s on the host", bystander.ID)
	}
	if out := a.sh(t, bystander.ID, "grep ' / / ' /proc/self/mountinfo"); !strings.Contains(out, "nosuid") || !strings.Contains(out, "nodev") {
		t.Errorf("the rootfs inside: %q, want nosuid,nodev", out)
	}
	// Reconciliation (every 5 s) keeps the recorded reason.
	time.Sleep(6 * time.Second)
	if got := a.get(t, fromHost.ID); got.Status != "failed" || !strings.Contains(got.Error, "agent exited") {
		t.Errorf("after reconciliation: %+v", got)
	}
}
