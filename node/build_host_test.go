package node_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/db"
)

// nodeHost is what the host holds for one test node, found under its data dir
// or by its host prefix: mounts, loop devices, netns, links, cgroups, processes
// rooted in its data dir, pool files (images, snapshots, temporaries) and
// sandbox dirs. Two snapshots of it are compared to find leftovers.
type nodeHost map[string][]string

func (h nodeHost) String() string {
	var b strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s=%v ", k, h[k])
	}
	return b.String()
}

// minus returns what h holds that base does not.
func (h nodeHost) minus(base nodeHost) nodeHost {
	out := nodeHost{}
	for k, vs := range h {
		for _, v := range vs {
			if !slices.Contains(base[k], v) {
				out[k] = append(out[k], v)
			}
		}
	}
	return out
}

// buildNodePrefix mirrors node.hostPrefix.
func buildNodePrefix(t testing.TB, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "node-id"))
	if err != nil {
		t.Fatal(err)
	}
	nid, err := id.ParseNodeID(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	u := nid.UUID()
	return fmt.Sprintf("w%02x%02x%x", u[13], u[14], u[15]>>4)
}

func hostOf(t testing.TB, n *nodetest.Node) nodeHost {
	t.Helper()
	dir, err := filepath.EvalSymlinks(n.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	prefix := buildNodePrefix(t, n.DataDir)
	h := nodeHost{}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], dir) || strings.HasPrefix(f[1], n.DataDir)) {
			h["mount"] = append(h["mount"], f[1])
		}
	}
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, dir+"/") || strings.Contains(line, n.DataDir+"/") {
			h["loop"] = append(h["loop"], strings.Join(strings.Fields(line), " "))
		}
	}
	ns, _ := filepath.Glob(filepath.Join("/run/netns", prefix+"-*"))
	h["netns"] = ns
	links, _ := filepath.Glob(filepath.Join("/sys/class/net", prefix+"-*"))
	h["link"] = links
	cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "warren-"+prefix, "*"))
	for _, cg := range cgs {
		if fi, err := os.Stat(cg); err == nil && fi.IsDir() {
			h["cgroup"] = append(h["cgroup"], cg)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		root, err := os.Readlink(filepath.Join(p, "root"))
		if err == nil && (strings.HasPrefix(root, dir+"/") || strings.HasPrefix(root, n.DataDir+"/")) {
			h["proc"] = append(h["proc"], filepath.Base(p)+":"+root)
		}
	}
	for _, sub := range []string{"pool/images", "pool/snapshots", "pool/tmp", "sandboxes"} {
		entries, _ := os.ReadDir(filepath.Join(n.DataDir, sub))
		for _, e := range entries {
			h[sub] = append(h[sub], e.Name())
		}
	}
	return h
}

// requireNoLeftovers fails the test if the host holds anything for n beyond
// base and the images of n's templates, or a build sandbox of n is not ended,
// or a template row names build.
func requireNoLeftovers(t testing.TB, n *nodetest.Node, base nodeHost, build buildJSON) {
	t.Helper()
	ctx := context.Background()
	tpls, err := n.Store().ListAllTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A teardown that found its loop device still busy is finished by the
	// node's sweep within seconds: allow it that long.
	var extra nodeHost
	for range 50 {
		extra = hostOf(t, n).minus(base)
		extra["pool/images"] = slices.DeleteFunc(extra["pool/images"], func(img string) bool {
			return slices.ContainsFunc(tpls, func(tpl db.ListAllTemplatesRow) bool { return tpl.ID.String()+".img" == img })
		})
		if len(extra["pool/images"]) == 0 {
			delete(extra, "pool/images")
		}
		if len(extra) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(extra) > 0 {
		t.Errorf("build %s left host objects behind: %s", build.ID, extra)
	}
	sbs, err := n.Store().ListAllSandboxes(ctx, db.ListAllSandboxesParams{Statuses: []string{}, Lim: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var builds int
	for _, sb := range sbs {
		if !sb.IsBuild {
			continue
		}
		builds++
		if sb.EndedAt == nil || (sb.Status != "killed" && sb.Status != "failed" && sb.Status != "expired") {
			t.Errorf("build sandbox %s is %s (ended %v)", sb.ID, sb.Status, sb.EndedAt)
		}
	}
	if build.SandboxID != "" && builds == 0 {
		t.Errorf("build %s names sandbox %s, but the store holds no build sandbox", build.ID, build.SandboxID)
	}
	for _, tpl := range tpls {
		if tpl.Name == build.Name || (tpl.BuildID != nil && id.BuildID(*tpl.BuildID).String() == build.ID) {
			t.Errorf("build %s (%s) left template %s (%s)", build.ID, build.Status, tpl.ID, tpl.Name)
		}
	}
}
