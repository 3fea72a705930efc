package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestBuildFailures runs the refused, failing and cancelled builds on one node.
func TestBuildFailures(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	c := newBClient(n)
	base := hostOf(t, n)
	t.Run("validation", func(t *testing.T) { buildValidation(t, n, c) })
	t.Run("fail and cancel", func(t *testing.T) { buildFailAndCancel(t, n, c, base) })
	t.Run("edges", func(t *testing.T) { buildEdges(t, n, c, base) })
}

// buildFailAndCancel: a failing step fails its build with the step's stderr in
// the logs and an error naming the step; a cancel during a long step ends the
// build within 2 s; neither leaves anything behind.
func buildFailAndCancel(t *testing.T, n *nodetest.Node, c *bclient, base nodeHost) {

	t.Run("failing step", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "broken", "disk_size_mb": 1024, "recipe": []string{
			"echo fine > /ok",
			"echo about-to-fail; echo 'no such thing: /missing' >&2; exit 3",
			"echo never > /never",
		}})
		b = c.finish(t, b.ID, "failed", 60*time.Second)
		if !strings.Contains(b.Error, "step 2") || !strings.Contains(b.Error, "code 3") {
			t.Errorf("error %q does not name step 2 and its exit code", b.Error)
		}
		if len(b.Logs) != 2 || b.CurrentStep != 2 || b.TotalSteps != 3 {
			t.Fatalf("logs %+v, current_step %d/%d; want 2 entries, step 2/3", b.Logs, b.CurrentStep, b.TotalSteps)
		}
		l := b.Logs[1]
		if l.Step != 2 || *l.ExitCode != 3 || *l.Stderr != "no such thing: /missing\n" || *l.Stdout != "about-to-fail\n" {
			t.Errorf("failed step's log: %+v (stdout %q, stderr %q)", l, *l.Stdout, *l.Stderr)
		}
		if b.SandboxID == "" || b.TemplateID != "" || b.FinishedAt == nil {
			t.Errorf("failed build: %+v", b)
		}
		requireNoLeftovers(t, n, base, b)
	})

	t.Run("cancel mid-step", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "sleepy", "disk_size_mb": 1024, "recipe": []string{"echo start", "sleep 60", "echo never"}})
		b = c.waitBuild(t, b.ID, 60*time.Second, "in step 2", func(b buildJSON) bool {
			return b.done() || (b.Status == "running" && b.CurrentStep == 1)
		})
		if b.done() {
			t.Fatalf("build ended before its sleep: %+v", b)
		}
		time.Sleep(300 * time.Millisecond) // well inside "sleep 60"
		t0 := time.Now()
		r := c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil)
		if r.status != 200 {
			t.Fatalf("cancel: %s", r)
		}
		var accepted buildJSON
		r.into(t, &accepted)
		if !accepted.CancelRequested || (accepted.Status != "running" && accepted.Status != "cancelled") {
			t.Errorf("cancel answer: %s", r)
		}
		b = c.waitBuild(t, b.ID, 10*time.Second, "ended", buildJSON.done)
		took := time.Since(t0)
		t.Logf("cancel to status %s: %s", b.Status, took)
		if b.Status != "cancelled" {
			t.Fatalf("status %s after cancel (error %q)", b.Status, b.Error)
		}
		if took > 2*time.Second {
			t.Errorf("cancel took %s, want at most 2s", took)
		}
		if b.CurrentStep != 1 {
			t.Errorf("current_step %d after a cancel in step 2", b.CurrentStep)
		}
		// A second cancel of an ended build is a conflict.
		if r := c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil); r.status != 409 {
			t.Errorf("cancel of a cancelled build: %s, want 409", r)
		}
		requireNoLeftovers(t, n, base, b)
	})

	t.Run("cancel queued", func(t *testing.T) {
		// The node has 2 workers: fill them, then cancel the third while queued.
		var long []buildJSON
		for _, name := range []string{"hog1", "hog2"} {
			long = append(long, c.submit(t, map[string]any{"name": name, "disk_size_mb": 1024, "recipe": []string{"sleep 60"}}))
		}
		q := c.submit(t, map[string]any{"name": "waiting", "disk_size_mb": 1024, "recipe": []string{"echo hi"}})
		r := c.call(t, "POST", "/v1/admin/builds/"+q.ID+"/cancel", nil)
		if r.status != 200 {
			t.Fatalf("cancel queued: %s", r)
		}
		for _, b := range append(long, q) {
			c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil)
		}
		all := append(long, q)
		for i, b := range all {
			all[i] = c.finish(t, b.ID, "cancelled", 20*time.Second)
		}
		for _, b := range all {
			requireNoLeftovers(t, n, base, b)
		}
	})
}
