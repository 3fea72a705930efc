package nodetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/store/storetest"
)

// Proc is `warren node` run as a subprocess (so a test can SIGKILL it, or run
// it in a network namespace of its own). NewProc prepares it; Start runs it.
// When the test ends the process is killed and everything the node may have
// left on the host is removed by its exact name (RemoveNodeLeftovers), along
// with the data dir.
type Proc struct {
	DataDir     string
	DatabaseURL string
	HTTPAddr    string // where the API listens, host:port
	URL         string // "http://" + HTTPAddr
	Bridge      string // the sandbox bridge (inside NetNS when set)
	Subnet      string // the sandbox subnet
	// NetNS is the namespace the node runs in; nil runs it in the test's own.
	NetNS *NetNS
	// Args are flags added after the standard ones (--database-url,
	// --data-dir, --http-addr, --bridge, --subnet, --base-image busybox,
	// --log-level warn); a later flag overrides an earlier one. The test may
	// change them between starts.
	Args []string
	// Env is added to the process's environment (KEY=value).
	Env []string

	t       testing.TB
	client  *http.Client
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// ProcOption adjusts a Proc before its first start.
type ProcOption func(*Proc)

// ProcDatabase makes the node use url instead of a fresh database (nodes of
// one cluster share their database).
func ProcDatabase(url string) ProcOption { return func(p *Proc) { p.DatabaseURL = url } }

// ProcNetwork sets the node's sandbox bridge and subnet. The default is a
// random bridge "wk…" and a random /24 of 10.250-254.0.0, apart from Start's
// 10.100-249.
func ProcNetwork(bridge, subnet string) ProcOption {
	return func(p *Proc) { p.Bridge, p.Subnet = bridge, subnet }
}

// ProcInNetNS runs the node inside ns with its API on httpAddr (an address
// of ns). The test reaches it through Client, which dials inside ns. Make ns
// before the Proc, so that the node is gone before ns is deleted.
func ProcInNetNS(ns *NetNS, httpAddr string) ProcOption {
	return func(p *Proc) { p.NetNS, p.HTTPAddr = ns, httpAddr }
}

// ProcArgs adds flags after the standard ones.
func ProcArgs(args ...string) ProcOption {
	return func(p *Proc) { p.Args = append(p.Args, args...) }
}

// ProcEnv adds KEY=value pairs to the node's environment.
func ProcEnv(kv ...string) ProcOption { return func(p *Proc) { p.Env = append(p.Env, kv...) } }

// NewProc prepares a node: a data dir, a fresh database (unless
// ProcDatabase), a free loopback port for its API (unless ProcInNetNS), its
// sandbox network. The test binary's TestMain must call storetest.Main.
func NewProc(t testing.TB, opts ...ProcOption) *Proc {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("nodetest: needs root (loop devices, runc, network namespaces)")
	}
	dir, err := os.MkdirTemp("", "warren-proc-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	p := &Proc{DataDir: dir, t: t}
	for _, o := range opts {
		o(p)
	}
	if p.Bridge == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		p.Bridge = "wk" + hex.EncodeToString(b[:])
		p.Subnet = fmt.Sprintf("10.%d.%d.0/24", 250+int(b[0])%5, b[1])
	}
	if p.HTTPAddr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.HTTPAddr = ln.Addr().String()
		ln.Close()
	}
	p.URL = "http://" + p.HTTPAddr
	if p.DatabaseURL == "" {
		p.DatabaseURL = storetest.NewDatabase(t)
	}
	if p.NetNS != nil {
		p.client = p.NetNS.HTTPClient(2 * time.Minute)
	} else {
		p.client = &http.Client{Timeout: 2 * time.Minute}
	}
	logs, err := os.MkdirTemp("", "warren-proc-log-")
	if err != nil {
		t.Fatal(err)
	}
	p.logPath = filepath.Join(logs, "node.log")
	t.Cleanup(func() {
		p.Stop(syscall.SIGKILL)
		RemoveNodeLeftovers(t, p.DataDir, p.Bridge, p.NetNS)
		if t.Failed() {
			t.Logf("node %s log:\n%s", p.HTTPAddr, p.Logs())
		}
		_ = os.RemoveAll(logs)
	})
	return p
}

// Client returns an HTTP client that reaches the node's API (dialling inside
// its namespace when it has one).
func (p *Proc) Client() *http.Client { return p.client }

// Launch starts the process and returns at once; WaitReady waits for its
// API. Starting several nodes at once is Launch on each, then WaitReady.
func (p *Proc) Launch() {
	t := p.t
	t.Helper()
	if p.Running() {
		t.Fatal("nodetest: the node is already running")
	}
	args := append([]string{"node", "--database-url", p.DatabaseURL, "--data-dir", p.DataDir,
		"--http-addr", p.HTTPAddr, "--bridge", p.Bridge, "--subnet", p.Subnet,
		"--base-image", "busybox", "--log-level", "warn"}, p.Args...)
	if p.NetNS != nil {
		p.cmd = p.NetNS.Command(Binary(t), args...)
	} else {
		p.cmd = exec.Command(Binary(t), args...)
	}
	p.cmd.Env = append(os.Environ(), p.Env...)
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.exited)
}

// WaitReady waits up to d for the node's /readyz to answer 200. It fails (an
// error, not the test: it may run on any goroutine) when the process exits
// first or d passes.
func (p *Proc) WaitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("the node exited while starting: %s\n%s", p.cmd.ProcessState, p.Logs())
		default:
		}
		if res, err := p.client.Get(p.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the node did not become ready in %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Start runs the node and waits (up to 90 s) until its API is ready.
func (p *Proc) Start() {
	p.t.Helper()
	p.Launch()
	if err := p.WaitReady(90 * time.Second); err != nil {
		p.t.Fatal(err)
	}
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop signals the node and waits for it to exit (SIGKILL after 2 minutes,
// failing the test). A node not running is left alone.
func (p *Proc) Stop(sig syscall.Signal) {
	if !p.Running() {
		return
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

// Logs returns what the node wrote to stdout and stderr so far, over all its
// starts (at most the last 256 KiB).
func (p *Proc) Logs() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 256 << 10
	if len(b) > max {
		b = append([]byte("…\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// APIKey returns the bootstrap admin's key from <data-dir>/bootstrap.json.
// Only the first node started on a database writes it.
func (p *Proc) APIKey() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.DataDir, "bootstrap.json"))
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

// NodeID returns the node's ID from <data-dir>/node-id (made on its first
// start).
func (p *Proc) NodeID() string {
	p.t.Helper()
	nid, err := readNodeID(p.DataDir)
	if err != nil {
		p.t.Fatal(err)
	}
	return nid.String()
}

// HostPrefix returns the node's prefix for host objects.
func (p *Proc) HostPrefix() string {
	p.t.Helper()
	prefix, err := HostPrefix(p.DataDir)
	if err != nil {
		p.t.Fatal(err)
	}
	return prefix
}

func readNodeID(dataDir string) (id.NodeID, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "node-id"))
	if err != nil {
		return id.NodeID{}, err
	}
	return id.ParseNodeID(strings.TrimSpace(string(b)))
}

// HostPrefix mirrors the node's own: the prefix of every host object a node
// of dataDir makes, "w" and 5 hex digits of its ID's random tail.
func HostPrefix(dataDir string) (string, error) {
	nid, err := readNodeID(dataDir)
	if err != nil {
		return "", err
	}
	return node.HostPrefix(nid), nil
}

// RemoveNodeLeftovers removes, by their exact names, what a `warren node` of
// dataDir may leave on the host: runc containers, sandbox netns, veths, the
// firewall tables, the bridge, the cgroup parent, mounts and loop devices
// under dataDir, and dataDir itself. The links and tables are looked for in
// ns when the node ran in one (nil: the test's own namespace).
func RemoveNodeLeftovers(t testing.TB, dataDir, bridge string, ns *NetNS) {
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Logf("cleanup: %s %v: %v: %s", name, args, err, out)
		}
	}
	// Network objects live in the node's namespace.
	netCmd := func(name string, args ...string) *exec.Cmd {
		if ns != nil {
			return ns.Command(name, args...)
		}
		return exec.Command(name, args...)
	}
	netRun := func(name string, args ...string) {
		if out, err := netCmd(name, args...).CombinedOutput(); err != nil {
			t.Logf("cleanup: %s %v: %v: %s", name, args, err, out)
		}
	}
	if prefix, err := HostPrefix(dataDir); err == nil {
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
		for _, l := range linkNames(netCmd) { // again: deleting a netns takes its veth's peer along
			if strings.HasPrefix(l, prefix+"-") {
				netRun("ip", "link", "delete", l)
			}
		}
		if out, err := netCmd("nft", "list", "tables").Output(); err == nil {
			for _, fam := range []string{"inet", "bridge"} {
				if strings.Contains(string(out), "table "+fam+" warren_"+prefix+"\n") {
					netRun("nft", "delete", "table", fam, "warren_"+prefix)
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
	for _, l := range linkNames(netCmd) {
		if l == bridge {
			netRun("ip", "link", "delete", bridge)
		}
	}
	// Sandbox disks are loop devices over files in the pool, which may itself
	// be a loop-mounted file: unmount children first, detach the loops, and
	// go round again while that makes progress.
	for round := 0; round < 10; round++ {
		mounts, loops := mountsUnder(dataDir), loopsUnder(dataDir)
		if len(mounts)+len(loops) == 0 {
			break
		}
		last := round == 9
		for _, m := range mounts {
			if err := syscall.Unmount(m, 0); err != nil && last {
				t.Logf("cleanup: unmount %s: %v", m, err)
			}
		}
		for _, l := range loopsUnder(dataDir) {
			if out, err := exec.Command("losetup", "--detach", l).CombinedOutput(); err != nil && last {
				t.Logf("cleanup: losetup --detach %s: %v: %s", l, err, out)
			}
		}
		if len(mountsUnder(dataDir))+len(loopsUnder(dataDir)) > 0 {
			time.Sleep(200 * time.Millisecond) // a detach may complete later
		}
	}
	if err := os.RemoveAll(dataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("cleanup: %v", err)
	}
}

// mountsUnder lists the mount points below dir, children first.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/mounts")
	var under []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			under = append(under, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
	return under
}

// loopsUnder lists the loop devices whose backing file is below dir (also
// when the file was deleted: losetup then adds " (deleted)").
func loopsUnder(dir string) []string {
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		return nil
	}
	var loops []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], dir+"/") {
			loops = append(loops, f[0])
		}
	}
	return loops
}

// linkNames lists the network interfaces where netCmd runs (`ip -o link`:
// "3: name@peer: <…>").
func linkNames(netCmd func(string, ...string) *exec.Cmd) []string {
	out, err := netCmd("ip", "-o", "link", "show").Output()
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, ": ", 3)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(f[1]), "@")
		names = append(names, name)
	}
	return names
}
