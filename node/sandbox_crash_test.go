package node_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// procNode is `warren node` run as a subprocess, so that it can be SIGKILLed.
type procNode struct {
	t       *testing.T
	args    []string
	dataDir string
	url     string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *os.File
}

func newProcNode(t *testing.T) *procNode {
	t.Helper()
	dir, err := os.MkdirTemp("", "warren-crash-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var b [3]byte
	_, _ = rand.Read(b[:])
	bridge := "wk" + hex.EncodeToString(b[:])
	// 10.250-254.x.0/24: apart from nodetest's 10.100-249 subnets.
	subnet := fmt.Sprintf("10.%d.%d.0/24", 250+int(b[0])%5, b[1])
	p := &procNode{t: t, dataDir: dir, url: "http://" + addr}
	p.args = []string{"node", "--database-url", storetest.NewDatabase(t), "--data-dir", dir, "--http-addr", addr,
		"--bridge", bridge, "--subnet", subnet, "--base-image", "busybox", "--log-level", "warn"}
	p.log, err = os.Create(filepath.Join(t.TempDir(), "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		removeNodeLeftovers(t, dir, bridge)
		if t.Failed() {
			out, _ := os.ReadFile(p.log.Name())
			t.Logf("node log:\n%s", out)
		}
		p.log.Close()
	})
	return p
}

// start runs the node and waits until its API answers.
func (p *procNode) start() {
	t := p.t
	t.Helper()
	p.cmd = exec.Command(nodetest.Binary(t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.exited)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-p.exited:
			out, _ := os.ReadFile(p.log.Name())
			t.Fatalf("the node exited while starting: %s\n%s", p.cmd.ProcessState, out)
		default:
		}
		if res, err := http.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not become ready in 90 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop signals the node and waits for it to exit.
func (p *procNode) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("the node did not stop on %s within 2 minutes", sig)
	}
}

func (p *procNode) apiKey() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "bootstrap.json"))
	if err != nil {
		p.t.Fatal(err)
	}
	var info struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.APIKey == "" {
		p.t.Fatalf("bootstrap.json: %v", err)
	}
	return info.APIKey
}

// removeNodeLeftovers removes, by their exact names, what a `warren node` of
// dataDir may leave on the host: containers, mounts, loop devices, netns,
// veths, the firewall tables, the bridge and the cgroup parent. After a clean
// run only the bridge, the tables and the cgroup parent are left (the node
// keeps its network for its next start).
func removeNodeLeftovers(t *testing.T, dataDir, bridge string) {
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Logf("cleanup: %s %v: %v: %s", name, args, err, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "node-id")); err == nil && len(b) > 0 {
		prefix := hostPrefix(t, dataDir)
		runcRoot := filepath.Join(dataDir, "sandboxes", ".runc")
		if ents, err := os.ReadDir(runcRoot); err == nil {
			for _, e := range ents {
				run("runc", "--root", runcRoot, "delete", "--force", e.Name())
			}
		}
		if ents, err := os.ReadDir("/run/netns"); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), prefix+"-") {
					run("ip", "netns", "delete", e.Name())
				}
			}
		}
		if ents, err := os.ReadDir("/sys/class/net"); err == nil {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), prefix+"-") {
					run("ip", "link", "delete", e.Name())
				}
			}
		}
		if out, err := exec.Command("nft", "list", "tables").Output(); err == nil {
			for _, fam := range []string{"inet", "bridge"} {
				if strings.Contains(string(out), "table "+fam+" warren_"+prefix+"\n") {
					run("nft", "delete", "table", fam, "warren_"+prefix)
				}
			}
		}
		cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "warren-"+prefix, "*"))
		parents, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "warren-"+prefix))
		for _, d := range append(cgs, parents...) {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if err := syscall.Rmdir(d); err != nil {
					t.Logf("cleanup: rmdir %s: %v", d, err)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", bridge)); err == nil {
		run("ip", "link", "delete", bridge)
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	var under []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dataDir+"/") {
			under = append(under, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under))) // children first
	for _, m := range under {
		if err := syscall.Unmount(m, 0); err != nil {
			t.Logf("cleanup: unmount %s: %v", m, err)
		}
	}
	if out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], dataDir+"/") {
				run("losetup", "--detach", f[0])
			}
		}
	}
	if err := os.RemoveAll(dataDir); err != nil {
		t.Logf("cleanup: %v", err)
	}
}

// TestSandboxNodeCrash: a node SIGKILLed with three sandboxes running leaves
// them behind; its next start removes every one of their host objects and
// records them lost.
func TestSandboxNodeCrash(t *testing.T) {
	t.Parallel()
	p := newProcNode(t)
	p.start()
	a := &api{url: p.url, key: p.apiKey()}
	prefix := hostPrefix(t, p.dataDir)
	ids := map[string]hostObjects{}
	for range 3 {
		sb := a.create(t, nil)
		a.sh(t, sb.ID, "sleep 600 >/dev/null 2>&1 &")
		objs := sandboxHostObjects(t, p.dataDir, prefix, sb.ID)
		if !objs.complete() {
			t.Fatalf("sandbox %s: incomplete host objects %s", sb.ID, objs)
		}
		ids[sb.ID] = objs
	}
	p.stop(syscall.SIGKILL)
	for sb, objs := range ids {
		if left := alive(objs.Procs); len(left) == 0 {
			t.Fatalf("sandbox %s did not survive the node's SIGKILL: the test proves nothing", sb)
		}
	}

	s := time.Now()
	p.start()
	t.Logf("restart with 3 stale sandboxes: ready in %s", time.Since(s))
	for sb, objs := range ids {
		got := a.get(t, sb)
		if got.Status != "lost" || got.Error == "" {
			t.Errorf("sandbox %s after the restart: %+v, want lost with a reason", sb, got)
		}
		if left := alive(objs.Procs); len(left) > 0 {
			t.Errorf("sandbox %s: processes remain: %v", sb, left)
		}
		if h := sandboxHostObjects(t, p.dataDir, prefix, sb); !h.empty() {
			t.Errorf("sandbox %s: the restart left %s", sb, h)
		}
	}
	if out, err := exec.Command("runc", "--root", filepath.Join(p.dataDir, "sandboxes", ".runc"), "list", "--quiet").Output(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("runc containers after the restart: %q %v", out, err)
	}
	if snaps, _ := os.ReadDir(filepath.Join(p.dataDir, "pool", "snapshots")); len(snaps) > 0 {
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
	objs := sandboxHostObjects(t, p.dataDir, prefix, sb.ID)
	p.stop(syscall.SIGTERM)
	if h := sandboxHostObjects(t, p.dataDir, prefix, sb.ID); !h.empty() {
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
