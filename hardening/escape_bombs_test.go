package hardening_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// responsive checks, while stop is open, that the node answers /healthz and
// an exec in a bystander sandbox; it returns how many checks failed.
func responsive(t *testing.T, c *client, bystander string, stop <-chan struct{}) func() (checks, failed int64) {
	var n, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			n.Add(1)
			r, err := c.call("GET", "/healthz", nil)
			e, err2 := c.call("POST", "/v1/sandboxes/"+bystander+"/exec", map[string]any{"cmd": "echo alive", "timeout_sec": 20})
			if err != nil || r.status != 200 || err2 != nil || e.status != 200 || !strings.Contains(string(e.body), "alive") {
				bad.Add(1)
				t.Logf("node check failed: %v %v %v %v", r, err, e, err2)
			}
		}
	}()
	return func() (int64, int64) { wg.Wait(); return n.Load(), bad.Load() }
}

// TestEscapeBombs: a fork bomb, a memory bomb and a disk fill stay inside
// their sandbox; the node and a bystander sandbox keep working.
func TestEscapeBombs(t *testing.T) {
	n, c := startNode(t)
	prefix := hostPrefix(t, n.DataDir)
	bystander := c.create(t, nil)

	t.Run("fork bomb", func(t *testing.T) {
		sb := c.create(t, nil)
		stop := make(chan struct{})
		wait := responsive(t, c, bystander, stop)
		var maxPids int
		pidsMax := filepath.Join("/sys/fs/cgroup/pids", "warren-"+prefix, sb, "pids.current")
		done := make(chan execResult, 1)
		go func() {
			r, err := c.call("POST", "/v1/sandboxes/"+sb+"/exec", map[string]any{"cmd": "bomb() { bomb | bomb & }; bomb; sleep 8", "timeout_sec": 10})
			var res execResult
			if err == nil {
				_ = jsonUnmarshal(r.body, &res)
			}
			done <- res
		}()
		deadline := time.After(20 * time.Second)
	loop:
		for {
			select {
			case <-done:
				break loop
			case <-deadline:
				break loop
			case <-time.After(200 * time.Millisecond):
				if b, err := os.ReadFile(pidsMax); err == nil {
					maxPids = max(maxPids, atoiTrim(string(b)))
				}
			}
		}
		close(stop)
		checks, failed := wait()
		r := c.do(t, "DELETE", "/v1/sandboxes/"+sb, nil)
		t.Logf("fork bomb: up to %d tasks in its cgroup; %d/%d node checks failed; kill: %d", maxPids, failed, checks, r.status)
		attack(t, "bomb", "fork bomb", maxPids <= 1024 && failed == 0 && r.status == 200, maxPids, failed, r)
	})

	t.Run("memory bomb", func(t *testing.T) {
		sb := c.create(t, map[string]any{"memory_mb": 64})
		c.upload(t, sb, "/probe", probe(t), "0755")
		stop := make(chan struct{})
		wait := responsive(t, c, bystander, stop)
		r, err := c.call("POST", "/v1/sandboxes/"+sb+"/exec", map[string]any{"cmd": "/probe", "args": []string{"membomb", "2048"}, "timeout_sec": 30})
		close(stop)
		checks, failed := wait()
		maxUsage, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", "warren-"+prefix, sb, "memory.max_usage_in_bytes"))
		used := atoiTrim(string(maxUsage))
		t.Logf("memory bomb: exec %v %v; max usage %d MiB; %d/%d node checks failed", r, err, used>>20, failed, checks)
		attack(t, "bomb", "memory bomb", err == nil && !strings.Contains(string(r.body), "ESCAPED") && used <= 65<<20 && failed == 0, r, used)
	})

	t.Run("disk fill", func(t *testing.T) {
		sb := c.create(t, nil)
		var before, after unix.Statfs_t
		_ = unix.Statfs(filepath.Join(n.DataDir, "pool"), &before)
		var rootBefore, rootAfter unix.Statfs_t
		_ = unix.Statfs("/", &rootBefore)
		res := c.sh(t, sb, "dd if=/dev/zero of=/fill bs=1M 2>&1; df -m / | tail -1", 120)
		_ = unix.Statfs(filepath.Join(n.DataDir, "pool"), &after)
		_ = unix.Statfs("/", &rootAfter)
		poolUsed := (int64(before.Bavail) - int64(after.Bavail)) * before.Bsize
		rootUsed := (int64(rootBefore.Bavail) - int64(rootAfter.Bavail)) * rootBefore.Bsize
		t.Logf("disk fill: %q; pool grew %d MiB, host root fs %d MiB", res.Stdout, poolUsed>>20, rootUsed>>20)
		enospc := strings.Contains(res.Stdout, "No space left")
		other := c.sh(t, bystander, "echo ok > /after-fill && cat /after-fill", 20)
		attack(t, "bomb", "disk fill", enospc && poolUsed < 1100<<20 && other.Stdout == "ok\n", res, poolUsed, other)
		if out := c.sh(t, sb, "rm /fill && echo removed", 30); out.Stdout != "removed\n" {
			t.Errorf("the filled sandbox does not work after the fill: %+v", out)
		}
	})

	t.Run("4 KiB file name", func(t *testing.T) {
		sb := bystander
		long := strings.Repeat("n", 4096)
		for _, req := range []struct{ method, path string }{
			{"PUT", "/v1/sandboxes/" + sb + "/files?path=/tmp/" + long},
			{"GET", "/v1/sandboxes/" + sb + "/files?path=/tmp/" + long},
			{"GET", "/v1/sandboxes/" + sb + "/files/stat?path=/" + long[:300]},
			{"DELETE", "/v1/sandboxes/" + sb + "/files?path=/" + long},
		} {
			r := c.do(t, req.method, req.path, "x")
			badInput(t, "files", req.method+" 4 KiB name", r.status == 400 && r.errShape() && strings.Contains(string(r.body), `"field":"path"`), r)
		}
		r := c.do(t, "POST", "/v1/sandboxes/"+sb+"/files/mkdir", map[string]string{"path": "/" + long})
		badInput(t, "files", "mkdir 4 KiB name", r.status == 400 && r.errShape(), r)
		res := c.sh(t, sb, "touch /tmp/"+long[:4000], 10)
		attack(t, "bomb", "4 KiB name inside", res.ExitCode != 0, res)
	})

	t.Run("100k files", func(t *testing.T) {
		// 4 GiB: a 1 GiB ext4 has only 64k inodes.
		sb := c.create(t, map[string]any{"disk_size_mb": 4096})
		s := time.Now()
		if out := c.mustSh(t, sb, "mkdir /many && cd /many && seq 1 100000 | xargs touch && ls | wc -l"); strings.TrimSpace(out) != "100000" {
			t.Fatalf("made %s files, want 100000", out)
		}
		t.Logf("100k files made in %s", time.Since(s))
		stop := make(chan struct{})
		wait := responsive(t, c, bystander, stop)
		for _, q := range []string{"path=/many", "path=/&depth=10", "path=/many&depth=2"} {
			s := time.Now()
			r := c.do(t, "GET", "/v1/sandboxes/"+sb+"/files/list?"+q, nil)
			d := time.Since(s)
			var l struct {
				Items     []any
				Truncated bool
			}
			_ = jsonUnmarshal(r.body, &l)
			t.Logf("list %s: %d in %s, %d items, truncated %v, %d bytes", q, r.status, d, len(l.Items), l.Truncated, len(r.body))
			attack(t, "bomb", "list 100k files "+q, r.status == 200 && len(l.Items) <= 10000 && l.Truncated && d < 10*time.Second, r.status, len(l.Items), d)
		}
		close(stop)
		checks, failed := wait()
		attack(t, "bomb", "node responsive during 100k list", failed == 0, failed, checks)
		if r := c.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
			t.Fatalf("healthz after: %s", r)
		}
	})
}
