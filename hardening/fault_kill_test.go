package hardening_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond every 5 ms for up to d and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// dirHas reports whether dir holds an entry starting with prefix.
func dirHas(dir, prefix string) bool {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}

// checkTemplates checks that every template row has its image in the pool
// and every image has a row, and that no half-written image remains.
func checkTemplates(t *testing.T, p *procNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := p.db.Query(ctx, "SELECT 'tpl-' || id::text FROM templates")
	if err != nil {
		t.Fatal(err)
	}
	var tpls []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		tpls = append(tpls, s)
	}
	rows.Close()
	var images []string
	ents, _ := os.ReadDir(filepath.Join(p.dataDir, "pool", "images"))
	for _, e := range ents {
		images = append(images, strings.TrimSuffix(e.Name(), ".img"))
	}
	bad := 0
	for _, tpl := range tpls {
		if !slices.Contains(images, tpl) {
			bad++
			t.Errorf("template row %s has no image in the pool", tpl)
		}
	}
	for _, img := range images {
		if !slices.Contains(tpls, img) {
			bad++
			t.Errorf("image %s has no template row", img)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(p.dataDir, "pool", "tmp")); len(tmp) > 0 {
		bad++
		t.Errorf("half-written images remain in the pool's tmp: %v", tmp)
	}
	tally.Rows(len(tpls), bad)
}

// liveRows returns the IDs of this node's sandboxes recorded creating,
// running or paused.
func liveRows(t *testing.T, p *procNode) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := p.db.Query(ctx, "SELECT 'sb-' || id::text, status FROM sandboxes WHERE status IN ('creating', 'running', 'paused')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		out[id] = st
	}
	return out
}

// restartClean restarts p after a SIGKILL and checks that the node removed
// what the kill left behind, and that it works.
func restartClean(t *testing.T, p *procNode, what string, base hostState, keep ...string) {
	t.Helper()
	prefix := hostPrefix(t, p.dataDir)
	p.start()
	checkNoLeaks(t, what, p.dataDir, prefix, base)
	for id, st := range liveRows(t, p) {
		if !slices.Contains(keep, id) {
			t.Errorf("%s: sandbox %s is still recorded %s after the restart", what, id, st)
		}
	}
	checkTemplates(t, p)
	c := p.client()
	sb := c.create(t, nil)
	survived := c.mustSh(t, sb, "echo after-"+strings.ReplaceAll(what, " ", "-")) == "after-"+strings.ReplaceAll(what, " ", "-")+"\n"
	if r := c.do(t, "DELETE", "/v1/sandboxes/"+sb, nil); r.status != 200 {
		t.Errorf("kill after restart: %s", r)
	}
	fault(t, what, survived && !t.Failed())
}

// TestFaultKillMidCreate SIGKILLs a node while it creates a sandbox, at
// three points of the create, and restarts it.
func TestFaultKillMidCreate(t *testing.T) {
	p := newProcNode(t)
	p.start()
	base := snapshotHost(t, p.dataDir, hostPrefix(t, p.dataDir))
	for _, delay := range []time.Duration{0, 40 * time.Millisecond, 150 * time.Millisecond} {
		c := p.client()
		answer := make(chan string, 1)
		go func() {
			r, err := c.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024})
			answer <- fmt.Sprint(r, err)
		}()
		sbDir := filepath.Join(p.dataDir, "sandboxes")
		if !waitFor(20*time.Second, func() bool { return dirHas(sbDir, "sb-") }) {
			select {
			case a := <-answer:
				t.Fatalf("the create never started: %s", a)
			default:
				t.Fatal("the create never started")
			}
		}
		time.Sleep(delay)
		at := snapshotHost(t, p.dataDir, hostPrefix(t, p.dataDir)).leaksSince(base)
		p.stop(syscall.SIGKILL)
		t.Logf("killed %s into the create, holding %v", delay, at)
		restartClean(t, p, "SIGKILL mid-create +"+delay.String(), base)
	}
}

// TestFaultKillMidBuild SIGKILLs a node while a build runs a step, and
// while it flattens the build's disk into an image.
func TestFaultKillMidBuild(t *testing.T) {
	p := newProcNode(t)
	p.start()
	base := snapshotHost(t, p.dataDir, hostPrefix(t, p.dataDir))
	c := p.client()
	for _, phase := range []string{"step", "flatten"} {
		recipe := []string{"sleep 3"}
		if phase == "flatten" {
			recipe = []string{"dd if=/dev/urandom of=/big bs=1M count=200 2>/dev/null"}
		}
		r := c.do(t, "POST", "/v1/admin/builds", map[string]any{"name": "killed-" + phase, "recipe": recipe, "disk_size_mb": 1024})
		if r.status != 201 {
			t.Fatalf("submit: %s", r)
		}
		var b struct{ ID string }
		r.decode(t, &b)
		var ok bool
		if phase == "step" {
			ok = waitFor(60*time.Second, func() bool {
				r, err := c.call("GET", "/v1/admin/builds/"+b.ID, nil)
				return err == nil && strings.Contains(string(r.body), `"status":"running"`) && dirHas(filepath.Join(p.dataDir, "sandboxes"), "sb-")
			})
			time.Sleep(500 * time.Millisecond)
		} else {
			ok = waitFor(90*time.Second, func() bool { return dirHas(filepath.Join(p.dataDir, "pool", "tmp"), "") })
		}
		if !ok {
			t.Fatalf("the build never reached its %s", phase)
		}
		p.stop(syscall.SIGKILL)
		restartClean(t, p, "SIGKILL mid-build "+phase, base)
		// The build ends (failed or re-run) instead of staying running.
		var st struct {
			Status, Error string
		}
		done := waitFor(120*time.Second, func() bool {
			r, err := c.call("GET", "/v1/admin/builds/"+b.ID, nil)
			if err != nil || r.status != 200 {
				return false
			}
			r.decode(t, &st)
			return st.Status == "failed" || st.Status == "succeeded" || st.Status == "cancelled"
		})
		t.Logf("build %s after the kill at its %s: %s %q", b.ID, phase, st.Status, st.Error)
		if !done {
			t.Errorf("build %s is still %s 2 minutes after the restart", b.ID, st.Status)
		}
		checkTemplates(t, p)
	}
}

// TestFaultKillMidSnapshot SIGKILLs a node while it copies a sandbox's disk
// into a template.
func TestFaultKillMidSnapshot(t *testing.T) {
	p := newProcNode(t)
	p.start()
	base := snapshotHost(t, p.dataDir, hostPrefix(t, p.dataDir))
	c := p.client()
	sb := c.create(t, nil)
	c.mustSh(t, sb, "dd if=/dev/urandom of=/big bs=1M count=200 2>/dev/null && sync")
	go func() {
		_, _ = c.call("POST", "/v1/sandboxes/"+sb+"/snapshots", map[string]string{"name": "killed-snapshot"})
	}()
	if !waitFor(60*time.Second, func() bool { return dirHas(filepath.Join(p.dataDir, "pool", "tmp"), "") }) {
		t.Fatal("the snapshot never started copying")
	}
	p.stop(syscall.SIGKILL)
	restartClean(t, p, "SIGKILL mid-snapshot", base)
	r := c.do(t, "GET", "/v1/templates", nil)
	if strings.Contains(string(r.body), "killed-snapshot") {
		t.Logf("the snapshot template is visible after the restart (its image was checked above)")
	}
	if r := c.do(t, "GET", "/v1/sandboxes/"+sb, nil); !strings.Contains(string(r.body), `"status":"lost"`) {
		t.Errorf("the snapshotted sandbox after the restart: %s", r)
	}
}
