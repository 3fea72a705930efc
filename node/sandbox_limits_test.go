package node_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
)

// dfBlocks returns the 1K-block total and available of / inside sandbox id.
func dfBlocks(t *testing.T, a *api, id string) (total, avail int64) {
	t.Helper()
	out := a.sh(t, id, "df -k / | tail -n 1")
	f := strings.Fields(out)
	if len(f) < 4 {
		t.Fatalf("df: %q", out)
	}
	total, err1 := strconv.ParseInt(f[1], 10, 64)
	avail, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("df: %q", out)
	}
	return total, avail
}

// TestSandboxLimits: disk_size_mb is the filesystem size and filling it gives
// ENOSPC inside only; memory_mb and the pids limit kill inside the sandbox only.
func TestSandboxLimits(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)

	t.Run("disk size", func(t *testing.T) {
		t.Parallel()
		for _, mb := range []int64{1024, 3072} {
			sb := a.create(t, map[string]any{"disk_size_mb": mb})
			if sb.DiskSizeMB != int(mb) {
				t.Fatalf("disk_size_mb in the answer: %d, want %d", sb.DiskSizeMB, mb)
			}
			total, avail := dfBlocks(t, a, sb.ID)
			want := mb << 10
			t.Logf("disk_size_mb %d: df total %d KiB (%.1f%% of the request), available %d KiB", mb, total, 100*float64(total)/float64(want), avail)
			// ext4 metadata (inode tables, journal) is not in df's total:
			// images use 4 KiB blocks and an inode per 16 KiB, so 2-4%.
			if total > want || total < want*96/100 {
				t.Errorf("disk_size_mb %d: df shows %d KiB, want within 4%% below %d", mb, total, want)
			}
			// Root in a user namespace cannot use ext4's reserved blocks:
			// what it can write is what df calls available.
			if avail < want*95/100 {
				t.Errorf("disk_size_mb %d: only %d KiB available to the sandbox", mb, avail)
			}
		}
	})

	t.Run("fill the disk", func(t *testing.T) {
		t.Parallel()
		full := a.create(t, nil)
		other := a.create(t, nil)
		var before unix.Statfs_t
		if err := unix.Statfs(n.DataDir, &before); err != nil {
			t.Fatal(err)
		}
		res := a.exec(t, full.ID, "dd if=/dev/zero of=/fill bs=1M 2>&1; rc=$?; sync; exit $rc", 120)
		if res.ExitCode == 0 || !strings.Contains(res.Stdout, "No space left on device") {
			t.Fatalf("filling the disk: %+v", res)
		}
		if res := a.exec(t, full.ID, "dd if=/dev/zero of=/more bs=1M count=8", 10); res.ExitCode == 0 || !strings.Contains(res.Stderr, "No space left on device") {
			t.Fatalf("a write to a full disk: %+v", res)
		}
		r := a.do(t, "PUT", "/v1/sandboxes/"+full.ID+"/files?path=/upload.bin", make([]byte, 4<<20))
		if r.status != 507 || !strings.Contains(r.apiErr(t).Error.Message, "no space left") {
			t.Fatalf("an upload to a full disk: %s", r)
		}
		var after unix.Statfs_t
		if err := unix.Statfs(n.DataDir, &after); err != nil {
			t.Fatal(err)
		}
		// The host filesystem is shared with every other test running now,
		// so its free space is only reported; what the sandbox costs the
		// host is the space allocated to its disk file in the pool.
		hostUsed := (int64(before.Bavail) - int64(after.Bavail)) * before.Bsize
		disk := filepath.Join(n.DataDir, "pool", "snapshots", hostPrefix(t, n.DataDir)+"-"+full.ID+".img")
		var st unix.Stat_t
		if err := unix.Stat(disk, &st); err != nil {
			t.Fatalf("the full sandbox's disk file: %v", err)
		}
		used := st.Blocks * 512
		t.Logf("filling a 1024 MB sandbox disk took %d ms; its disk file holds %d MB (the host filesystem lost %d MB meanwhile, other tests included)", res.DurationMS, used>>20, hostUsed>>20)
		if used > 1100<<20 {
			t.Errorf("a 1024 MB sandbox disk holds %d MB of the host's pool", used>>20)
		}
		// The other sandbox and the full one still work.
		if out := a.sh(t, other.ID, "echo ok > /home/user/f && cat /home/user/f && dd if=/dev/zero of=/tmp/x bs=1M count=20 2>/dev/null && echo written"); out != "ok\nwritten\n" {
			t.Fatalf("the other sandbox: %q", out)
		}
		if out := a.sh(t, full.ID, "rm /fill && echo again > /more && cat /more"); out != "again\n" {
			t.Fatalf("the full sandbox after rm: %q", out)
		}
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		sb := a.create(t, map[string]any{"memory_mb": 128})
		// awk doubles a string until the cgroup's OOM killer ends it.
		res := a.exec(t, sb.ID, `awk 'BEGIN { s = "x"; while (1) s = s s }'`, 60)
		t.Logf("memory hog: exit %d after %d ms, stderr %q", res.ExitCode, res.DurationMS, res.Stderr)
		if res.ExitCode != 128+9 || res.TimedOut {
			t.Fatalf("allocating past memory_mb: %+v, want killed by SIGKILL (137)", res)
		}
		cg := filepath.Join("/sys/fs/cgroup/memory", "warren-"+hostPrefix(t, n.DataDir), sb.ID)
		if b, err := os.ReadFile(filepath.Join(cg, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(128<<20) {
			t.Fatalf("memory.limit_in_bytes: %q %v", b, err)
		}
		// memory.failcnt stays 0 on this kernel; the OOM kill counter is
		// the proof that the cgroup's own OOM killer acted.
		if b, err := os.ReadFile(filepath.Join(cg, "memory.oom_control")); err != nil || !strings.Contains(string(b), "oom_kill 1") {
			t.Fatalf("memory.oom_control: %q %v: want one OOM kill in the sandbox's cgroup", b, err)
		}
		if out := a.sh(t, sb.ID, "echo alive"); out != "alive\n" {
			t.Fatalf("after the OOM kill: %q", out)
		}
	})

	t.Run("fork bomb", func(t *testing.T) {
		t.Parallel()
		sb := a.create(t, nil)
		cg := filepath.Join("/sys/fs/cgroup/pids", "warren-"+hostPrefix(t, n.DataDir), sb.ID)
		if b, err := os.ReadFile(filepath.Join(cg, "pids.max")); err != nil || strings.TrimSpace(string(b)) != "1024" {
			t.Fatalf("pids.max: %q %v", b, err)
		}
		s := time.Now()
		res := a.exec(t, sb.ID, `bomb() { bomb | bomb & }; bomb`, 3)
		t.Logf("fork bomb exec: exit %d, timed_out %v, %d ms", res.ExitCode, res.TimedOut, res.DurationMS)
		time.Sleep(time.Second)
		b, err := os.ReadFile(filepath.Join(cg, "pids.events"))
		if err != nil || !strings.HasPrefix(string(b), "max ") || strings.TrimSpace(string(b)) == "max 0" {
			t.Fatalf("pids.events: %q %v: the pids limit was never hit", b, err)
		}
		cur, _ := os.ReadFile(filepath.Join(cg, "pids.current"))
		t.Logf("1 s later: pids.current %s, pids.events %q", strings.TrimSpace(string(cur)), strings.TrimSpace(string(b)))
		// The bomb's processes outlive its shell (the exec ended when the
		// shell did): kill them from inside, retrying while the sandbox is
		// at its pids limit and the agent cannot fork.
		deadline := time.Now().Add(20 * time.Second)
		statuses := map[int]int{}
		for {
			r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "kill -9 -1; sleep 0.2; ps -o pid | wc -l", "timeout_sec": 5})
			statuses[r.status]++
			var er execResult
			if r.status == 200 {
				r.decode(t, &er)
			}
			if n, err := strconv.Atoi(strings.TrimSpace(er.Stdout)); r.status == 200 && err == nil && n < 10 {
				break
			}
			if time.Now().After(deadline) {
				cur, _ := os.ReadFile(filepath.Join(cg, "pids.current"))
				t.Fatalf("20 s after the fork bomb: %s (pids.current %s)", r, cur)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("exec answers while cleaning up (status: count): %v", statuses)
		t.Logf("usable again %s after the bomb started", time.Since(s))
		if out := a.sh(t, sb.ID, "echo alive"); out != "alive\n" {
			t.Fatalf("after the fork bomb: %q", out)
		}
	})
}

// TestSandboxDiskReserve: a node whose disk pool is below its free-space
// reserve takes no new sandboxes, says why, and reports no free disk to the
// scheduler. (The reserve is set above any real disk here; the free space is
// the real statfs of the pool and the data dir.)
func TestSandboxDiskReserve(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, func(c *node.Config) { c.Limits.MinFreeDiskMB = 1 << 40 })
	a := newAPI(n)
	r := a.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base"})
	if r.status != 429 || r.apiErr(t).Error.Code != "capacity" || !strings.Contains(r.apiErr(t).Error.Message, "short of disk") {
		t.Fatalf("a create on a node below its disk reserve: %s", r)
	}
	var v struct {
		Nodes []struct {
			Capacity struct {
				DiskBytesFree int64 `json:"disk_bytes_free"`
			} `json:"capacity"`
		} `json:"nodes"`
	}
	a.do(t, "GET", "/v1/admin/nodes", nil).decode(t, &v)
	if len(v.Nodes) != 1 || v.Nodes[0].Capacity.DiskBytesFree != 0 {
		t.Fatalf("nodes view: %+v", v)
	}
	if left, _ := filepath.Glob(filepath.Join(n.DataDir, "sandboxes", "sb-*")); len(left) > 0 {
		t.Fatalf("a refused create left %v", left)
	}
}
