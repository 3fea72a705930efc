package node_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/sandbox/netns"
)

// hostPrefix is the prefix for host objects of the node in dataDir.
func hostPrefix(t testing.TB, dataDir string) string {
	t.Helper()
	p, err := nodetest.HostPrefix(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostObjects lists what the host holds for one sandbox, found by the names
// the runtime gives them: rootfs mounts, loop devices over its disk file, its
// netns, its veth, its cgroup dirs and the processes in them.
type hostObjects struct {
	Mounts, Loops, NetNS, Links, Cgroups, Procs []string
}

func (h hostObjects) empty() bool {
	return len(h.Mounts)+len(h.Loops)+len(h.NetNS)+len(h.Links)+len(h.Cgroups)+len(h.Procs) == 0
}

// complete reports whether every kind of object is present (a live sandbox).
func (h hostObjects) complete() bool {
	return len(h.Mounts) > 0 && len(h.Loops) > 0 && len(h.NetNS) > 0 && len(h.Links) > 0 && len(h.Cgroups) > 0 && len(h.Procs) > 0
}

func (h hostObjects) String() string {
	b, _ := json.Marshal(h)
	return string(b)
}

func sandboxHostObjects(t testing.TB, dataDir, prefix, sb string) hostObjects {
	t.Helper()
	var h hostObjects
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(f[1], sb) {
			h.Mounts = append(h.Mounts, f[1])
		}
	}
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, prefix+"-"+sb) {
			h.Loops = append(h.Loops, strings.TrimSpace(line))
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", prefix+"-"+sb)); err == nil {
		h.NetNS = append(h.NetNS, prefix+"-"+sb)
	}
	veth := netns.VethName(prefix, sb)
	if _, err := os.Stat(filepath.Join("/sys/class/net", veth)); err == nil {
		h.Links = append(h.Links, veth)
	}
	cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "warren-"+prefix, sb))
	h.Cgroups = cgs
	seen := map[string]bool{}
	for _, cg := range cgs {
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		for _, pid := range strings.Fields(string(b)) {
			if !seen[pid] {
				seen[pid] = true
				h.Procs = append(h.Procs, pid)
			}
		}
	}
	return h
}

// hostUID returns the host uid (real) of pid from /proc/<pid>/status.
func hostUID(t testing.TB, pid string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			uid, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%s/status", pid)
	return -1
}

// alive describes the pids that still run. Zombies do not count: a
// container's init is reparented to the host's init, which reaps it in its
// own time (here with a delay of seconds).
func alive(pids []string) []string {
	var out []string
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), "\nState:\tZ") {
			continue
		}
		desc := pid
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Name:") || strings.HasPrefix(line, "State:") || strings.HasPrefix(line, "PPid:") {
				desc += " " + strings.Join(strings.Fields(line), " ")
			}
		}
		out = append(out, desc)
	}
	return out
}
