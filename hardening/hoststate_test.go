package hardening_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostState is what a node holds on the host, found by its data dir and
// prefix: mounts and loop devices under the data dir, netns files and links
// with the prefix, cgroups under warren-<prefix>, runc containers, the
// processes in those cgroups, and the pool's snapshot and temporary files. The node's own pool mount and loop device are
// part of every baseline.
type hostState map[string][]string

func snapshotHost(t testing.TB, dataDir, prefix string) hostState {
	t.Helper()
	h := hostState{}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dataDir+"/") {
			h["mount"] = append(h["mount"], f[1])
		}
	}
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], dataDir+"/") {
			h["loop"] = append(h["loop"], f[0]+" "+f[1])
		}
	}
	for _, dir := range []struct{ kind, path string }{{"netns", "/run/netns"}, {"link", "/sys/class/net"}} {
		ents, _ := os.ReadDir(dir.path)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix+"-") {
				h[dir.kind] = append(h[dir.kind], e.Name())
			}
		}
	}
	cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "warren-"+prefix, "*"))
	for _, cg := range cgs {
		if fi, err := os.Stat(cg); err != nil || !fi.IsDir() {
			continue
		}
		h["cgroup"] = append(h["cgroup"], cg)
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		for _, pid := range strings.Fields(string(b)) {
			if live(pid) {
				h["process"] = append(h["process"], cg+" pid "+pid)
			}
		}
	}
	// Pool files of sandboxes and half-written images: a leftover keeps the
	// pool mounted when the node closes.
	for _, d := range []string{"snapshots", "tmp"} {
		ents, _ := os.ReadDir(filepath.Join(dataDir, "pool", d))
		for _, e := range ents {
			h["pool file"] = append(h["pool file"], d+"/"+e.Name())
		}
	}
	runcRoot := filepath.Join(dataDir, "sandboxes", ".runc")
	if ents, err := os.ReadDir(runcRoot); err == nil {
		for _, e := range ents {
			h["container"] = append(h["container"], e.Name())
		}
	}
	for k := range h {
		slices.Sort(h[k])
		h[k] = slices.Compact(h[k])
	}
	return h
}

// live reports whether pid runs (zombies do not count: the host's init reaps
// a container's init in its own time).
func live(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	return err == nil && !strings.Contains(string(b), "\nState:\tZ")
}

// leaksSince lists what h holds that base did not.
func (h hostState) leaksSince(base hostState) []string {
	var out []string
	for kind, items := range h {
		for _, it := range items {
			if !slices.Contains(base[kind], it) {
				out = append(out, fmt.Sprintf("%s %s", kind, it))
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkNoLeaks compares the host with base (retrying for a few seconds, as
// the host's init reaps container processes asynchronously), records every
// leftover in the tally and fails t on any.
func checkNoLeaks(t testing.TB, what, dataDir, prefix string, base hostState) {
	t.Helper()
	var leaks []string
	// A teardown whose loop device the kernel still held is finished by the
	// node's sweep (every 2 s): allow it that long, and more.
	for i := 0; i < 150; i++ {
		if leaks = snapshotHost(t, dataDir, prefix).leaksSince(base); len(leaks) == 0 {
			return
		}
		sleep(100)
	}
	for _, l := range leaks {
		tally.Leak(what + ": " + l)
	}
	t.Errorf("%s: %d host objects leaked: %v", what, len(leaks), leaks)
}
