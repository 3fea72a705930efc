package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// buildEdges: a healthcheck that never passes and a step past its timeout
// fail their builds with messages that say so and leave nothing behind; a
// step's output is kept to its last 64 KiB; a long recipe with long step
// timeouts (a build sandbox timeout past the sandbox limit) still builds.
func buildEdges(t *testing.T, n *nodetest.Node, c *bclient, base nodeHost) {

	t.Run("healthcheck never passes", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "unhealthy", "disk_size_mb": 1024, "recipe": []string{"true"},
			"start_cmd": "sleep 1000", "healthcheck": map[string]any{"cmd": "echo nope >&2; false", "interval_sec": 1, "retries": 1}})
		b = c.finish(t, b.ID, "failed", 60*time.Second)
		if !strings.HasPrefix(b.Error, "healthcheck ") || !strings.Contains(b.Error, "nope") {
			t.Errorf("error %q: want the healthcheck's failure", b.Error)
		}
		requireNoLeftovers(t, n, base, b)
	})

	t.Run("step timeout", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "slowstep", "disk_size_mb": 1024, "step_timeout_sec": 1,
			"recipe": []string{"echo before; sleep 30"}})
		b = c.finish(t, b.ID, "failed", 60*time.Second)
		if b.Error != "step 1 timed out after 1s" {
			t.Errorf("error %q", b.Error)
		}
		if len(b.Logs) != 1 || *b.Logs[0].Stdout != "before\n" || *b.Logs[0].ElapsedMS > 10_000 {
			t.Errorf("logs %+v", b.Logs)
		}
		requireNoLeftovers(t, n, base, b)
	})

	t.Run("output tail", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "chatty", "disk_size_mb": 1024,
			"recipe": []string{"i=0; while [ $i -lt 3000 ]; do echo line-$i-0123456789012345678901234567890123456789; i=$((i+1)); done; echo last >&2"}})
		b = c.finish(t, b.ID, "succeeded", 60*time.Second)
		r := c.call(t, "GET", "/v1/admin/builds/"+b.ID, nil)
		var raw struct {
			Logs []struct {
				Stdout          string `json:"stdout"`
				StdoutTruncated bool   `json:"stdout_truncated"`
				StderrTruncated bool   `json:"stderr_truncated"`
			}
		}
		r.into(t, &raw)
		l := raw.Logs[0]
		if len(l.Stdout) != 64<<10 || !l.StdoutTruncated || l.StderrTruncated || !strings.HasSuffix(l.Stdout, "line-2999-0123456789012345678901234567890123456789\n") {
			t.Errorf("stdout: %d bytes, truncated %v, ends %q", len(l.Stdout), l.StdoutTruncated, l.Stdout[max(0, len(l.Stdout)-60):])
		}
	})

	t.Run("binary output", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "binary", "disk_size_mb": 1024,
			"recipe": []string{`printf 'a\000b\377c\n'; printf 'e\000\n' >&2`}})
		b = c.finish(t, b.ID, "succeeded", 60*time.Second)
		// NUL and invalid UTF-8 are kept as U+FFFD (jsonb refuses \u0000).
		if l := b.Logs[0]; *l.Stdout != "a\uFFFDb\uFFFDc\n" || *l.Stderr != "e\uFFFD\n" {
			t.Errorf("logs of binary output: stdout %q, stderr %q", *l.Stdout, *l.Stderr)
		}
	})

	t.Run("cancel during the healthcheck", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "waiting-health", "disk_size_mb": 1024, "recipe": []string{"true"},
			"start_cmd": "sleep 1000", "healthcheck": map[string]any{"cmd": "false", "interval_sec": 1, "retries": 100}})
		c.waitBuild(t, b.ID, 60*time.Second, "past its steps", func(b buildJSON) bool { return b.CurrentStep == 1 || b.done() })
		time.Sleep(1500 * time.Millisecond)
		t0 := time.Now()
		if r := c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil); r.status != 200 {
			t.Fatalf("cancel: %s", r)
		}
		b = c.finish(t, b.ID, "cancelled", 10*time.Second)
		t.Logf("cancel during the healthcheck took %s", time.Since(t0))
		requireNoLeftovers(t, n, base, b)
	})

	t.Run("long step timeouts", func(t *testing.T) {
		recipe := make([]string, 30)
		for i := range recipe {
			recipe[i] = "true"
		}
		// 30 steps of up to 6 h: more than the 7 days a sandbox may live.
		b := c.submit(t, map[string]any{"name": "patient", "disk_size_mb": 1024, "step_timeout_sec": 6 * 3600, "recipe": recipe})
		b = c.finish(t, b.ID, "succeeded", 60*time.Second)
		if b.CurrentStep != 30 {
			t.Errorf("current_step %d", b.CurrentStep)
		}
	})
}
