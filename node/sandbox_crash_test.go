package node_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/node/nodetest"
	"golang.org/x/sys/unix"
)

// TestSandboxNodeCrash: a node SIGKILLed with three sandboxes running leaves
// them behind; its next start removes every one of their host objects and
// records them lost. One of them is killed the way a snapshot's copy leaves
// it: filesystem frozen (FIFREEZE), with a writer blocked on it.
func TestSandboxNodeCrash(t *testing.T) {
	t.Parallel()
	p := nodetest.NewProc(t) // `warren node` as a subprocess, so that it can be SIGKILLed
	p.Start()
	a := &api{url: p.URL, key: p.APIKey()}
	prefix := hostPrefix(t, p.DataDir)
	ids := map[string]hostObjects{}
	for range 3 {
		sb := a.create(t, nil)
		a.sh(t, sb.ID, "sleep 600 >/dev/null 2>&1 &")
		objs := sandboxHostObjects(t, p.DataDir, prefix, sb.ID)
		if !objs.complete() {
			t.Fatalf("sandbox %s: incomplete host objects %s", sb.ID, objs)
		}
		ids[sb.ID] = objs
	}
	freezeWithWriter(t, a, p.DataDir, firstKey(ids))
	p.Stop(syscall.SIGKILL)
	for sb, objs := range ids {
		if left := alive(objs.Procs); len(left) == 0 {
			t.Fatalf("sandbox %s did not survive the node's SIGKILL: the test proves nothing", sb)
		}
	}

	s := time.Now()
	p.Start()
	t.Logf("restart with 3 stale sandboxes: ready in %s", time.Since(s))
	for sb, objs := range ids {
		got := a.get(t, sb)
		if got.Status != "lost" || got.Error == "" {
			t.Errorf("sandbox %s after the restart: %+v, want lost with a reason", sb, got)
		}
		if left := alive(objs.Procs); len(left) > 0 {
			t.Errorf("sandbox %s: processes remain: %v", sb, left)
		}
		if h := sandboxHostObjects(t, p.DataDir, prefix, sb); !h.empty() {
			t.Errorf("sandbox %s: the restart left %s", sb, h)
		}
		// Its directory goes too, the root-only ctl dir with the agent's
		// socket included.
		if _, err := os.Stat(filepath.Join(p.DataDir, "sandboxes", sb)); !os.IsNotExist(err) {
			t.Errorf("sandbox %s: the restart left its directory (%v)", sb, err)
		}
	}
	if out, err := exec.Command("runc", "--root", filepath.Join(p.DataDir, "sandboxes", ".runc"), "list", "--quiet").Output(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("runc containers after the restart: %q %v", out, err)
	}
	if snaps, _ := os.ReadDir(filepath.Join(p.DataDir, "pool", "snapshots")); len(snaps) > 0 {
		t.Errorf("pool snapshots after the restart: %v", snaps)
	}
	if r := a.do(t, "POST", "/v1/sandboxes/"+firstKey(ids)+"/exec", map[string]any{"cmd": "true"}); r.status != 409 {
		t.Errorf("exec in a lost sandbox: %s", r)
	}
	// The restarted node works.
	sb := a.create(t, nil)
	if out := a.sh(t, sb.ID, "echo fine"); out != "fine\n" {
		t.Fatalf("a sandbox after the restart: %q", out)
	}
	// A kill through the API tears down a frozen sandbox too (a snapshot
	// whose thaw failed would leave one).
	frozen := a.create(t, nil)
	frozenObjs := sandboxHostObjects(t, p.DataDir, prefix, frozen.ID)
	freezeWithWriter(t, a, p.DataDir, frozen.ID)
	if r := a.do(t, "DELETE", "/v1/sandboxes/"+frozen.ID, nil); r.status != 200 {
		t.Errorf("killing a frozen sandbox: %s", r)
	}
	if h := sandboxHostObjects(t, p.DataDir, prefix, frozen.ID); !h.empty() {
		t.Errorf("killing a frozen sandbox left %s", h)
	}
	if left := alive(frozenObjs.Procs); len(left) > 0 {
		t.Errorf("killing a frozen sandbox left processes: %v", left)
	}
	objs := sandboxHostObjects(t, p.DataDir, prefix, sb.ID)
	p.Stop(syscall.SIGTERM)
	if h := sandboxHostObjects(t, p.DataDir, prefix, sb.ID); !h.empty() {
		t.Errorf("a graceful stop left %s", h)
	}
	if left := alive(objs.Procs); len(left) > 0 {
		t.Errorf("a graceful stop left processes: %v", left)
	}
}

func firstKey(m map[string]hostObjects) string {
	for k := range m {
		return k
	}
	return ""
}

// freezeWithWriter starts a writer loop in sandbox id, then freezes the
// sandbox's rootfs from the host (FIFREEZE), as a snapshot's copy does: the
// writer blocks in an unkillable sleep until the filesystem is thawed.
func freezeWithWriter(t *testing.T, a *api, dataDir, id string) {
	t.Helper()
	a.sh(t, id, "(while :; do date >> /log; sync; sleep 0.05; done) >/dev/null 2>&1 &")
	rootfs := filepath.Join(dataDir, "sandboxes", id, "rootfs")
	f, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const fifreeze = 0xC0045877 // _IOWR('X', 119, int)
	if err := unix.IoctlSetInt(int(f.Fd()), fifreeze, 0); err != nil {
		t.Fatalf("freezing %s: %v", rootfs, err)
	}
	// Should the node fail to thaw it, the test still must not leave a
	// frozen filesystem (and its busy loop device) on the machine.
	t.Cleanup(func() { _ = blockdev.ThawMount(rootfs) })
}
