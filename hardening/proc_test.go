package hardening_test

import (
	"context"
	"crypto/rand"
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

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// procNode is `warren node` run as a subprocess, so that it can be SIGKILLed.
type procNode struct {
	t       *testing.T
	args    []string
	dataDir string
	dbURL   string
	bridge  string
	url     string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	db      *pgxpool.Pool
}

// newProcNode prepares a node on a fresh database, its own data dir, a
// bridge and a /24 of 10.99.0.0/16 (apart from nodetest's 10.100-249 and
// node's crash tests' 10.250-254); everything is removed by exact name when
// t ends.
func newProcNode(t *testing.T) *procNode {
	t.Helper()
	dir, err := os.MkdirTemp("", "warren-hardening-")
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
	p := &procNode{t: t, dataDir: dir, url: "http://" + addr, bridge: fmt.Sprintf("wh%02x%02x%02x", b[0], b[1], b[2])}
	p.dbURL = storetest.NewDatabase(t)
	p.args = []string{"node", "--database-url", p.dbURL, "--data-dir", dir, "--http-addr", addr,
		"--bridge", p.bridge, "--subnet", fmt.Sprintf("10.99.%d.0/24", b[0]), "--base-image", "busybox", "--log-level", "warn"}
	p.logPath = filepath.Join(t.TempDir(), "node.log")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if p.db, err = pgxpool.New(ctx, p.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		p.db.Close()
		removeLeftovers(t, dir, p.bridge)
		if t.Failed() {
			out, _ := os.ReadFile(p.logPath)
			t.Logf("node log:\n%s", out)
		}
	})
	return p
}

// start runs the node and waits until its API is ready.
func (p *procNode) start() {
	t := p.t
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(nodetest.Binary(t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.exited)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-p.exited:
			out, _ := os.ReadFile(p.logPath)
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

func (p *procNode) client() *client {
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
	return &client{url: p.url, key: info.APIKey}
}

// removeLeftovers removes, by exact names, what a node of dataDir may leave
// on the host: containers, netns, veths, its nftables tables, cgroups, the
// bridge, mounts and loop devices under dataDir, and dataDir itself.
func removeLeftovers(t *testing.T, dataDir, bridge string) {
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
		for _, dir := range []struct{ path, cmd string }{{"/run/netns", "netns"}, {"/sys/class/net", "link"}} {
			ents, _ := os.ReadDir(dir.path)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), prefix+"-") {
					run("ip", dir.cmd, "delete", e.Name())
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
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
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
