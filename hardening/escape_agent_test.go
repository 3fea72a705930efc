package hardening_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/sandbox/agent"
)

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// agentPeer is the host pid and uid of sandbox id's init, its agent.
func agentPeer(t testing.TB, dataDir, id string) agent.Peer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "sandboxes", id, "bundle", "init.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return agent.Peer{Pid: pid, UID: atoiTrim(strings.Fields(rest)[0])}
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return agent.Peer{}
}

// getSandbox reads sandbox id's row through the API.
func (c *client) getSandbox(t testing.TB, id string) sandboxJSON {
	t.Helper()
	r := c.do(t, "GET", "/v1/sandboxes/"+id, nil)
	var sb sandboxJSON
	if r.status != 200 || json.Unmarshal(r.body, &sb) != nil {
		t.Fatalf("get %s: %s", id, r)
	}
	return sb
}

// TestEscapeAgentSocket attacks the channel between the node and a
// sandbox's agent from inside sandbox A, with sandbox B (another sandbox of
// the node) as the target. The node dials A's agent at a host path the
// sandbox cannot see (<data>/sandboxes/<A>/ctl/agent.sock, root's, 0700) and
// checks SO_PEERCRED on every connection, so A's root replacing sockets with
// symlinks to B's socket or with listeners of its own reaches nothing; the
// agent is not dumpable, so ptrace, process_vm_readv and pidfd_getfd on PID 1
// fail; and when A stops its agent (kill -TERM 1) A is recorded failed within
// seconds and its host objects are freed, while B keeps working throughout.
func TestEscapeAgentSocket(t *testing.T) {
	n, c := startNode(t)
	prefix := hostPrefix(t, n.DataDir)
	b := c.create(t, nil)
	bMarker, aMarker := "b-marker-"+randomHex(t), "a-marker-"+randomHex(t)
	c.mustSh(t, b, "echo "+bMarker+" > /tmp/marker")
	base := snapshotHost(t, n.DataDir, prefix) // B is part of the baseline
	a := c.create(t, nil)
	limited := c.create(t, nil) // a second attacker, for prlimit on its PID 1
	for _, sb := range []string{a, limited} {
		c.mustSh(t, sb, "echo "+aMarker+" > /tmp/marker")
		c.upload(t, sb, "/probe", probe(t), "0755")
	}
	bSock := filepath.Join(n.DataDir, "sandboxes", b, "ctl", "agent.sock")
	aCtl := filepath.Join(n.DataDir, "sandboxes", a, "ctl")
	aPeer := agentPeer(t, n.DataDir, a)

	// Control, from the host: B's socket is live, and a dial that follows a
	// path swapped to it reaches B's agent (the old attack) ...
	swapped := filepath.Join(t.TempDir(), "agent.sock")
	if err := os.Symlink(bSock, swapped); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plain, err := agent.Dial(ctx, swapped)
	if err != nil {
		t.Fatal(err)
	}
	res, err := plain.ExecCollect(ctx, agent.ExecOptions{Shell: "cat /tmp/marker"})
	plain.Close()
	if err != nil || !strings.Contains(string(res.Stdout), bMarker) {
		t.Fatalf("control: a plain dial through a symlink to B's socket did not reach B: %+v %v", res, err)
	}
	// ... while the node's dial, which expects A's agent as the peer, refuses it.
	refused := make(chan error, 8)
	checked, err := agent.DialPeer(ctx, swapped, aPeer, func(err error) {
		select {
		case refused <- err:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 2*time.Second)
	_, herr := checked.Health(hctx)
	hcancel()
	checked.Close()
	var pe *agent.PeerError
	select {
	case err := <-refused:
		attack(t, "agent", "peer check refuses B's agent where A's is expected", herr != nil && errors.As(err, &pe), herr, err)
	default:
		attack(t, "agent", "peer check refuses B's agent where A's is expected", false, "no refusal", herr)
	}

	// staysIn checks that a call on attacker answers from it (or, once it
	// is gone, is refused) and never from B, and that B still answers from B.
	staysIn := func(attacker, after string, aAlive bool) {
		t.Helper()
		r := c.do(t, "POST", "/v1/sandboxes/"+attacker+"/exec", map[string]any{"cmd": "cat /tmp/marker", "timeout_sec": 10})
		var er execResult
		_ = json.Unmarshal(r.body, &er)
		fromA := r.status == 200 && strings.Contains(er.Stdout, aMarker)
		attack(t, "agent", "A's calls stay in A after "+after,
			!strings.Contains(string(r.body), bMarker) && (fromA || !aAlive && r.clean4xx()), r)
		out := c.mustSh(t, b, "cat /tmp/marker")
		attack(t, "agent", "B unaffected after "+after, strings.Contains(out, bMarker), out)
	}
	stays := func(after string, aAlive bool) { t.Helper(); staysIn(a, after, aAlive) }
	stays("nothing", true)

	// Nothing of the host is mounted at /run/warren any more.
	res2 := c.sh(t, a, "grep -c ' /run/warren' /proc/self/mountinfo; ls -A /run/warren 2>&1", 10)
	attack(t, "agent", "no host dir at /run/warren", strings.HasPrefix(res2.Stdout, "0\n"), res2)

	// Swap every socket path a sandbox might know for a symlink to B's.
	c.mustSh(t, a, strings.Join([]string{
		"mkdir -p /run/warren " + aCtl + " " + filepath.Join(n.DataDir, "sandboxes", a, "agent"),
		"rm -f /run/warren/agent.sock && ln -s " + bSock + " /run/warren/agent.sock",
		"ln -sf " + bSock + " " + filepath.Join(aCtl, "agent.sock"),
		"ln -sf " + bSock + " " + filepath.Join(n.DataDir, "sandboxes", a, "agent", "agent.sock"),
	}, " && "))
	fi, err := os.Lstat(filepath.Join(aCtl, "agent.sock"))
	attack(t, "agent", "the host's ctl socket of A is untouched", err == nil && fi.Mode()&os.ModeSocket != 0, fi, err)

	// Ways to get at PID 1 and its socket. Controls first: on a child of
	// its own, the probe's ptrace and process_vm_readv work.
	for _, ctl := range [][]string{{"ptrace-child"}, {"vm-read", "child"}} {
		if got := runProbe(t, c, a, ctl...); !strings.HasPrefix(got, "ESCAPED") {
			t.Fatalf("control %v: %s", ctl, got)
		}
	}
	for _, p := range [][]string{
		{"ptrace", "1"}, {"vm-read", "1"}, {"pidfd-getfd", "1", "3"},
		{"open-write", "/proc/1/fd/2"}, {"read", "/proc/1/environ"}, {"read", "/proc/1/fd/3"},
	} {
		got := runProbe(t, c, a, p...)
		t.Logf("%v: %s", p, got)
		attack(t, "agent", strings.Join(p, " "), strings.HasPrefix(got, "BLOCKED"), got)
		stays(strings.Join(p, " "), true)
	}
	// SIGKILL from inside the pid namespace does not reach its init.
	c.sh(t, a, "kill -KILL 1", 10)
	time.Sleep(500 * time.Millisecond)
	stays("kill -KILL 1", true)
	// Many descriptors in the sandbox: its own processes' limits, not PID 1's.
	t.Logf("fds 100000: %s", runProbe(t, c, a, "fds", "100000"))
	stays("opening many descriptors", true)

	// Listeners of A's own where the sockets were. Control: the listener
	// notices a connection.
	c.mustSh(t, a, "(/probe listen-unix /tmp/ctl.sock 3 > /tmp/ctl.out 2>&1 &) ; sleep 0.5")
	if got := runProbe(t, c, a, "connect-unix", "/tmp/ctl.sock"); !strings.HasPrefix(got, "ESCAPED") {
		t.Fatalf("control: connecting to a listener inside: %s", got)
	}
	c.mustSh(t, a, strings.Join([]string{
		"(/probe listen-unix /run/warren/agent.sock 6 > /tmp/l1.out 2>&1 &)",
		"(/probe listen-unix " + filepath.Join(aCtl, "agent.sock") + " 6 > /tmp/l2.out 2>&1 &)",
		"sleep 0.5",
	}, "; "))
	// The node's calls meanwhile go to A's agent, not to the listeners.
	stays("listeners at the socket paths", true)
	time.Sleep(6 * time.Second)
	out := c.mustSh(t, a, "cat /tmp/ctl.out; cat /tmp/l1.out; cat /tmp/l2.out")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ESCAPED") {
		t.Fatalf("control: the listener did not report its connection: %q", out)
	}
	for _, l := range lines[1:] {
		attack(t, "agent", "nothing of the node connects to A's own listeners", strings.HasPrefix(l, "BLOCKED"), l)
	}

	// failsWithin waits for attacker to be recorded failed with the
	// agent's exit as the reason.
	failsWithin := func(attacker, what string, start time.Time) {
		t.Helper()
		var got sandboxJSON
		for time.Since(start) < 10*time.Second {
			if got = c.getSandbox(t, attacker); got.Status == "failed" {
				break
			}
			sleep(50)
		}
		t.Logf("after %s: %+v after %s", what, got, time.Since(start))
		attack(t, "agent", "failed with a reason within seconds of "+what,
			got.Status == "failed" && strings.Contains(got.Error, "agent exited"), got)
		staysIn(attacker, what, false)
	}

	// Lowering PID 1's descriptor limit (prlimit is open to the same uid)
	// would leave the agent unable to serve: it stops instead, and that
	// sandbox alone fails.
	start := time.Now()
	got := runProbe(t, c, limited, "prlimit-nofile", "1", "64")
	t.Logf("prlimit-nofile 1 64: %s", got)
	failsWithin(limited, "prlimit RLIMIT_NOFILE of PID 1", start)

	// A stops its own agent: A fails, with the reason, within seconds, and
	// its host objects go; B works on.
	start = time.Now()
	c.mustSh(t, a, "(sleep 0.2; kill -TERM 1) >/dev/null 2>&1 &")
	failsWithin(a, "kill -TERM 1", start)
	checkNoLeaks(t, "agent lost", n.DataDir, prefix, base)
	for _, sb := range []string{a, limited} {
		if _, err := os.Stat(filepath.Join(n.DataDir, "sandboxes", sb)); !os.IsNotExist(err) {
			attack(t, "agent", "a failed sandbox's directory removed", false, err)
		}
	}
}

// TestEscapeAgentFill fills /run/warren (once the agent's socket dir on the
// host) from inside until the disk is full: the writes land on the
// sandbox's own disk, so the node's data filesystem loses at most that
// disk's size, and nothing under the node's data dir grows but that disk
// (its image in the pool, and the pool's backing file). Writing to the agent's stderr (the host's init.log)
// through /proc/1/fd/2 is refused.
func TestEscapeAgentFill(t *testing.T) {
	n, c := startNode(t)
	const diskMB = 1024
	a := c.create(t, map[string]any{"disk_size_mb": diskMB})
	rootfs := filepath.Join(n.DataDir, "sandboxes", a, "rootfs")
	// hostBytes is the space every file under the node's data dir takes
	// (allocated blocks), but the sandbox's mounted rootfs.
	hostBytes := func() map[string]int64 {
		out := map[string]int64{}
		_ = filepath.WalkDir(n.DataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p == rootfs {
				return filepath.SkipDir
			}
			if fi, err := d.Info(); err == nil && !d.IsDir() {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					out[p] = st.Blocks * 512
				}
			}
			return nil
		})
		return out
	}
	// The sandbox's disk image, and the pool's backing file that holds it,
	// are what may grow.
	ownDisk := func(p string) bool {
		return strings.Contains(filepath.Base(p), a) || p == filepath.Join(n.DataDir, "pool.xfs")
	}
	free := func() int64 {
		var st unix.Statfs_t
		if err := unix.Statfs(n.DataDir, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Bavail) * st.Bsize
	}
	before, freeBefore := hostBytes(), free()

	res := c.sh(t, a, "mkdir -p /run/warren && dd if=/dev/zero of=/run/warren/spare bs=1M count=16 2>/dev/null && dd if=/dev/zero of=/run/warren/fill bs=1M 2>&1; sync; du -m /run/warren/fill", 300)
	fields := strings.Fields(strings.TrimSpace(res.Stdout[strings.LastIndex(strings.TrimSpace(res.Stdout), "\n")+1:]))
	written := 0
	if len(fields) > 0 {
		written = atoiTrim(fields[0])
	}
	// Control: the fill really wrote about the disk's size and hit its end.
	if !strings.Contains(res.Stdout, "No space left on device") || written < diskMB/2 {
		t.Fatalf("control: the fill did not fill the disk: %+v", res)
	}
	got := runProbeOnce(t, c, a)
	attack(t, "agent", "write to the agent's stderr via /proc/1/fd/2", strings.HasPrefix(got, "BLOCKED"), got)

	used := freeBefore - free()
	t.Logf("filled %d MB inside; the data filesystem lost %d MB", written, used>>20)
	attack(t, "agent", "filling /run/warren costs the node at most the sandbox's disk", used <= (diskMB+64)<<20, used>>20)
	after := hostBytes()
	grewDisk := int64(0)
	for p, size := range after {
		grew := size - before[p]
		if ownDisk(p) {
			grewDisk = max(grewDisk, grew)
			continue
		}
		if grew > 1<<20 {
			attack(t, "agent", "nothing but the sandbox's disk grows under the data dir", false, p, grew)
		}
	}
	// Control: the walk sees the disk image grow.
	if grewDisk < diskMB<<19 {
		t.Fatalf("control: the sandbox's disk image grew only %d MB", grewDisk>>20)
	}
	attack(t, "agent", "nothing but the sandbox's disk grows under the data dir", true)
	// The sandbox still answers (its disk is full, not the node's).
	if out := strings.TrimSpace(c.mustSh(t, a, "rm /run/warren/fill && echo ok")); out != "ok" {
		t.Errorf("after the fill: %q", out)
	}
}

// runProbeOnce uploads the probe to a full disk's sandbox (after freeing the
// room the fill left spare) and tries writing to PID 1's stderr.
func runProbeOnce(t *testing.T, c *client, id string) string {
	t.Helper()
	c.mustSh(t, id, "rm /run/warren/spare")
	c.upload(t, id, "/probe", probe(t), "0755")
	return runProbe(t, c, id, "open-write", "/proc/1/fd/2")
}
