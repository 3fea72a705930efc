package node_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	frozen := firstKey(ids)
	a.sh(t, frozen, "(while :; do date >> /log; sync; sleep 0.05; done) >/dev/null 2>&1 &")
	rootfs := filepath.Join(p.DataDir, "sandboxes", frozen, "rootfs")
	f, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	const fifreeze = 0xC0045877 // _IOWR('X', 119, int)
	err = unix.IoctlSetInt(int(f.Fd()), fifreeze, 0)
	f.Close()
	if err != nil {
		t.Fatalf("freezing %s: %v", rootfs, err)
	}
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
